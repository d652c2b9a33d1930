"""Hochreiter & Schmidhuber (1997), "Long Short-Term Memory": metadata and reported numbers.

All numbers are the LSTM rows of Section 5 (online learning, one sequence per weight update; means
over the trials the paper names), plus the BPTT row of Table 2, which our ``tanh_rnn`` baseline
stands in for. Our metric keys:

- ``train/sequences_to_success``: training sequences presented until the experiment's stopping rule
  (``tasks.TaskSettings.stop``) held. ``train/sequences_to_st1``: the same for ST1 (Exp. 3a/3b).
- ``trials/success_rate``: percentage of trials that met the success criterion.
- ``test/wrong_predictions``: sequences of a 2560-sequence random test set processed incorrectly
  (``tasks.sequence_correct``) after training stopped.
- ``test/fraction_misclassified``: the same as a fraction (Tables 4-6).
- ``test/mean_abs_error``: mean absolute difference between output and target (Table 6: the
  noise-free target).
- ``test/mse``: Table 8's "MSE" of the test set (the paper does not define it further).
- ``test/mean_error``: the mean over test sequences of the error E (eq. (16), summed over a
  sequence's target steps; ``module.sequence_error``), the error ST3 bounds (Table 11).

Every ``Reported.setting`` starts with ``task=<id>`` (a key of ``tasks.SETTINGS``) and the variation
(``tasks.task_settings`` overrides, e.g. ``T=500``), then ``;`` and a description; use
:func:`reported_for_task` to select by them.
"""

from __future__ import annotations

from common.registry import Paper, Reported

BIBTEX = r"""@article{hochreiter1997long,
  author  = {Hochreiter, Sepp and Schmidhuber, J{\"u}rgen},
  title   = {Long Short-Term Memory},
  journal = {Neural Computation},
  volume  = {9},
  number  = {8},
  pages   = {1735--1780},
  year    = {1997},
  doi     = {10.1162/neco.1997.9.8.1735}
}"""

SEQUENCES = "training sequences until the stopping criterion held, mean over trials"
RATE = "percentage of trials that met the success criterion"
WRONG = "wrongly processed sequences of 2560 random test sequences after training, mean over trials"


def _setting(task: str, variation: str, description: str) -> str:
    return f"task={task}{' ' + variation if variation else ''}; {description}"


def _reber() -> list[Reported]:
    rows = [  # Table 1: blocks, cells per block, weights, learning rate, % success, sequences
        (4, 1, 264, 0.1, 100, 39_740),
        (3, 2, 276, 0.1, 100, 21_730),
        (3, 2, 276, 0.2, 97, 14_060),
        (4, 1, 264, 0.5, 97, 9_500),
        (3, 2, 276, 0.5, 100, 8_440),
    ]
    reported = []
    for blocks, size, weights, rate, success, sequences in rows:
        setting = _setting(
            "1",
            f"n_blocks={blocks} block_size={size} learning_rate={rate}",
            f"embedded Reber grammar, LSTM {blocks} blocks of {size}, {weights} weights; 30 trials",
        )
        reported += [
            Reported("trials/success_rate", success, "Table 1", RATE, setting),
            Reported("train/sequences_to_success", sequences, "Table 1", SEQUENCES, setting),
        ]
    return reported


def _long_lags() -> list[Reported]:
    lstm_2a = _setting("2a", "p=100", "LSTM 1 cell + input gate, 10504 weights, lr 1.0; 18 trials")
    bptt_2a = _setting(
        "2a",
        "p=100",
        "BPTT, one self-recurrent logistic hidden unit, 10404 "
        "weights, lr 1.0-10.0; no success within 5 million sequences",
    )
    lstm_2b = _setting("2b", "p=100", "LSTM as in 2a; 18 trials")
    reported = [
        Reported("trials/success_rate", 100, "Table 2", RATE, lstm_2a),
        Reported("train/sequences_to_success", 5_040, "Table 2", SEQUENCES, lstm_2a),
        Reported("trials/success_rate", 0, "Table 2", RATE, bptt_2a),
        Reported("trials/success_rate", 100, "Section 5.2 (Task 2b)", RATE, lstm_2b),
        Reported("train/sequences_to_success", 5_680, "Section 5.2 (Task 2b)", SEQUENCES, lstm_2b),
    ]
    for q, p, weights, sequences in [  # Table 3
        (50, 50, 364, 30_000),
        (100, 100, 664, 31_000),
        (200, 200, 1264, 33_000),
        (500, 500, 3064, 38_000),
        (1000, 1000, 6064, 49_000),
        (1000, 500, 3064, 49_000),
        (1000, 200, 1264, 75_000),
        (1000, 100, 664, 135_000),
        (1000, 50, 364, 203_000),
    ]:
        description = f"LSTM 2 blocks of 1, {weights} weights; 20 trials"
        setting = _setting("2c", f"q={q} p={p}", description)
        reported.append(
            Reported("train/sequences_to_success", sequences, "Table 3", SEQUENCES, setting)
        )
    return reported


