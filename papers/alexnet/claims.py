"""AlexNet's claims (common/claims.py). The ImageNet results need ILSVRC and GPUs; the ablations
run on CIFAR-10 from the data directory at reduced scale: Figure 1 with the four-layer net (recipe
alexnet/four_layer), Section 3.3 with cuda-convnet's conv-local net (recipe alexnet/conv_local),
Sections 3.4-5 with the scaled AlexNet (recipe alexnet/cifar10). Budgets and minutes per run
were measured on one core of this machine."""

from common.baselines import IMAGE_BASELINES
from common.claims import Arm, Claim, Lower, Matches, RatioAtLeast, percent
from common.registry import Reported
from papers.alexnet.paper import (
    MIDDLE_LAYER_LOSS,
    OVERLAP_GAIN,
    RELU_SPEEDUP,
    RELU_TARGET_ERROR,
    SECTION_3_3,
    TABLE_1,
    TABLE_2,
)

PAPER_SCALE = "python scripts/train.py experiment=alexnet/paper trainer=ddp"

FOUR_LAYER = ("experiment=alexnet/four_layer",)
FIGURE_1_RATES = tuple((f"model.lr={lr}",) for lr in (0.0005, 0.001, 0.002, 0.004))
# Section 3.3's net as cuda-convnet's conv-local-11pct files train it (about 520 epochs on 50,000
# images there); here 10,000 images, 2,000 for validation and 8 epochs, about 7 minutes a run on
# one shared core: the budget, not the method, bounds what it can show against 13% / 11%.
CONV_LOCAL = (
    "experiment=alexnet/conv_local",
    "data.train_size=10000",
    "data.val_size=2000",
    "trainer.max_epochs=8",
)
SCALED = ("experiment=alexnet/cifar10",)
FULL = Arm("full")  # the scaled AlexNet as the paper trains it; shared by the ablations below


def ablation(
    id: str,
    statement: str,
    source: str,
    paper: str,
    arm: Arm,
    measure: str,
    reported: tuple[Reported, ...] = (),
    baselines: tuple[str, ...] = (),
) -> Claim:
    """A Section 3.4-5 claim: the full scaled AlexNet against one ablation of it."""
    return Claim(
        id=id,
        statement=statement,
        source=source,
        paper=paper,
        measure=measure,
        rule=Lower(better=FULL.name, worse=arm.name),
        arms=(FULL, arm),
        overrides=SCALED,
        seeds=(0, 1, 2, 3),  # four: the effects are a point or two, near the seed noise
        minutes=2.0,
        reported=reported,
        baselines=baselines,
    )


