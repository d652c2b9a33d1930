"""LoRA on this project's Transformer (papers/lora/translation.py): a tiny base trained on the
numbers task, adapted to the reversed task; what is trained, what the optimiser holds, the base
kept for comparison, and the refusals."""

import pytest
import torch

from common import registry
from common.config import build
from common.errors import CheckpointError, ConfigError
from common.train import train
from papers.lora.lora import LoRALinear
from papers.transformer.data import numbers

TINY = [o for o in registry.get("transformer").smoke_overrides if not o.startswith("model.")]
NET = [o for o in registry.get("transformer").smoke_overrides if o.startswith("model.")]


def test_the_reversed_task_keeps_the_sources_and_reverses_the_words():
    forward, reverse = numbers(20, seed=3, max_numbers=4), numbers(20, 3, 1, 4, reverse=True)
    assert [s for s, _ in forward] == [s for s, _ in reverse]
    for (_, words), (_, backwards) in zip(forward, reverse, strict=True):
        assert backwards.split() == words.split()[::-1]
    assert any(len(w.split()) > 1 for _, w in forward)  # so the task differs


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory) -> str:
    from conftest import compose_config

    folder = tmp_path_factory.mktemp("base")
    cfg = compose_config(
        ["experiment=transformer/quick", *TINY, *NET, "logger=none", "test=false"],
        folder / "run",
        folder / "cache",
    )
    return train(cfg)["best_checkpoint"]


def adaptation(make_config, base_checkpoint, *overrides):
    return make_config(
        "experiment=lora/transformer",
        *TINY,
        f"model.base_checkpoint={base_checkpoint}",
        "trainer.max_epochs=1",
        *overrides,
    )


def test_lora_adapts_w_q_and_w_v_of_every_attention_and_freezes_the_rest(
    make_config, base_checkpoint
):
    module = build(adaptation(make_config, base_checkpoint).model)
    adapted = {n for n, m in module.net.named_modules() if isinstance(m, LoRALinear)}
    attentions = {
        n.rsplit(".", 1)[0] for n, _ in module.base_net.named_modules() if n.endswith("w_q")
    }
    assert adapted == {f"{a}.{w}" for a in attentions for w in ("w_q", "w_v")}
    assert len(attentions) == 3  # encoder self-, decoder self- and cross-attention (1 layer)
    trained = {n for n, p in module.named_parameters() if p.requires_grad}
    assert trained == {f"net.{a}.{m}" for a in adapted for m in ("A", "B")}
    optimizer = module.configure_optimizers()["optimizer"]
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert held == {id(p) for p in module.parameters() if p.requires_grad}
    source = torch.tensor([[5, 6, 7, 2]])
    target = torch.tensor([[1, 8, 9]])
    module.eval()
    assert torch.equal(module.net(source, target), module.base_net(source, target))  # B = 0
    full = build(adaptation(make_config, base_checkpoint, "model.method=full").model)
    assert {n for n, p in full.net.named_parameters() if p.requires_grad} == {
        n for n, _ in full.net.named_parameters()
    }


def test_an_adaptation_run_trains_the_adapter_and_scores_the_base_beside_it(
    make_config, base_checkpoint
):
    before = torch.load(base_checkpoint, weights_only=False)["state_dict"]
    summary = train(adaptation(make_config, base_checkpoint, "logger=none"))
    metrics = summary["metrics"]
    assert {"test/bleu", "test/bleu_base", "test/bleu_greedy"} <= set(metrics)
    after = torch.load(summary["best_checkpoint"], weights_only=False)["state_dict"]
    frozen = [k for k in after if k.startswith("net.") and k.endswith(".base.weight")]
    assert frozen
    for key in frozen:  # W0 of an adapted layer stays the base's
        assert torch.equal(after[key], before[key.replace(".base.weight", ".weight")])
    assert any(after[k].abs().sum() > 0 for k in after if k.endswith(".B"))  # B left zero


def test_a_missing_base_and_an_unknown_method_are_refused(make_config, tmp_path):
    cfg = make_config("experiment=lora/transformer", f"model.base_checkpoint={tmp_path}/no.ckpt")
    with pytest.raises(CheckpointError, match="no checkpoint file at .*no.ckpt"):
        build(cfg.model)
    with pytest.raises(ConfigError, match="model.method='head': expected one of lora, full"):
        build(make_config("experiment=lora/transformer", "model.method=head").model)


def test_data_with_another_vocabulary_is_refused(make_config, base_checkpoint):
    cfg = adaptation(make_config, base_checkpoint, "data.vocab_size=50", "logger=none")
    with pytest.raises(ConfigError, match="vocabulary is not the base model's"):
        train(cfg)
