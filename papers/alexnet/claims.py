"""AlexNet's claims (common/claims.py). The ImageNet results need ILSVRC and GPUs; the CIFAR-10
ablations (Figure 1, Sections 3.3-5) are still to be added, with budgets measured here."""

from common.claims import Arm, Claim, Matches

PAPER_SCALE = "python scripts/train.py paper=alexnet preset=paper trainer=ddp"

CLAIMS = (
    Claim(
        id="ilsvrc2012",
        statement="one AlexNet reaches 40.7% top-1 and 18.2% top-5 error on ILSVRC-2012 val",
        source="Table 2",
        paper="top-1 40.7%, top-5 18.2% (validation, 10-patch test)",
        measure="test/error",
        rule=Matches("alexnet", 0.407, tolerance=0.01, partly_tolerance=0.03),
        arms=(Arm("alexnet", ("preset=paper", "trainer=ddp")),),
        seeds=(0,),
        not_run_here=f"needs ILSVRC-2012 (about 150 GB) and GPUs: `{PAPER_SCALE}`",
    ),
    Claim(
        id="ilsvrc2010",
        statement="AlexNet reaches 37.5% top-1 and 17.0% top-5 error on the ILSVRC-2010 test set",
        source="Table 1",
        paper="top-1 37.5%, top-5 17.0% (test, 10-patch test)",
        measure="test/error",
        rule=Matches("alexnet", 0.375, tolerance=0.01, partly_tolerance=0.03),
        arms=(Arm("alexnet", ("preset=paper", "trainer=ddp")),),
        seeds=(0,),
        not_run_here=f"needs ILSVRC-2010 and GPUs: `{PAPER_SCALE} data.root=<ILSVRC-2010 folder>`",
    ),
)
