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
SECTION_3_3 = {
    lrn: Reported(
        "test/error",
        error,
        "Section 3.3",
        "test error rate of a four-layer CNN on CIFAR-10",
        f"cuda-convnet's conv-local CIFAR-10 net {'with' if lrn else 'without'} normalisation",
    )
    for lrn, error in ((False, 0.13), (True, 0.11))
}


def _imagenet(metric: str, value: float, table: str, split: str, setting: str) -> Reported:
    kind = "top-1" if metric == "test/error" else "top-5"
    return Reported(
        metric, value, table, f"{kind} error rate on the {split}, 10-patch test", setting
    )


TABLE_2 = {  # 1 CNN on ILSVRC-2012
    "top1": _imagenet(
        "test/error", 0.407, "Table 2", "ILSVRC-2012 validation set", "1 CNN on ILSVRC-2012"
    ),
    "top5": _imagenet(
        "test/top5_error", 0.182, "Table 2", "ILSVRC-2012 validation set", "1 CNN on ILSVRC-2012"
    ),
}
TABLE_1 = {  # 1 CNN on ILSVRC-2010
    "top1": _imagenet(
        "test/error", 0.375, "Table 1", "ILSVRC-2010 test set", "1 CNN on ILSVRC-2010"
    ),
    "top5": _imagenet(
        "test/top5_error", 0.170, "Table 1", "ILSVRC-2010 test set", "1 CNN on ILSVRC-2010"
    ),
}

# Numbers the claims test that are no single run's metric (a ratio or a difference between two
# networks): claims.py refers to them; a run's summary never sets them beside its own numbers.
RELU_SPEEDUP = Reported(
    "train/epochs_to_target",
    6.0,
    "Figure 1",
    "how many times sooner the four-layer net with ReLUs reaches 25% training error on CIFAR-10 "
    "than with tanh units",
    "four-layer CIFAR-10 net, ReLU against tanh",
)
RELU_TARGET_ERROR = Reported(
    "train/error", 0.25, "Figure 1", "the training error both nets are timed to", "four-layer net"
)
OVERLAP_GAIN = {
    "top1": Reported(
        "test/error",
        0.004,
        "Section 3.4",
        "top-1 error lowered by overlapping pooling (z=3, s=2 against z=s=2)",
        "AlexNet on ILSVRC",
    ),
    "top5": Reported(
        "test/top5_error",
        0.003,
        "Section 3.4",
        "top-5 error lowered by overlapping pooling",
        "AlexNet on ILSVRC",
    ),
}
MIDDLE_LAYER_LOSS = Reported(
    "test/error",
    0.02,
    "Section 7",
    "about how much the top-1 error rises when any middle convolutional layer is removed",
    "AlexNet on ILSVRC",
)


def select_reported(cfg) -> tuple[Reported, ...]:
    """Section 3.3's CIFAR-10 number for its net (conv_local); none for Figure 1's net or the
    scaled AlexNet on CIFAR-10 (the paper reports no such number); the ImageNet tables
    otherwise."""
    if cfg.model.get("network") == "conv_local":
        return (SECTION_3_3[bool(cfg.model.conv_local.lrn)],)
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
    reported=(TABLE_2["top1"], TABLE_2["top5"], TABLE_1["top1"], TABLE_1["top5"]),
    select_reported=select_reported,
    smoke_overrides=("trainer.max_epochs=1",),
)
