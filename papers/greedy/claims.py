"""Bengio et al. 2007's claims (common/claims.py) at a reduced scale that runs on one CPU core.

Table 2 (MNIST): 1,000 training images (the first of the seeded shuffle), 1,000 validation
images, the 10,000 test images; three sigmoid layers of 200 units (Experiment 3: 200-200-20);
4 pre-training epochs per layer, then 50 fine-tuning epochs (rate 0.5, mini-batches of 20); the
checkpoint with the lowest validation error is tested (early stopping as model selection, with
no patience: a net without pre-training sits on a plateau at chance for its first few hundred
updates, and stopping it there would compare against an untrained net). The paper used 50,000
training images, 500-1000 units and rates chosen on validation. Every arm gets the same 50
fine-tuning epochs; pre-trained arms run 3 x ``PRETRAIN_EPOCHS`` more in all.

Table 1 (continuous inputs): scikit-learn's diabetes regression set stands in for Abalone
(papers/greedy/data.py); two hidden layers of 50 units.
"""

from common.baselines import IMAGE_BASELINES
from common.claims import Arm, Claim, Lower, percent
from papers.greedy.paper import table_1, table_2

PRETRAIN_EPOCHS = 4  # per hidden layer
FINETUNE_EPOCHS = 50
MNIST_SUBSET = (
    "experiment=greedy/paper",
    "data.train_size=1000",
    "data.val_size=1000",
    "data.batch_size=20",
    "model.width=200",
    f"model.pretrain_epochs={PRETRAIN_EPOCHS}",
    "model.finetune_learning_rate=0.5",
    "model.patience=null",
)
SEEDS = (0, 1, 2)
TABLE_2 = "Table 2 (test error)"
ABALONE, COTTON = "test/abalone_mse", "test/cotton_error"


def row(init: str, experiment: int = 2) -> Arm:
    """A Table 2 row: pre-trained rows train 3 x PRETRAIN_EPOCHS epochs before fine-tuning."""
    pretrained = init in ("dbn", "autoassociator", "supervised")
    epochs = FINETUNE_EPOCHS + (3 * PRETRAIN_EPOCHS if pretrained else 0)
    overrides = (f"model.init={init}", f"model.table_2_column={experiment}")
    return Arm(init, (*overrides, f"trainer.max_epochs={epochs}"))


def table_2_claim(
    id: str,
    statement: str,
    paper: str,
    better: str,
    worse: str,
    exp: int = 2,
    baselines: tuple[str, ...] = (),
):
    """``paper`` is a format with the fields ``better`` and ``worse``: Table 2's two cells."""
    cells = {"better": table_2(better, exp), "worse": table_2(worse, exp)}
    return Claim(
        id=id,
        statement=statement,
        source=TABLE_2 if exp == 2 else f"{TABLE_2}, Experiment 3",
        paper=paper.format(**{k: percent(r, digits=1) for k, r in cells.items()}),
        measure="test/error",
        rule=Lower(better, worse),
        arms=(row(better, exp), row(worse, exp)),
        overrides=MNIST_SUBSET,
        seeds=SEEDS,
        minutes=0.5,  # CPU minutes per run on one shared core (measured)
        reported=tuple(cells.values()),
        baselines=baselines,
    )


CLAIMS = (
    table_2_claim(
        "rbm-beats-none",
        "a deep net pre-trained as a DBN (stacked RBMs) beats the same net without pre-training",
        "{better} vs {worse} (Exp. 2, MNIST test error)",
        "dbn",
        "none",
        baselines=IMAGE_BASELINES,  # the same 1,000 training images: set once, beside Table 2
    ),
    table_2_claim(
        "aa-beats-none",
        "stacked auto-associator pre-training beats no pre-training",
        "{better} vs {worse} (Exp. 2)",
        "autoassociator",
        "none",
    ),
    table_2_claim(
        "supervised-worse",
        "greedy supervised pre-training is worse than unsupervised (DBN) pre-training",
        "{worse} vs {better} (Exp. 2)",
        "dbn",
        "supervised",
    ),
    table_2_claim(
        "deep-none-vs-shallow",
        "without pre-training the deep net is no better than a one-hidden-layer net",
        "{worse} deep vs {better} shallow (Exp. 2)",
        "shallow",
        "none",
    ),
    table_2_claim(
        "top20-dbn-beats-none",
        "with a 20-unit top layer, DBN pre-training still beats no pre-training",
        "{better} vs {worse} (Exp. 3; no pre-training also fits the training set worse, "
        + percent(table_2("none", 3, "train/error"), digits=2)
        + ")",
        "dbn",
        "none",
        exp=3,
    ),
    Claim(
        id="gaussian-beats-binomial",
        statement="on continuous inputs a DBN with Gaussian input units beats one with binomial "
        "input units (diabetes regression standing in for Abalone)",
        source="Table 1 (test mean squared error)",
        paper=f"Abalone {table_1(5, ABALONE).value:g} (Gaussian) vs {table_1(3, ABALONE).value:g} "
        f"(binomial); Cotton {percent(table_1(5, COTTON), digits=1)} vs "
        f"{percent(table_1(3, COTTON), digits=1)}",
        measure="test/error",
        rule=Lower("gaussian", "binomial"),
        arms=(
            Arm("gaussian", ("model.input_type=gaussian",)),
            Arm("binomial", ("model.input_type=binary",)),
        ),
        overrides=(
            "experiment=greedy/quick",
            "data=greedy/diabetes",
            "model.task=regression",
            "model.n_inputs=10",
            "model.n_outputs=1",
            "model.init=dbn",
            "model.depth=2",
            "model.width=50",
            "model.pretrain_epochs=20",
            "model.pretrain_learning_rate=0.01",
            "model.finetune_learning_rate=0.05",
            "model.patience=20",
            "trainer.max_epochs=140",
        ),
        seeds=(0, 1, 2, 3, 4),
        minutes=0.4,  # CPU minutes per run on one shared core (measured)
        reported=(table_1(5, ABALONE), table_1(3, ABALONE), table_1(5, COTTON), table_1(3, COTTON)),
    ),
)
