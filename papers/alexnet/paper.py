"""Krizhevsky, Sutskever & Hinton (2012): citation and the numbers the paper reports."""

from common.registry import Paper, Reported

BIBTEX = """@inproceedings{krizhevsky2012imagenet,
  author    = {Krizhevsky, Alex and Sutskever, Ilya and Hinton, Geoffrey E.},
  title     = {ImageNet Classification with Deep Convolutional Neural Networks},
  booktitle = {Advances in Neural Information Processing Systems 25 (NIPS 2012)},
  pages     = {1097--1105},
  year      = {2012}
}"""

# Section 3.3: the four-layer CIFAR-10 net's test error without and with normalisation.
FOUR_LAYER = {
    lrn: Reported(
        "test/error",
        error,
        "Section 3.3",
        "test error rate of a four-layer CNN on CIFAR-10",
        f"four-layer CIFAR-10 net {'with' if lrn else 'without'} normalisation",
    )
    for lrn, error in ((False, 0.13), (True, 0.11))
}


def select_reported(cfg) -> tuple[Reported, ...]:
    """Section 3.3's CIFAR-10 number for the four-layer net; none for the scaled AlexNet on
    CIFAR-10 (the paper reports no such number); the ImageNet tables otherwise."""
    if cfg.model.get("architecture") == "four_layer":
        return (FOUR_LAYER[bool(cfg.model.four_layer.lrn)],)
    if cfg.data.get("dataset") == "cifar10":
        return ()
    return PAPER.reported


PAPER = Paper(
    name="alexnet",
    title="ImageNet Classification with Deep Convolutional Neural Networks",
    authors=("Alex Krizhevsky", "Ilya Sutskever", "Geoffrey E. Hinton"),
    year=2012,
    venue="NIPS 2012",
    citation_key="krizhevsky2012imagenet",
    bibtex=BIBTEX,
    url="https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks",
    doi="10.1145/3065386",  # the Communications of the ACM reprint (2017)
    reported=(
        Reported(
            "test/error",
            0.407,
            "Table 2",
            "top-1 error rate on the ILSVRC-2012 validation set, 10-patch test",
            "1 CNN on ILSVRC-2012",
        ),
        Reported(
            "test/top5_error",
            0.182,
            "Table 2",
            "top-5 error rate on the ILSVRC-2012 validation set, 10-patch test",
            "1 CNN on ILSVRC-2012",
        ),
        Reported(
            "test/error",
            0.375,
            "Table 1",
            "top-1 error rate on the ILSVRC-2010 test set, 10-patch test",
            "1 CNN on ILSVRC-2010",
        ),
        Reported(
            "test/top5_error",
            0.170,
            "Table 1",
            "top-5 error rate on the ILSVRC-2010 test set, 10-patch test",
            "1 CNN on ILSVRC-2010",
        ),
    ),
    select_reported=select_reported,
    smoke_overrides=("trainer.max_epochs=1",),
)