CLAIMS = (
    Claim(
        id="relu-vs-tanh",
        statement=f"with ReLUs the four-layer net reaches {percent(RELU_TARGET_ERROR)} training "
        f"error on CIFAR-10 about {RELU_SPEEDUP.value:g} times sooner than with tanh units",
        source="Figure 1",
        paper=f"ReLU reaches {percent(RELU_TARGET_ERROR)} training error {RELU_SPEEDUP.value:g} "
        "times faster than tanh (Figure 1 caption)",
        measure="train/epochs_to_target",
        rule=RatioAtLeast("tanh", "relu", target=RELU_SPEEDUP.value, partly=2.0),
        # Figure 1: each net's rate "chosen independently to make training as fast as
        # possible": a log grid around cuda-convnet's 0.001, the fastest run of each seed
        arms=(
            Arm("relu", grid=FIGURE_1_RATES),
            Arm("tanh", ("model.four_layer.activation=tanh",), grid=FIGURE_1_RATES),
        ),
        # all 45,000 training images; a net that has not reached 25% by epoch 40 counts 40
        overrides=(*FOUR_LAYER, "model.stop_at_target=true"),
        seeds=(0, 1, 2),
        minutes=8.0,  # estimated: about a minute an epoch on one core; not run yet
        curve="train/error",
        select="train/epochs_to_target",
        reported=(RELU_SPEEDUP, RELU_TARGET_ERROR),
    ),
    Claim(
        id="lrn",
        statement="local response normalisation lowers the CIFAR-10 test error of Section 3.3's "
        "net (cuda-convnet's layers-conv-local-11pct, with and without its two LRN layers)",
        source="Section 3.3",
        paper=f"{percent(SECTION_3_3[False])} test error without normalisation, "
        f"{percent(SECTION_3_3[True])} with",
        measure="test/error",
        rule=Lower(better="lrn", worse="no-lrn"),
        arms=(Arm("lrn"), Arm("no-lrn", ("model.conv_local.lrn=false",))),
        overrides=CONV_LOCAL,
        baselines=IMAGE_BASELINES,  # on the same 10,000 training images
        seeds=(0, 1, 2),
        minutes=7.0,  # estimated from 0.35 s per batch of 128 on one core
        reported=(SECTION_3_3[False], SECTION_3_3[True]),
    ),
    ablation(
        "overlapping-pooling",
        "overlapping pooling (z=3, s=2) gives a lower test error than z=s=2",
        "Section 3.4",
        f"top-1 error {percent(OVERLAP_GAIN['top1'])} lower, top-5 "
        f"{percent(OVERLAP_GAIN['top5'])} lower (ILSVRC)",
        Arm("non-overlapping", ("model.net.pooling=non_overlapping",)),
        "test/error",
        (OVERLAP_GAIN["top1"], OVERLAP_GAIN["top5"]),
    ),
    ablation(
        "overlapping-pooling-overfit",
        "overlapping pooling makes the net slightly harder to overfit (a smaller gap between "
        "test and training error)",
        "Section 3.4",
        "no number: 'slightly more difficult to overfit'",
        Arm("non-overlapping", ("model.net.pooling=non_overlapping",)),
        "test/gap",
    ),
    ablation(
        "augmentation",
        "random crops, flips and PCA colour noise reduce overfitting (test minus training error)",
        "Section 4.1",
        "no number: without augmentation the net overfits substantially",
        Arm(
            "no-augmentation",
            ("model.translate=false", "model.flip=false", "model.pca_colour=false"),
        ),
        "test/gap",
    ),
    ablation(
        "dropout",
        "dropout in fc6 and fc7 reduces overfitting (test minus training error)",
        "Section 4.2",
        "no number: without dropout the net overfits substantially",
        Arm("no-dropout", ("model.net.dropout=0.0",)),
        "test/gap",
    ),
    ablation(
        "remove-conv3",
        "removing the middle convolutional layer conv3 raises the test error",
        "Section 7",
        f"about {percent(MIDDLE_LAYER_LOSS)} higher top-1 error (ILSVRC) for removing any "
        "middle layer",
        Arm("no-conv3", ("model.net.remove_conv=3",)),
        "test/error",
        (MIDDLE_LAYER_LOSS,),
        IMAGE_BASELINES,  # once for the scaled AlexNet's CIFAR-10 set-up
    ),
    ablation(
        "remove-conv4",
        "removing the middle convolutional layer conv4 raises the test error",
        "Section 7",
        f"about {percent(MIDDLE_LAYER_LOSS)} higher top-1 error (ILSVRC) for removing any "
        "middle layer",
        Arm("no-conv4", ("model.net.remove_conv=4",)),
        "test/error",
        (MIDDLE_LAYER_LOSS,),
    ),
    Claim(
        id="ilsvrc2012",
        statement=f"one AlexNet reaches {percent(TABLE_2['top1'])} top-1 and "
        f"{percent(TABLE_2['top5'])} top-5 error on ILSVRC-2012 val",
        source="Table 2",
        paper=f"top-1 {percent(TABLE_2['top1'])}, top-5 {percent(TABLE_2['top5'])} (validation, "
        "10-patch test)",
        measure="test/error",
        rule=Matches("alexnet", TABLE_2["top1"].value, tolerance=0.01, partly_tolerance=0.03),
        arms=(Arm("alexnet", ("experiment=alexnet/paper", "trainer=ddp")),),
        seeds=(0,),
        not_run_here=f"needs ILSVRC-2012 (about 150 GB) and GPUs: `{PAPER_SCALE}`",
        reported=(TABLE_2["top1"], TABLE_2["top5"]),
    ),
    Claim(
        id="ilsvrc2010",
        statement=f"AlexNet reaches {percent(TABLE_1['top1'])} top-1 and "
        f"{percent(TABLE_1['top5'])} top-5 error on the ILSVRC-2010 test set",
        source="Table 1",
        paper=f"top-1 {percent(TABLE_1['top1'])}, top-5 {percent(TABLE_1['top5'])} (test, "
        "10-patch test)",
        measure="test/error",
        rule=Matches("alexnet", TABLE_1["top1"].value, tolerance=0.01, partly_tolerance=0.03),
        arms=(Arm("alexnet", ("experiment=alexnet/paper", "trainer=ddp")),),
        seeds=(0,),
        not_run_here=f"needs ILSVRC-2010 and GPUs: `{PAPER_SCALE} data.root=<ILSVRC-2010 folder>`",
        reported=(TABLE_1["top1"], TABLE_1["top5"]),
    ),
)
