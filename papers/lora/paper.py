"""Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models": citation and the
numbers the paper reports.

Our metric keys (``module.LoRAClassifier``): ``test/acc``, accuracy on the test split (SST-2:
GLUE's development set, the split Table 2 reports); ``test/trainable_parameters`` and
``test/lora_parameters`` (A and B alone, what the paper's "# Trainable Parameters" counts);
``test/latency_ratio_*`` (``bench.py``, Table 1's comparison at batch 1); Section 7's
``test/subspace_similarity`` (and ``_random``, with ``model.twin_rank``), ``test/projection_delta``,
``test/projection_weight``, ``test/projection_random`` and ``test/amplification`` (``subspace.py``).

Every ``Reported.setting`` starts with ``preset=<name>;``: a run's summary sets beside its
numbers only those of its own preset.
"""

from __future__ import annotations

from common.registry import Paper, Reported

BIBTEX = r"""@inproceedings{hu2022lora,
  title     = {{LoRA}: Low-Rank Adaptation of Large Language Models},
  author    = {Hu, Edward J. and Shen, Yelong and Wallis, Phillip and Allen-Zhu, Zeyuan and
               Li, Yuanzhi and Wang, Shean and Wang, Lu and Chen, Weizhu},
  booktitle = {International Conference on Learning Representations (ICLR 2022)},
  year      = {2022},
  url       = {https://openreview.net/forum?id=nZeVKeeFYf9},
  note      = {arXiv:2106.09685}
}"""

SST2 = "SST-2 accuracy (%) on GLUE's development set, median of 5 seeds, best epoch"


def _table_2() -> list[Reported]:
    rows = []
    for model, lora, full in (("RoBERTa-base", 95.1, 94.8), ("RoBERTa-large", 96.2, 96.4)):
        setting = f"preset=paper; {model}"
        rows.append(
            Reported("test/acc", lora / 100, "Table 2", SST2, f"{setting}, LoRA r = 8 on q, v")
        )
        rows.append(
            Reported("test/acc", full / 100, "Table 2", SST2, f"{setting}, fine-tuning", "FT")
        )
    rows.append(
        Reported(
            "test/lora_parameters",
            0.3e6,
            "Table 2",
            "trainable parameters of LoRA (A and B; the head not counted)",
            "preset=paper; RoBERTa-base, r = 8 on q, v of 12 layers",
        )
    )
    return rows


# Table 1: GPT-2 medium, one forward pass at batch 1 and 128 tokens (ms, 100 trials, RTX 8000):
# fine-tuned or LoRA 19.8 +/- 2.7, Adapter^H 25.8 (+30.3%).
TABLE_1 = (
    Reported(
        "test/latency_ratio_merged",
        1.0,
        "Table 1",
        "forward-pass time of merged LoRA over the base model's, batch 1, 128 tokens",
        "preset=bench; GPT-2 medium, RTX 8000, 100 trials (19.8 ms both)",
    ),
    Reported(
        "test/latency_ratio_adapter",
        25.8 / 19.8,
        "Table 1",
        "forward-pass time of Houlsby adapters over the base model's, batch 1, 128 tokens",
        "preset=bench; GPT-2 medium, Adapter^H, RTX 8000, 100 trials (25.8 / 19.8 ms)",
    ),
)

GPT3 = "GPT-3 175B validation accuracy (%), WikiSQL or MultiNLI-matched"
# Tables 5 and 6 (GPT-3, every layer): (table, adapted weights and rank, WikiSQL, MultiNLI-m)
_GPT3 = (
    ("Table 5", "W_q, r = 8", 70.4, 91.0),
    ("Table 5", "W_q, W_v, r = 4", 73.7, 91.3),
    ("Table 6", "W_q, W_v, r = 1", 73.4, 91.3),
    ("Table 6", "W_q, W_v, r = 8", 73.8, 91.6),
    ("Table 6", "W_q, W_v, r = 64", 73.5, 91.4),
)
TABLES_5_6 = tuple(
    Reported("test/acc", value / 100, table, GPT3, f"preset=gpt3; {weights}, {task}")
    for table, weights, wikisql, mnli in _GPT3
    for task, value in (("WikiSQL", wikisql), ("MNLI-m", mnli))
)
E2E = "BLEU on E2E NLG's test set, beam 10 (GPT-2 medium)"
TABLE_3 = (
    Reported("test/bleu", 70.4, "Table 3", E2E, "preset=e2e; LoRA r = 4 on W_q, W_v"),
    Reported("test/bleu", 68.2, "Table 3", E2E, "preset=e2e; fine-tuning", "FT"),
)

