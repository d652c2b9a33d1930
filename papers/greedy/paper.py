"""Bengio, Lamblin, Popovici & Larochelle (2007): citation and the numbers the paper reports."""

from common.registry import Paper, Reported

BIBTEX = """@inproceedings{bengio2007greedy,
  author    = {Bengio, Yoshua and Lamblin, Pascal and Popovici, Dan and Larochelle, Hugo},
  title     = {Greedy Layer-Wise Training of Deep Networks},
  booktitle = {Advances in Neural Information Processing Systems 19 (NIPS 2006)},
  editor    = {Sch{\\"o}lkopf, B. and Platt, J. and Hoffman, T.},
  pages     = {153--160},
  publisher = {MIT Press},
  year      = {2007}
}"""

_MNIST_ERROR = "classification error rate on the MNIST test set"
_EXPERIMENTS = {
    2: "MNIST, Experiment 2 (3 hidden layers of 500-1000 units)",
    3: "MNIST, Experiment 3 (3 hidden layers, the top one of 20 units)",
}
# Table 2 test errors: (initialisation, Experiment 2, Experiment 3).
_TABLE_2 = (
    ("dbn", 0.012, 0.015),
    ("autoassociator", 0.014, 0.016),
    ("supervised", 0.020, 0.019),
    ("none", 0.024, 0.022),
    ("shallow", 0.019, 0.050),
)
# Table 1 test numbers: (row, model, Abalone test MSE, Cotton test error).
_TABLE_1 = (
    (1, "deep net, no pre-training", 4.2, 0.430),
    (3, "DBN, binomial inputs, unsupervised", 4.47, 0.450),
    (4, "DBN, binomial inputs, partially supervised", 4.28, 0.437),
    (5, "DBN, Gaussian inputs, unsupervised", 4.19, 0.358),
    (6, "DBN, Gaussian inputs, partially supervised", 4.18, 0.314),
)


def _table_2() -> tuple[Reported, ...]:
    rows = []
    for initialisation, *errors in _TABLE_2:
        for experiment, error in zip((2, 3), errors, strict=True):
            rows.append(
                Reported(
                    "test/error",
                    error,
                    "Table 2",
                    _MNIST_ERROR,
                    f"{_EXPERIMENTS[experiment]}, initialisation={initialisation}",
                )
            )
    rows.append(
        Reported(
            "train/error",
            0.0059,
            "Table 2",
            "classification error rate on the MNIST training set",
            f"{_EXPERIMENTS[3]}, initialisation=none",
        )
    )
    return tuple(rows)


def _table_1() -> tuple[Reported, ...]:
    """Abalone and Cotton have keys of their own: this package trains on digit images only, so
    no run of ours measures them (papers/greedy/README.md)."""
    rows = []
    for row, model, abalone, cotton in _TABLE_1:
        rows.append(
            Reported(
                "test/abalone_mse",
                abalone,
                "Table 1",
                "mean squared error on the 1,000 Abalone test examples",
                f"Abalone (UCI), 2 hidden layers, row {row}: {model}",
            )
        )
        rows.append(
            Reported(
                "test/cotton_error",
                cotton,
                "Table 1",
                "classification error rate on the 1,000 Cotton test examples",
                f"Cotton futures, 2 hidden layers, row {row}: {model}",
            )
        )
    return tuple(rows)


PAPER = Paper(
    name="greedy",
    title="Greedy Layer-Wise Training of Deep Networks",
    authors=("Yoshua Bengio", "Pascal Lamblin", "Dan Popovici", "Hugo Larochelle"),
    year=2007,
    venue="NIPS 19 (2006)",
    citation_key="bengio2007greedy",
    bibtex=BIBTEX,
    url="https://papers.nips.cc/paper/3048-greedy-layer-wise-training-of-deep-networks",
    reported=_table_2() + _table_1(),
    smoke_overrides=("model.width=16", "model.pretrain_epochs=1"),
    select_reported=lambda cfg: (
        []
        if cfg.model.task == "regression"
        else reported_for_run(cfg.model.init, cfg.model.table_2_column)
    ),
)


def reported_for_run(initialisation: str, experiment: int) -> list[Reported]:
    """The Table 2 cells of one row (initialisation) and one experiment."""
    setting = f"{_EXPERIMENTS[experiment]}, initialisation={initialisation}"
    return [r for r in PAPER.reported if r.setting == setting]


def table_2(initialisation: str, experiment: int = 2, metric: str = "test/error") -> Reported:
    """One Table 2 cell: the row ``initialisation``, the column of ``experiment``."""
    (cell,) = [r for r in reported_for_run(initialisation, experiment) if r.metric == metric]
    return cell


def table_1(row: int, metric: str) -> Reported:
    """One Table 1 cell: ``row`` (1-6) for ``test/abalone_mse`` or ``test/cotton_error``."""
    (cell,) = [r for r in PAPER.reported if r.metric == metric and f"row {row}:" in r.setting]
    return cell
