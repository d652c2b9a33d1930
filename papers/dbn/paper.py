"""Hinton, Osindero & Teh (2006): citation and the numbers the paper reports."""

from common.registry import Paper, Reported

BIBTEX = """@article{hinton2006fast,
  author  = {Hinton, Geoffrey E. and Osindero, Simon and Teh, Yee-Whye},
  title   = {A Fast Learning Algorithm for Deep Belief Nets},
  journal = {Neural Computation},
  volume  = {18},
  number  = {7},
  pages   = {1527--1554},
  year    = {2006},
  doi     = {10.1162/neco.2006.18.7.1527}
}"""

_TEST_ERROR = (
    "error rate on the 10,000 MNIST test images (permutation invariant): deterministic "
    "up-pass, then the label whose top-RBM free energy is lowest"
)
_NET = "784-500-500-2000 DBN with 10 label units joined to the top RBM"

FINAL = Reported(
    "test/error",
    0.0125,
    "Section 6, Table 1",
    _TEST_ERROR,
    f"{_NET}; greedy (30 epochs per layer) + 300 up-down epochs on 44,000 images, "
    "then 59 more epochs on all 60,000",
)
BEFORE_ALL_IMAGES = Reported(
    "test/error",
    0.0139,
    "Section 6",
    _TEST_ERROR,
    f"{_NET}; greedy + 300 up-down epochs on 44,000 images, best on validation",
)
GREEDY_ONLY = Reported(
    "test/error",
    0.0249,
    "Section 6",
    _TEST_ERROR,
    f"{_NET}; greedy layer-wise training only (30 epochs per layer), no up-down",
)

PAPER = Paper(
    name="dbn",
    title="A Fast Learning Algorithm for Deep Belief Nets",
    authors=("Geoffrey E. Hinton", "Simon Osindero", "Yee-Whye Teh"),
    year=2006,
    venue="Neural Computation 18(7)",
    citation_key="hinton2006fast",
    bibtex=BIBTEX,
    url="https://doi.org/10.1162/neco.2006.18.7.1527",
    doi="10.1162/neco.2006.18.7.1527",
    reported=(FINAL, BEFORE_ALL_IMAGES, GREEDY_ONLY),
    smoke_overrides=(
        "model.sizes=[64,32,32,64]",
        "model.greedy_epochs=1",
        "model.up_down_epochs=3",
        "model.generation_gibbs_steps=10",
        "model.samples_per_label=2",
    ),
)
