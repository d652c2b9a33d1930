"""Krizhevsky, Sutskever & Hinton (2012): citation and the numbers the paper reports."""

from common.registry import Paper, Reported

BIBTEX = """@inproceedings{krizhevsky2012imagenet,
  author    = {Krizhevsky, Alex and Sutskever, Ilya and Hinton, Geoffrey E.},
  title     = {ImageNet Classification with Deep Convolutional Neural Networks},
  booktitle = {Advances in Neural Information Processing Systems 25 (NIPS 2012)},
  pages     = {1097--1105},
  year      = {2012}
}"""

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
    smoke_overrides=("trainer.max_epochs=1",),
)
