"""Metadata and reported numbers of Goodfellow et al. 2014, "Generative Adversarial Nets".

Metric keys (what our runs log):
* ``test/parzen_ll``: mean Parzen-window log-likelihood (nats) of the MNIST test set under
  10,000 samples of the model, sigma chosen on validation (``papers.gan.parzen``);
* ``test/parzen_ll_se``: its standard error across test examples;
* ``test/parzen_ll_tfd``: the same on the Toronto Face Database (we do not run TFD).
* ``test/early_grad_norm_g``: mean norm of G's gradient over ``model.early_iterations``
  iterations from the first with mean D(G(z)) <= ``model.early_threshold``, which is logged as
  ``test/early_window_start`` (Section 3's claim, ``claims.py``);
* ``test/optimality_gap`` (Proposition 1) and ``test/modes_covered``,
  ``test/high_quality_share`` (the ring of Gaussians): ``toy_module.py``.
"""

from common.registry import Paper, Reported

BIBTEX = """@inproceedings{goodfellow2014generative,
  title     = {Generative Adversarial Nets},
  author    = {Goodfellow, Ian J. and Pouget-Abadie, Jean and Mirza, Mehdi and Xu, Bing and
               Warde-Farley, David and Ozair, Sherjil and Courville, Aaron and Bengio, Yoshua},
  booktitle = {Advances in Neural Information Processing Systems 27 (NIPS 2014)},
  pages     = {2672--2680},
  year      = {2014},
  note      = {arXiv:1406.2661}
}"""

_MNIST = (
    "Parzen-window log-likelihood (nats, higher is better): mean over the real-valued MNIST "
    "test set, standard error across examples; sigma cross-validated on the validation set"
)
_TFD = (
    "Parzen-window log-likelihood (nats, higher is better) on the Toronto Face Database: mean "
    "over folds, standard error across folds, sigma cross-validated on each fold's validation set"
)

# Table 1: (model, MNIST mean, MNIST s.e., TFD mean, TFD s.e.)
_TABLE_1 = (
    ("DBN", 138.0, 2.0, 1909.0, 66.0),
    ("Stacked CAE", 121.0, 1.6, 2110.0, 50.0),
    ("Deep GSN", 214.0, 1.1, 1890.0, 29.0),
    ("Adversarial nets", 225.0, 2.0, 2057.0, 26.0),
)


def _table_1() -> tuple[Reported, ...]:
    rows: list[Reported] = []
    for model, mnist, mnist_se, tfd, tfd_se in _TABLE_1:
        on_mnist, on_tfd = f"{model}, MNIST", f"{model}, TFD"
        other = {"baseline": "" if model == "Adversarial nets" else model}
        rows += [
            Reported(
                "test/parzen_ll", mnist, "Table 1", f"{_MNIST}; ± {mnist_se}", on_mnist, **other
            ),
            Reported(
                "test/parzen_ll_se", mnist_se, "Table 1", f"s.e. of {_MNIST}", on_mnist, **other
            ),
            Reported("test/parzen_ll_tfd", tfd, "Table 1", f"{_TFD}; ± {tfd_se}", on_tfd, **other),
        ]
    return tuple(rows)


def table_1(model: str, metric: str = "test/parzen_ll") -> Reported:
    """Table 1's entry of ``model`` ("Adversarial nets", "DBN", ...) for ``metric``."""
    (row,) = [r for r in PAPER.reported if r.setting == f"{model}, MNIST" and r.metric == metric]
    return row


PAPER = Paper(
    name="gan",
    title="Generative Adversarial Nets",
    authors=(
        "Ian J. Goodfellow",
        "Jean Pouget-Abadie",
        "Mehdi Mirza",
        "Bing Xu",
        "David Warde-Farley",
        "Sherjil Ozair",
        "Aaron Courville",
        "Yoshua Bengio",
    ),
    year=2014,
    venue="NIPS 2014",
    citation_key="goodfellow2014generative",
    bibtex=BIBTEX,
    url="https://arxiv.org/abs/1406.2661",
    arxiv="1406.2661",
    reported=_table_1(),
    smoke_overrides=(
        "model.generator.hidden_dims=[32,32]",
        "model.discriminator.num_units=[8,8]",
        "model.parzen.num_samples=200",
        "model.parzen.num_valid=50",
        "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1",
    ),
)