# Section 7 (GPT-3 175B, the 48th of 96 layers). Figure 3: the top direction of A_{r=8} and of
# A_{r=64} "share a subspace of dimension 1 with normalized similarity > 0.5" (W_q and W_v).
# Table 7, r = 4: ||U^T W_q V^T||_F = 0.32 with U, V the top directions of Delta W_q, 21.67 with
# W_q's own, 0.02 with a random matrix's; ||W_q||_F = 61.95, ||Delta W_q||_F = 6.91, so the
# amplification factor is 6.91 / 0.32, 21.5 as the text rounds it.
SECTION_7 = "GPT-3 175B, layer 48 of 96"
FIGURE_3 = Reported(
    "test/subspace_similarity",
    0.5,
    "Figure 3, Section 7.2",
    "phi(A_r=8, A_r=64, i = 1, j = 1), the top input directions' similarity (above this)",
    f"preset=gpt3; {SECTION_7}, W_q and W_v",
)
TABLE_7 = tuple(
    Reported(f"test/{metric}", value, "Table 7", words, f"preset=gpt3; {SECTION_7}, W_q, r = 4")
    for metric, value, words in (
        ("projection_delta", 0.32, "||U^T W_q V^T||_F, U and V the top-r directions of Delta W_q"),
        ("projection_weight", 21.67, "||U^T W_q V^T||_F, U and V the top-r directions of W_q"),
        ("projection_random", 0.02, "||U^T W_q V^T||_F, U and V those of a random matrix"),
        ("amplification", 21.5, "||Delta W_q||_F / ||U^T W_q V^T||_F (Delta W_q's U, V)"),
    )
)

REPORTED = (*_table_2(), *TABLE_1, *TABLES_5_6, *TABLE_3, FIGURE_3, *TABLE_7)


def gpt3_words(*weights: str) -> str:
    """Tables 5 and 6's WikiSQL / MultiNLI-m accuracies for the given settings, in words."""
    parts = []
    for w in weights:
        wikisql, mnli = (
            reported("test/acc", "gpt3", setting=f"{w}, {t}") for t in ("WikiSQL", "MNLI")
        )
        parts.append(f"{w}: {wikisql.value:.1%} / {mnli.value:.1%}")
    return "GPT-3 on WikiSQL / MNLI-m: " + "; ".join(parts)


def reported(metric: str, preset: str, baseline: str = "", setting: str = "") -> Reported:
    return PAPER.one(metric, preset, baseline, setting)


PAPER = Paper(
    name="lora",
    title="LoRA: Low-Rank Adaptation of Large Language Models",
    authors=(
        "Edward J. Hu",
        "Yelong Shen",
        "Phillip Wallis",
        "Zeyuan Allen-Zhu",
        "Yuanzhi Li",
        "Shean Wang",
        "Lu Wang",
        "Weizhu Chen",
    ),
    year=2022,
    venue="ICLR 2022",
    citation_key="hu2022lora",
    bibtex=BIBTEX,
    url="https://openreview.net/forum?id=nZeVKeeFYf9",
    arxiv="2106.09685",
    reported=REPORTED,
    smoke_overrides=(
        "data.train_size=32",
        "data.val_size=16",
        "data.test_size=16",
        "trainer.max_epochs=1",
    ),
    select_reported=lambda cfg: PAPER.of_preset(cfg.preset.name),
)
