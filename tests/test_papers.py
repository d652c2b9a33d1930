"""Every paper in the registry: its files exist, its configs compose, and it trains on tiny data.

Parametrized over the registry, so a new paper folder is covered without editing this file."""

import math
import re

import pytest
import torch
from helpers import quiet_trainer
from hydra.utils import get_class

from common import registry
from common.config import CONFIG_DIR, build
from common.train import train

PAPERS = registry.available()


def test_registry_finds_the_papers_and_refuses_unknown_names():
    assert "alexnet" in PAPERS
    with pytest.raises(
        registry.UnknownPaperError, match=r"unknown paper 'nope'; available papers: "
    ):
        registry.get("nope")


@pytest.mark.parametrize("name", PAPERS)
def test_paper_metadata_is_complete(name):
    paper = registry.get(name)
    assert paper.name == name
    assert re.match(rf"@\w+\{{{paper.citation_key},", paper.bibtex), "BibTeX key = citation_key"
    assert str(paper.year) in paper.bibtex
    assert paper.reported, "a paper reports at least one number"
    for reported in paper.reported:
        assert re.search(r"(Table|Figure|Section|Fig\.|Appendix)", reported.source), reported
        assert reported.definition and math.isfinite(reported.value)


@pytest.mark.parametrize("name", PAPERS)
@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_configs_compose_for_every_preset(name, preset, make_config):
    for path in (
        f"paper/{name}.yaml",
        f"model/{name}.yaml",
        f"data/{name}/{preset}.yaml",
        f"recipe/{name}/{preset}.yaml",
    ):
        assert (CONFIG_DIR / path).exists(), f"configs/{path} is missing"
    cfg = make_config(f"paper={name}", f"preset={preset}")
    assert cfg.paper.name == name and cfg.preset.name == preset
    for node in (cfg.model, cfg.data):
        assert get_class(node._target_)  # the classes the configs name exist


@pytest.mark.parametrize("name", PAPERS)
def test_every_paper_trains_on_tiny_data(name, make_config):
    paper = registry.get(name)
    cfg = make_config(
        f"paper={name}", *paper.smoke_overrides, "trainer.fast_dev_run=true", "logger=none"
    )
    summary = train(cfg)
    assert summary["steps"] >= 1
    # every metric is a number; only a count until an event that never came may be infinite
    # (e.g. the LSTM's train/sequences_to_stop while its stopping rule has not held)
    assert summary["metrics"]
    for metric, value in summary["metrics"].items():
        assert math.isfinite(value) or (value == math.inf and "_to_" in metric), (metric, value)


def test_summary_sets_only_the_runs_own_reported_numbers_beside_ours(make_config):
    lstm = registry.get("lstm")
    cfg = make_config("paper=lstm")
    chosen = lstm.reported_for(cfg)
    assert chosen and len(chosen) < len(lstm.reported)
    assert all(r.setting.startswith("task=6a;") for r in chosen)  # the quick preset's
    alexnet = registry.get("alexnet")
    assert alexnet.reported_for(make_config()) == alexnet.reported  # ImageNet's, all of them
    greedy = registry.get("greedy")
    chosen = greedy.reported_for(
        make_config("paper=greedy", "model.init=none", "model.table_2_column=3")
    )
    assert [(r.metric, r.value) for r in chosen] == [("test/error", 0.022), ("train/error", 0.0059)]


@pytest.mark.parametrize("name", PAPERS)
def test_every_parameter_of_every_network_is_trained(name, make_config, tmp_path):
    """A short run through every stage of the paper's training (greedy layers, up-down,
    fine-tuning) moves every parameter: by gradients, or by the hand-written rules (contrastive
    divergence, up-down, the LSTM's truncated backward). A layer left out of training fails.
    A method that trains some weights only (LoRA's frozen base) names the others, and exactly
    those stay as they were."""
    paper = registry.get(name)
    cfg = make_config(f"paper={name}", *paper.smoke_overrides, "logger=none")
    model, datamodule = build(cfg.model), build(cfg.data)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer = quiet_trainer(  # its folder is where a module writes its figures
        tmp_path,
        cfg.trainer.max_epochs,
        limit_train_batches=3,
        limit_val_batches=1,
        enable_checkpointing=False,
    )
    frozen = model.frozen_parameters() if hasattr(model, "frozen_parameters") else set()
    trainer.fit(model, datamodule=datamodule)
    untouched = {k for k, v in model.named_parameters() if torch.equal(v.detach(), before[k])}
    assert before and untouched == frozen  # a method that freezes weights (LoRA) says which
