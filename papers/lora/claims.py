"""The claims of Hu et al. 2021 that ``scripts/reproduce.py paper=lora`` checks.

At paper scale (RoBERTa on GLUE, GPT-2 on E2E) nothing runs here: no pretrained RoBERTa or GPT-2
weights and no GLUE or E2E training data are on this machine; those claims give their commands
(``experiment=lora/paper``, ``experiment=lora/e2e``), whose code paths the tests run on tiny models
saved in the same formats.
What runs is SST-2 on the offline MiniLM (a 6-layer BERT): LoRA against full fine-tuning and
against training the head alone (Table 2's comparison), the rank (Table 6) and which weights to
adapt at an equal budget (Table 5), all at a budget of 1 epoch of 8,000 sentences; and Table 1's
latency at batch 1.
"""

from __future__ import annotations

from common.claims import Arm, AtLeast, AtMost, Claim, Higher, NotWorse
from papers.lora.paper import FIGURE_3, TABLE_1, TABLE_3, TABLE_7, gpt3_words, reported

SST2 = ("experiment=lora/sst2",)
# Full fine-tuning as the paper's FT rows were tuned (RoBERTa's GLUE recipe: AdamW, warm-up 6%,
# linear decay, a rate from 1e-5 to 3e-5 for 125M parameters); for the 22.7M-parameter MiniLM and
# 1 epoch we take BERT's usual top rate, 5e-5.
FULL = Arm("full", ("model.method=full", "model.lr=5e-5"))
HEAD = Arm("head", ("model.method=head",))  # the head alone on frozen features, at LoRA's rate
LORA = Arm("lora")  # r = 8 on W_q and W_v, alpha 8: Table 9's SST-2 settings
MINUTES = 2.0  # per run of the SST-2 budget on one of this machine's cores, measured 2026-12-03

ROBERTA = reported("test/acc", "paper", setting="RoBERTa-base, LoRA")
ROBERTA_FT = reported("test/acc", "paper", baseline="FT", setting="RoBERTa-base")
LATENCY = (
    "experiment=lora/quick",
    "trainer.max_steps=50",  # what is timed is the architecture: a short training suffices
    "model.latency_trials=100",  # Table 1's 100 trials
)


# LoRA on this project's Transformer (translation.py): each arm's constant Adam rate chosen on the
# development loss from a grid, seed 0 (the README gives the grid).
ADAPT = ("experiment=lora/transformer",)
ADAPT_LORA = Arm("lora", ("model.lr=3e-3",))
ADAPT_FULL = Arm("full", ("model.method=full", "model.lr=3e-3"))
TABLE_7_RUN = (*SST2, "model.r=4")  # Table 7's smaller rank
PROJECTION = {r.metric: r for r in TABLE_7}


def table_7_words(*metrics: str) -> str:
    return "; ".join(f"{m.removeprefix('test/')} {PROJECTION[m].value:.3g}" for m in metrics) + (
        f" ({TABLE_7[0].setting.split('; ', 1)[1]})"
    )


def table_1_words() -> str:
    merged, adapter = TABLE_1
    return f"{merged.setting.split('; ', 1)[1]}; Adapter^H {adapter.value:.2f} times as long"


