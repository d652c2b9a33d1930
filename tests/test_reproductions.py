"""One end-to-end reproduction per paper (``pytest -m slow``): the claim rerun from scratch on
this code gives the verdict its kept result in ``reports/<paper>/results/`` records.

Minutes on 2 CPU cores: AlexNet's lrn about 25 (needs CIFAR-10 in the data directory), the DBN's
up-down claim about 3 (needs MNIST), the GAN's Proposition 1 about 12, greedy's
Gaussian-vs-binomial about 1, the LSTM's temporal order about 9, the Transformer's checkpoint
averaging about 12 (3 runs of the quick preset), LoRA's head-only baseline about 30 (6 runs on
SST-2, needs it in the data directory). A claim whose data is not here
is skipped, saying what is missing: give the data directory as usual,
``LANDMARKS_DATA_DIR=../shared/data pytest -m slow`` (the default run never reads it)."""

import json

import pytest

from common import registry
from common import reproduction as reproduce
from common.claims import NOT_RUN
from common.config import ROOT

ONE_PER_PAPER = {
    "alexnet": "lrn",
    "dbn": "up-down-improves",
    "gan": "proposition1",
    "greedy": "gaussian-beats-binomial",
    "lora": "sst2-lora-vs-head",
    "lstm": "temporal-order-6a",
    "transformer": "checkpoint-averaging",
}


def test_every_paper_has_one():
    assert sorted(ONE_PER_PAPER) == registry.available()


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(("paper", "claim_id"), sorted(ONE_PER_PAPER.items()))
def test_the_claim_reproduces_its_kept_verdict(paper, claim_id, tmp_path, shared_data_dir):
    (claim,) = [c for c in registry.claims(paper) if c.id == claim_id]
    kept = json.loads(reproduce.result_path(ROOT / "reports" / paper, claim_id).read_text())
    data = [f"paths.data_dir={shared_data_dir}"] if shared_data_dir else []
    extra = [*kept["extra_overrides"], *data]
    result = reproduce.run_claim(claim, paper, tuple(kept["seeds"]), extra, tmp_path)
    if result["verdict"] == NOT_RUN:
        pytest.skip(result["why"])
    assert result["verdict"] == kept["verdict"], (result["why"], kept["why"])
