"""LoRAClassifier (papers/lora/module.py) on the offline MiniLM base: what it trains, what its
optimiser holds, its schedule, and its adapter-only checkpoints."""

from types import SimpleNamespace

import pytest
import torch

from common import registry
from common.config import build
from common.errors import CheckpointError
from common.train import train
from papers.lora.module import LoRAClassifier

SMOKE = registry.get("lora").smoke_overrides


@pytest.fixture(scope="module")
def modules() -> dict[str, LoRAClassifier]:
    return {method: LoRAClassifier(method=method) for method in ("lora", "full", "head")}


def with_trainer(module: LoRAClassifier, steps: int) -> LoRAClassifier:
    module._trainer = SimpleNamespace(estimated_stepping_batches=steps)
    return module


def test_the_optimiser_holds_exactly_what_is_trained(modules):
    for method, module in modules.items():
        optimizer = with_trainer(module, 100).configure_optimizers()["optimizer"]
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        trained = {id(p) for p in module.parameters() if p.requires_grad}
        assert held == trained, method
    counts = {m: modules[m].counts()["model/trainable_parameters"] for m in modules}
    head = 384 * 384 + 384 + 384 * 2 + 2  # pooler and classifier
    assert counts["head"] == head
    assert counts["lora"] == head + 2 * 12 * 384 * 8  # Section 5.1: 2 x L_LoRA x d_model x r
    assert counts["full"] == modules["full"].counts()["model/parameters"]
    assert counts["lora"] / counts["full"] < 0.01


def test_the_rate_warms_up_over_six_percent_then_decays_to_zero(modules):
    module = with_trainer(modules["lora"], 100)
    scheduled = module.configure_optimizers()
    optimizer, schedule = scheduled["optimizer"], scheduled["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and max(rates) == pytest.approx(5e-4)
    assert rates.index(max(rates)) == 6 and rates[-1] < 1e-5
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.1, 0.0}


def test_the_module_trains_with_dropout_on():
    module = LoRAClassifier()
    assert module.net.training  # from_pretrained hands it over in eval mode


def test_a_checkpoint_holds_the_adapter_and_head_only_and_refuses_another_base(make_config):
    summary = train(make_config("paper=lora", *SMOKE, "logger=none"))
    checkpoint = torch.load(summary["best_checkpoint"], weights_only=False)
    module = build(make_config("paper=lora", *SMOKE).model)
    trained = {f"net.{n}" for n, p in module.net.named_parameters() if p.requires_grad}
    assert set(checkpoint["state_dict"]) == trained
    module.on_load_checkpoint(checkpoint)  # the same base: accepted
    module.load_state_dict(checkpoint["state_dict"], strict=False)
    assert torch.equal(
        module.net.classifier.weight, checkpoint["state_dict"]["net.classifier.weight"]
    )
    checkpoint["base_digest"] = "0" * 64
    with pytest.raises(
        CheckpointError, match=r"trained on base weights 000000000000, not on minilm"
    ):
        module.on_load_checkpoint(checkpoint)
