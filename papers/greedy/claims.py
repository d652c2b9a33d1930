"""Bengio et al. 2007's claims (common/claims.py) at a reduced scale that runs on one CPU core.

Table 2 (MNIST): 1,000 training images (the first of the seeded shuffle), 1,000 validation
images, the 10,000 test images; three sigmoid layers of 200 units (Experiment 3: 200-200-20);
4 pre-training epochs per layer, then fine-tuning in mini-batches of 20 until the validation
error has not fallen for ``PATIENCE`` epochs (at most ``MAX_FINETUNE_EPOCHS``), the checkpoint
with the lowest validation error tested. As the paper reports each row at its best validation
settings, every arm tries the fine-tuning rates ``FINETUNE_RATES`` for each seed and keeps the
run with the lower validation error; greedy supervised pre-training also tries rates 10 and 20
times the contrastive-divergence rate (the paper found a 20-fold larger rate better with the
supervised criterion than in the CD updates; its section is not checked here). The patience is
long enough for a net without pre-training to leave its plateau at chance (its first few hundred
updates). The paper used 50,000 training images and 500-1000
units.

Table 1 (continuous inputs): scikit-learn's diabetes regression set (442 patients) stands in for
Abalone (papers/greedy/data.py); two hidden layers of 50 units. Each arm's inputs are scaled as
its visible units assume: to [0, 1] for binomial units, to unit variance for Gaussian ones.
"""

from common.baselines import IMAGE_BASELINES
from common.claims import Arm, Claim, Lower, percent
from papers.greedy.paper import table_1, table_2

PRETRAIN_EPOCHS = 4  # per hidden layer
PRETRAIN_RATE = 0.05  # of contrastive divergence and the auto-associators (the model's default)
MAX_FINETUNE_EPOCHS = 300
PATIENCE = 30  # fine-tuning epochs without a lower validation error: 1,500 updates
FINETUNE_RATES = (0.1, 0.5)
SUPERVISED_RATES = (10 * PRETRAIN_RATE, 20 * PRETRAIN_RATE)
MNIST_SUBSET = (
    "experiment=greedy/paper",
    "data.train_size=1000",
    "data.val_size=1000",
    "data.batch_size=20",
    "model.width=200",
    f"model.pretrain_epochs={PRETRAIN_EPOCHS}",
    f"model.pretrain_learning_rate={PRETRAIN_RATE}",
    f"model.patience={PATIENCE}",
)
SEEDS = (0, 1, 2)
TABLE_2 = "Table 2 (test error)"
ABALONE, COTTON = "test/abalone_mse", "test/cotton_error"


def row(init: str, experiment: int = 2) -> Arm:
    """A Table 2 row, its rates chosen on validation: pre-trained rows train 3 x
    PRETRAIN_EPOCHS epochs before fine-tuning."""
    pretrained = init in ("dbn", "autoassociator", "supervised")
    epochs = MAX_FINETUNE_EPOCHS + (3 * PRETRAIN_EPOCHS if pretrained else 0)
    overrides = (f"model.init={init}", f"model.table_2_column={experiment}")
    rates = [(f"model.finetune_learning_rate={rate}",) for rate in FINETUNE_RATES]
    if init == "supervised":
        rates = [
            (*rate, f"model.pretrain_learning_rate={supervised}")
            for rate in rates
            for supervised in SUPERVISED_RATES
        ]
    return Arm(init, (*overrides, f"trainer.max_epochs={epochs}"), grid=tuple(rates))


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


# Table 1's stand-in: the diabetes regression with a 10-50-50-1 net (papers/greedy/data.py).
DIABETES = (
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
)
GAUSSIAN = Arm("gaussian", ("model.input_type=gaussian", "data.scaling=standard"))


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
        arms=(GAUSSIAN, Arm("binomial", ("model.input_type=binary", "data.scaling=min_max"))),
        overrides=DIABETES,
        baselines=(  # on the Gaussian arm's standardised inputs
            "papers.greedy.baselines:ridge_regression",
            "papers.greedy.baselines:gradient_boosted_regression",
        ),
        seeds=(0, 1, 2, 3, 4),
        minutes=0.4,  # CPU minutes per run on one shared core (measured)
        reported=(table_1(5, ABALONE), table_1(3, ABALONE), table_1(5, COTTON), table_1(3, COTTON)),
    ),
    Claim(
        id="partially-supervised",
        statement="partially supervised pre-training (the RBM's gradient plus the supervised "
        "one) beats unsupervised pre-training of the Gaussian-input DBN, Table 1's largest gain "
        "(diabetes regression standing in for Abalone)",
        source="Table 1 (test mean squared error)",
        paper=f"Abalone {table_1(6, ABALONE).value:g} vs {table_1(5, ABALONE).value:g}; Cotton "
        f"{percent(table_1(6, COTTON), digits=1)} vs {percent(table_1(5, COTTON), digits=1)}",
        measure="test/error",
        rule=Lower("partial", "gaussian"),
        arms=(
            Arm("partial", (*GAUSSIAN.overrides, "model.partially_supervised=true")),
            GAUSSIAN,
        ),
        overrides=DIABETES,
        seeds=(0, 1, 2, 3, 4),
        minutes=0.4,
        reported=(table_1(6, ABALONE), table_1(5, ABALONE), table_1(6, COTTON), table_1(5, COTTON)),
    ),
)
