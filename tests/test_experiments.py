"""Every experiment composes, names its paper and section, and equals the set-up it stands for."""

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from common import experiments, registry
from common.config import ROOT, compose


@pytest.mark.parametrize("name", experiments.names())
def test_every_experiment_composes_and_says_what_it_is(name, tmp_path):
    cfg = compose([f"experiment={name}"], tmp_path)
    paper, _, short = name.partition("/")
    assert cfg.paper.name == paper and paper in registry.available()
    assert cfg.preset.name and cfg.preset.description and cfg.preset.section
    assert cfg.preset.minutes is None or cfg.preset.minutes > 0
    assert short in ("quick", "paper") or cfg.preset.name == short  # its folder bears its name
    OmegaConf.to_container(cfg.data, resolve=True)  # every value resolves
    OmegaConf.to_container(cfg.model, resolve=True)


def setup(cfg) -> dict:
    """What a run does: everything but the experiment's words about itself."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    for key in ("description", "section", "minutes"):
        plain["preset"].pop(key, None)
    return plain


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("alexnet/quick", ["paper=alexnet"]),
        ("alexnet/paper", ["paper=alexnet", "preset=paper"]),
        ("alexnet/cifar10", ["paper=alexnet", "data=alexnet/cifar10", "recipe=alexnet/cifar10"]),
        ("gan/ring", ["paper=gan", "data=gan/ring", "model=gan/ring", "recipe=gan/ring"]),
        ("gan/tfd", ["paper=gan", "preset=paper", "data=gan/tfd", "recipe=gan/tfd"]),
        ("lstm/exp2a", ["paper=lstm", "preset=paper", "task=2a", "preset.name=exp2a"]),
        (
            "lstm/charlm",
            [
                *("paper=lstm", "model=lstm_charlm", "data=lstm/shakespeare"),
                *("callbacks.monitor=val/bpc", "callbacks.mode=min", "preset.name=charlm"),
            ],
        ),
    ],
)
def test_an_experiment_is_the_set_up_it_names(name, overrides, tmp_path):
    assert setup(compose([f"experiment={name}"], tmp_path)) == setup(compose(overrides, tmp_path))


def test_an_override_after_the_experiment_still_wins(tmp_path):
    cfg = compose(["experiment=gan/ring", "trainer.max_epochs=1", "seed=3"], tmp_path)
    assert cfg.trainer.max_epochs == 1 and cfg.seed == 3


def test_the_listing_has_one_line_per_experiment():
    script = str(ROOT / "scripts" / "experiments.py")
    result = subprocess.run([sys.executable, script, "paper=lstm"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == experiments.names("lstm")
    (quick,) = [line for line in lines if line.startswith("lstm/quick ")]
    assert "Section 5.6, Table 9" in quick and "~3 min" in quick
    unknown = subprocess.run([sys.executable, script, "nope"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown paper 'nope'" in unknown.stderr