CLAIMS = (
    Claim(
        id="table2-roberta-sst2",
        statement=(
            f"LoRA (r = 8 on W_q, W_v: 0.3M parameters) on RoBERTa-base reaches "
            f"{ROBERTA.value:.1%} on SST-2, as good as full fine-tuning of its 125M parameters "
            f"({ROBERTA_FT.value:.1%})"
        ),
        source="Table 2",
        paper=f"LoRA {ROBERTA.value:.1%}, FT {ROBERTA_FT.value:.1%}; {ROBERTA.definition}",
        measure="test/acc",
        rule=NotWorse("lora", "full", margin=0.005),
        arms=(LORA, Arm("full", ("model.method=full", "model.lr=2e-5"))),
        not_run_here=(
            "needs RoBERTa-base's weights (a download) and GLUE's SST-2, and a GPU for 60 "
            "epochs: `python scripts/train.py experiment=lora/paper trainer=gpu` over 5 seeds "
            "(seed=0..4), the median of each run's best epoch; full fine-tuning with "
            "model.method=full model.lr=2e-5 trainer.max_epochs=10"
        ),
        reported=(ROBERTA, ROBERTA_FT),
    ),
    Claim(
        id="table3-gpt2-e2e",
        statement="LoRA on GPT-2 medium beats full fine-tuning on E2E NLG (test BLEU)",
        source="Table 3",
        paper=f"LoRA {TABLE_3[0].value:g}, FT {TABLE_3[1].value:g}; {TABLE_3[0].definition}",
        measure="test/bleu",
        rule=Higher("lora", "full"),
        arms=(Arm("lora"), Arm("full", ("model.method=full",))),
        overrides=("experiment=lora/e2e", "trainer=gpu"),
        reported=TABLE_3,
        not_run_here=(
            "needs GPT-2 medium's weights (a download), E2E's training split (train.txt, not on "
            "this machine: the data directory holds valid.txt and test.txt) and a GPU for 5 "
            "epochs of 42,061 references: `python scripts/train.py experiment=lora/e2e "
            "trainer=gpu` over 3 seeds (seed=0..2), and `model.method=full` for the FT row; "
            "data.base=gpt2-large for the L rows. The run writes e2e_pred.txt and e2e_ref.txt for "
            "the challenge's measure_scores.py (NIST, METEOR, ROUGE-L, CIDEr)"
        ),
    ),
    Claim(
        id="sst2-lora-vs-full",
        statement=(
            "on SST-2, LoRA r = 8 on W_q and W_v of MiniLM (under 1% of its parameters trained, "
            "the head included) is within a point of full fine-tuning, at 1 epoch of 8,000 "
            "sentences"
        ),
        source="Table 2 at small scale",
        paper=f"RoBERTa-base: LoRA {ROBERTA.value:.1%}, FT {ROBERTA_FT.value:.1%}",
        measure="test/acc",
        rule=NotWorse("lora", "full", margin=0.01),
        arms=(LORA, FULL),
        overrides=SST2,
        baselines=("papers.lora.baselines:tfidf_logistic_regression",),
        minutes=MINUTES,
        reported=(ROBERTA, ROBERTA_FT),
    ),
    Claim(
        id="sst2-lora-vs-head",
        statement=(
            "the adapter is worth having: LoRA beats training the head alone on frozen MiniLM "
            "features (the sceptic's baseline), on SST-2 at the same budget"
        ),
        source="Section 4 (beyond the paper)",
        paper="no number: the paper compares with full fine-tuning, BitFit and adapters",
        measure="test/acc",
        rule=Higher("lora", "head", min_gap=0.01),
        arms=(LORA, HEAD),
        overrides=SST2,
        minutes=MINUTES,
    ),
    Claim(
        id="table6-rank-1",
        statement=(
            "a rank as small as 1 on W_q and W_v is about as good as r = 8 (at most a point "
            "below, alpha kept at 8 as the paper keeps it)"
        ),
        source="Table 6, Section 7.2",
        paper=gpt3_words("W_q, W_v, r = 1", "W_q, W_v, r = 8"),
        measure="test/acc",
        rule=NotWorse("r1", "r8", margin=0.01),
        arms=(Arm("r1", ("model.r=1",)), Arm("r8")),
        overrides=SST2,
        minutes=MINUTES,
    ),
    Claim(
        id="table6-rank-64",
        statement="r = 8 on W_q and W_v is as good as r = 64 (at most a point below)",
        source="Table 6, Section 7.2",
        paper=gpt3_words("W_q, W_v, r = 8", "W_q, W_v, r = 64"),
        measure="test/acc",
        rule=NotWorse("r8", "r64", margin=0.01),
        arms=(Arm("r8"), Arm("r64", ("model.r=64",))),
        overrides=SST2,
        minutes=MINUTES,
    ),
    Claim(
        id="table5-qv-vs-q",
        statement=(
            "at an equal parameter budget, adapting W_q and W_v at r = 8 beats adapting W_q "
            "alone at r = 16"
        ),
        source="Table 5, Section 7.1",
        paper="18M parameters each; " + gpt3_words("W_q, W_v, r = 4", "W_q, r = 8"),
        measure="test/acc",
        rule=Higher("qv", "q"),
        arms=(Arm("qv"), Arm("q", ("model.targets=[query]", "model.r=16"))),
        overrides=SST2,
        minutes=MINUTES,
    ),
    Claim(
        id="table1-merged-no-latency",
        statement=(
            "merged LoRA adds no latency: a forward pass at batch 1 (128 tokens) takes at most "
            "2% longer than the base model's"
        ),
        source="Table 1, Section 4.1",
        paper=table_1_words(),
        measure="test/latency_ratio_merged",
        rule=AtMost(limit=1.02, partly=1.05),
        arms=(Arm("merged"),),
        overrides=LATENCY,
        minutes=1.0,
        reported=(TABLE_1[0],),
    ),
    Claim(
        id="table1-adapter-latency",
        statement=(
            "Houlsby adapters of about LoRA's size (which cannot be merged) make the batch-1 "
            "forward pass slower than merged LoRA"
        ),
        source="Table 1, Section 3",
        paper=table_1_words(),
        measure="test/latency_ratio_adapter",
        rule=Higher("adapter", "merged", paired=True),
        arms=(Arm("adapter"), Arm("merged", measure="test/latency_ratio_merged")),
        overrides=LATENCY,
        minutes=1.0,
        reported=(TABLE_1[1],),
    ),
    Claim(
        id="table1-unmerged-latency",
        statement="unmerged LoRA (the extra B A x branch) is slower at batch 1 than merged LoRA",
        source="Section 4.1",
        paper="no number: the paper merges to avoid the extra matrix products",
        measure="test/latency_ratio_unmerged",
        rule=Higher("unmerged", "merged", paired=True),
        arms=(Arm("unmerged"), Arm("merged", measure="test/latency_ratio_merged")),
        overrides=LATENCY,
        minutes=1.0,
    ),
    Claim(
        id="section7-top-direction",
        statement=(
            "adapters of rank 8 and 64, each trained on its own copy of the base for the same "
            "task, share their top input direction: phi(A_8, A_64, 1, 1) above 0.5 (mean over "
            "the adapted W_q and W_v)"
        ),
        source="Section 7.2, Figure 3",
        paper=f"phi > {FIGURE_3.value:g}; {FIGURE_3.setting.split('; ', 1)[1]}",
        measure="test/subspace_similarity",
        rule=AtLeast("r8-vs-r64", target=FIGURE_3.value, partly=0.1),
        arms=(Arm("r8-vs-r64"), Arm("random", measure="test/subspace_similarity_random")),
        overrides=(*SST2, "model.twin_rank=64"),  # both adapters in one run, on the same batches
        minutes=2 * MINUTES,
        reported=(FIGURE_3,),
    ),
    Claim(
        id="table7-not-w-directions",
        statement=(
            "Delta W_q does not repeat W_q's top directions: W_q seen along Delta W_q's top-r "
            "directions is at least 10 times smaller than along its own (r = 4)"
        ),
        source="Table 7, Section 7.3",
        paper=table_7_words("test/projection_weight", "test/projection_delta"),
        measure="test/projection_weight",
        rule=Higher("weight", "delta", factor=10.0, paired=True),
        arms=(Arm("weight"), Arm("delta", measure="test/projection_delta")),
        overrides=TABLE_7_RUN,
        minutes=MINUTES,
        reported=TABLE_7[:2],
    ),
    Claim(
        id="table7-above-random",
        statement=(
            "yet Delta W_q is related to W_q: W_q seen along Delta W_q's top-r directions is "
            "larger than along a random matrix's (r = 4)"
        ),
        source="Table 7, Section 7.3",
        paper=table_7_words("test/projection_delta", "test/projection_random"),
        measure="test/projection_delta",
        rule=Higher("delta", "random", paired=True),
        arms=(Arm("delta"), Arm("random", measure="test/projection_random")),
        overrides=TABLE_7_RUN,
        minutes=MINUTES,
        reported=TABLE_7[::2],
    ),
    Claim(
        id="table7-amplification",
        statement=(
            "Delta W_q amplifies directions W_q holds weakly: ||Delta W_q||_F is at least 5 times "
            "W_q's size along Delta W_q's own directions (r = 4)"
        ),
        source="Table 7, Section 7.3",
        paper=table_7_words("test/amplification"),
        measure="test/amplification",
        rule=AtLeast("r4", target=5.0, partly=1.0),
        arms=(Arm("r4"),),
        overrides=TABLE_7_RUN,
        minutes=MINUTES,
        reported=TABLE_7[3:],
    ),
    Claim(
        id="transformer-lora-vs-full",
        statement=(
            "on this project's Transformer, LoRA r = 8 on W_q and W_v learns a new task (the "
            "number words in reverse order) within 2 BLEU of fine-tuning every weight, at the "
            "same budget"
        ),
        source="Section 4.2 on the Transformer (beyond the paper)",
        paper="no number: the paper adapts GPT-2, GPT-3 and RoBERTa, not a translation model",
        measure="test/bleu",
        rule=NotWorse("lora", "full", margin=2.0),
        arms=(ADAPT_LORA, ADAPT_FULL),
        overrides=ADAPT,
        minutes=4.0,
    ),
    Claim(
        id="transformer-lora-vs-base",
        statement=(
            "the adapter does the work: after LoRA the Transformer writes the reversed task at "
            "least 10 BLEU better than the base it started from"
        ),
        source="Section 4.2 on the Transformer (beyond the paper)",
        paper="no number: the base model's score on the new task is the floor",
        measure="test/bleu",
        rule=Higher("lora", "base", min_gap=10.0, paired=True),
        arms=(ADAPT_LORA, Arm("base", ADAPT_LORA.overrides, measure="test/bleu_base")),
        overrides=ADAPT,
        minutes=4.0,
    ),
)