def _two_sequence() -> list[Reported]:
    reported = []
    misclassified = "fraction of 2560 random test sequences with absolute error > 0.2 after ST2"
    for task, table, rows in [  # T, N, ST1, ST2, fraction misclassified; 102 weights, 10 trials
        (
            "3a",
            "Table 4",
            [
                (100, 3, 27_380, 39_850, 0.000195),
                (100, 1, 58_370, 64_330, 0.000117),
                (1000, 3, 446_850, 452_460, 0.000078),
            ],
        ),
        (
            "3b",
            "Table 5",
            [
                (100, 3, 41_740, 43_250, 0.00828),
                (100, 1, 74_950, 78_430, 0.01500),
                (1000, 1, 481_060, 485_080, 0.01207),
            ],
        ),
    ]:
        for T, N, st1, st2, fraction in rows:
            setting = _setting(task, f"T={T} N={N}", "LSTM 3 blocks of 1, 102 weights; 10 trials")
            reported += [
                Reported(
                    "train/sequences_to_st1",
                    st1,
                    table,
                    "training sequences until ST1 held, mean over trials",
                    setting,
                ),
                Reported(
                    "train/sequences_to_success",
                    st2,
                    table,
                    "training sequences until ST2 held, mean over trials",
                    setting,
                ),
                Reported("test/fraction_misclassified", fraction, table, misclassified, setting),
            ]
    for T, N, sequences, fraction, difference in [
        (100, 3, 269_650, 0.00558, 0.014),
        (100, 1, 565_640, 0.00441, 0.012),
    ]:  # Table 6
        setting = _setting("3c", f"T={T} N={N}", "LSTM 3 blocks of 1, 102 weights; 10 trials")
        reported += [
            Reported("train/sequences_to_success", sequences, "Table 6", SEQUENCES, setting),
            Reported(
                "test/fraction_misclassified",
                fraction,
                "Table 6",
                "fraction of 2560 random test sequences more than 0.1 from the noise-free target",
                setting,
            ),
            Reported(
                "test/mean_abs_error",
                difference,
                "Table 6",
                "mean absolute difference between output and noise-free target on the test set",
                setting,
            ),
        ]
    return reported


def _continuous() -> list[Reported]:
    reported = []
    for T, wrong, sequences in [(100, 1, 74_000), (500, 0, 209_000), (1000, 1, 853_000)]:
        setting = _setting("4", f"T={T}", "adding, LSTM 2 blocks of 2, 93 weights; 10 trials")
        reported += [
            Reported(
                "test/wrong_predictions", wrong, "Table 7", WRONG + " (|error| >= 0.04)", setting
            ),
            Reported("train/sequences_to_success", sequences, "Table 7", SEQUENCES, setting),
        ]
    for n_seq, wrong, mse, sequences in [(140, 139, 0.0223, 482_000), (13, 14, 0.0139, 1_273_000)]:
        setting = _setting(
            "5", f"T=100 n_seq={n_seq}", "multiplication, LSTM 2 blocks of 2, 93 weights; 10 trials"
        )
        reported += [
            Reported(
                "test/wrong_predictions", wrong, "Table 8", WRONG + " (|error| >= 0.04)", setting
            ),
            Reported(
                "test/mse",
                mse,
                "Table 8",
                "the test set's mean squared error as the paper reports it, mean over trials",
                setting,
            ),
            Reported("train/sequences_to_success", sequences, "Table 8", SEQUENCES, setting),
        ]
    return reported


def _temporal_order() -> list[Reported]:
    reported = []
    for task, description, wrong, sequences in [
        ("6a", "LSTM 2 blocks of 2, 156 weights; 20 trials", 1, 31_390),
        ("6b", "LSTM 3 blocks of 2, 308 weights; 10 trials", 2, 571_100),
    ]:
        setting = _setting(task, "", "temporal order, " + description)
        reported += [
            Reported(
                "test/wrong_predictions",
                wrong,
                "Table 9",
                WRONG + " (some output's |error| >= 0.3)",
                setting,
            ),
            Reported("train/sequences_to_success", sequences, "Table 9", SEQUENCES, setting),
        ]
    return reported


PAPER = Paper(
    name="lstm",
    title="Long Short-Term Memory",
    authors=("Sepp Hochreiter", "Jürgen Schmidhuber"),
    year=1997,
    venue="Neural Computation 9(8):1735-1780",
    citation_key="hochreiter1997long",
    bibtex=BIBTEX,
    url="https://doi.org/10.1162/neco.1997.9.8.1735",
    doi="10.1162/neco.1997.9.8.1735",
    reported=tuple(_reber() + _long_lags() + _two_sequence() + _continuous() + _temporal_order()),
    smoke_overrides=(
        "data.sequences_per_epoch=64",
        "data.val_size=32",
        "data.test_size=32",
    ),
    select_reported=lambda cfg: reported_for_run(cfg.task, dict(cfg.task_options or {})),
)


def reported_for_task(task: str, **variation: object) -> list[Reported]:
    """The reported numbers of experiment ``task`` whose variation includes ``variation``
    (e.g. ``reported_for_task("4", T=500)``, ``reported_for_task("2c", q=1000)``)."""
    wanted = {f"{key}={value}" for key, value in variation.items()}
    found = []
    for reported in PAPER.reported:
        head = reported.setting.split(";", 1)[0].split()
        if head[0] == f"task={task}" and wanted <= set(head[1:]):
            found.append(reported)
    return found


def reported_for_run(task: str | int, task_options: dict[str, object]) -> list[Reported]:
    """The reported numbers of the set-up a run uses: ``task`` with its default variation, updated
    by ``task_options`` (e.g. ``reported_for_run("4", {"T": 500})``). ``task`` may be an integer,
    as Hydra reads ``task=4``."""
    from papers.lstm.tasks import TASKS, variations  # torch: imported only when a run asks

    task = str(task)
    defaults = variations(task) if task in TASKS else {}  # "continual" reports no numbers
    variation = {**defaults, **task_options}
    return reported_for_task(task, **variation)
