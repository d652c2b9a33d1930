"""LoRA's method (papers/lora/lora.py) on a tiny BERT built here, and against PEFT's LoRA on the
same base, weights and input."""

import copy

import pytest
import torch
from helpers import assert_same_lora_gradients, copy_lora_into_peft
from peft import LoraConfig, get_peft_model
from scipy import stats
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from common.errors import CheckpointError, ConfigError
from papers.lora.adapter import HoulsbyAdapter, apply_adapters
from papers.lora.lora import (
    LoRAConfig,
    LoRAEmbedding,
    LoRALinear,
    adapter_state_dict,
    apply_lora,
    load_adapter,
    lora_layers,
    merge,
    paper_parameter_count,
    save_adapter,
    switch_adapter,
    trainable_modules,
    unmerge,
)

HEAD = ("pooler", "classifier")
CONFIG = LoRAConfig(r=4, alpha=8.0, targets=("query", "value"), trainable=HEAD)


def tiny_bert(seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=2,
    )
    return BertForSequenceClassification(config).eval()  # no dropout: outputs compare exactly


IDS = torch.randint(0, 50, (3, 7), generator=torch.Generator().manual_seed(1))


def logits(model: nn.Module) -> torch.Tensor:
    return model(input_ids=IDS).logits


def randomise(model: nn.Module, seed: int = 2) -> None:
    """Non-zero B (and a new head), so that the update shows in the outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in lora_layers(model):
            layer.B.copy_(torch.randn(layer.B.shape, generator=generator) * 0.2)
        for name in trainable_modules(model, HEAD):
            for parameter in model.get_submodule(name).parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)


def adapted(seed: int = 0, config: LoRAConfig = CONFIG) -> BertForSequenceClassification:
    model = tiny_bert(seed)
    apply_lora(model, config)
    return model


def test_at_the_start_the_model_is_exactly_the_base_model():
    base, model = tiny_bert(), adapted()
    assert all(torch.equal(layer.B, torch.zeros_like(layer.B)) for _, layer in lora_layers(model))
    assert torch.equal(logits(model), logits(base))


def test_a_layer_computes_w0_x_plus_alpha_over_r_b_a_x():
    torch.manual_seed(0)
    base = nn.Linear(12, 10)
    layer = LoRALinear(copy.deepcopy(base), r=3, alpha=6.0)
    nn.init.normal_(layer.B)
    x = torch.randn(5, 12)
    weight = base.weight + (6.0 / 3) * layer.B @ layer.A
    torch.testing.assert_close(layer(x), x @ weight.T + base.bias, atol=1e-5, rtol=0)


def peft_twin(ours: nn.Module, base: nn.Module) -> nn.Module:
    """PEFT's LoRA on a copy of ``base`` with our A, B and head copied in."""
    config = LoraConfig(
        r=CONFIG.r,
        lora_alpha=CONFIG.alpha,
        target_modules=list(CONFIG.targets),
        modules_to_save=list(HEAD),
        init_lora_weights=False,
    )
    theirs = get_peft_model(copy.deepcopy(base), config)
    copy_lora_into_peft(ours, theirs)
    inner = theirs.base_model.model
    with torch.no_grad():
        for head in trainable_modules(ours, HEAD):
            saved = inner.get_submodule(head).modules_to_save["default"]
            saved.load_state_dict(ours.get_submodule(head).state_dict())
    return theirs


def test_ours_equals_pefts_lora_in_outputs_and_gradients():
    base, ours = tiny_bert(), adapted()
    randomise(ours)
    theirs = peft_twin(ours, base)
    ours_out, theirs_out = logits(ours), logits(theirs)
    torch.testing.assert_close(ours_out, theirs_out, atol=1e-6, rtol=0)
    ours_out.square().sum().backward()
    theirs_out.square().sum().backward()
    assert_same_lora_gradients(ours, theirs)
    ours_trained = {n for n, p in ours.named_parameters() if p.requires_grad}
    theirs_trained = sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    assert sum(p.numel() for n, p in ours.named_parameters() if n in ours_trained) == theirs_trained


def test_the_embedding_version_equals_pefts():
    base = tiny_bert()
    config = LoRAConfig(r=4, alpha=4.0, targets=("word_embeddings",), init="kaiming_uniform")
    ours = adapted(config=config)
    [(name, layer)] = list(lora_layers(ours))
    assert isinstance(layer, LoRAEmbedding)
    assert torch.equal(layer.A, torch.zeros_like(layer.A)) and layer.B.abs().sum() > 0  # loralib's
    with torch.no_grad():
        layer.A.normal_()
    theirs = get_peft_model(
        copy.deepcopy(base),
        LoraConfig(r=4, lora_alpha=4.0, target_modules=["word_embeddings"]),
    )
    peft_layer = theirs.base_model.model.get_submodule(name)
    with torch.no_grad():
        peft_layer.lora_embedding_A["default"].copy_(layer.A)
        peft_layer.lora_embedding_B["default"].copy_(layer.B)
    torch.testing.assert_close(logits(ours), logits(theirs), atol=1e-6, rtol=0)
    before = logits(ours)
    merge(ours)
    torch.testing.assert_close(logits(ours), before, atol=1e-5, rtol=0)


def test_merged_and_unmerged_outputs_agree_and_unmerge_restores_w0():
    base, model = tiny_bert(), adapted()
    randomise(model)
    unmerged = logits(model)
    merge(model)
    assert all(layer.merged for _, layer in lora_layers(model))
    model.train()  # loralib merged and unmerged in train()/eval(); here only merge() merges
    model.eval()
    torch.testing.assert_close(logits(model), unmerged, atol=1e-5, rtol=0)
    layer = model.bert.encoder.layer[0].attention.self.query
    w0 = base.bert.encoder.layer[0].attention.self.query.weight
    assert (layer.base.weight - w0).abs().max() > 1e-3  # merged: the weight holds B A
    merge(model)  # a second merge adds nothing
    torch.testing.assert_close(logits(model), unmerged, atol=1e-5, rtol=0)
    unmerge(model)
    torch.testing.assert_close(layer.base.weight, w0, atol=1e-6, rtol=0)
    torch.testing.assert_close(logits(model), unmerged, atol=1e-5, rtol=0)


def test_only_the_adapter_and_the_head_receive_gradients():
    model = adapted()
    randomise(model)
    logits(model).sum().backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    expected = {
        f"bert.encoder.layer.{i}.attention.self.{m}.{ab}"
        for i in range(2)
        for m in ("query", "value")
        for ab in "AB"
    }
    head = {n for n, _ in model.named_parameters() if n.startswith(("bert.pooler.", "classifier."))}
    assert trainable == expected | head


def test_targeting_every_linear_leaves_the_head_to_full_training():
    model = adapted(config=LoRAConfig(r=2, targets=(r".*",), trainable=HEAD))
    names = {n for n, _ in lora_layers(model)}
    assert "bert.encoder.layer.0.intermediate.dense" in names  # every other Linear is adapted
    assert isinstance(model.classifier, nn.Linear) and model.classifier.weight.requires_grad
    assert isinstance(model.bert.pooler.dense, nn.Linear)


def test_the_parameter_count_is_the_papers_formula():
    model = adapted()
    lora = sum(layer.A.numel() + layer.B.numel() for _, layer in lora_layers(model))
    assert lora == paper_parameter_count(adapted=4, d_model=32, r=4) == 2 * 4 * 32 * 4


def test_an_adapter_file_round_trips_with_its_head_and_is_small(tmp_path):
    model = adapted()
    randomise(model)
    path = tmp_path / "adapter.pt"
    size = save_adapter(model, CONFIG, path, base="tiny-bert")
    restored = tiny_bert()
    assert load_adapter(restored, path, base="tiny-bert") == CONFIG
    torch.testing.assert_close(logits(restored), logits(model), atol=0, rtol=0)
    full = sum(t.numel() * t.element_size() for t in tiny_bert().state_dict().values())
    assert size < full / 3
    assert set(adapter_state_dict(model)) >= {"classifier.weight", "bert.pooler.dense.weight"}


def test_an_adapter_is_refused_on_another_base_saying_which(tmp_path):
    model = adapted()
    path = tmp_path / "adapter.pt"
    save_adapter(model, CONFIG, path, base="tiny-bert seed 0")
    with pytest.raises(CheckpointError, match=r"adapter of tiny-bert seed 0 .* this model, other"):
        load_adapter(tiny_bert(seed=1), path, base="other")


def test_switching_tasks_subtracts_one_update_and_adds_the_other(tmp_path):
    first, second = adapted(), adapted()
    randomise(first, seed=3)
    randomise(second, seed=4)
    expected = logits(second)
    merge(first)
    switch_adapter(first, adapter_state_dict(second))
    torch.testing.assert_close(logits(first), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            LoRAConfig(targets=("q_proj",)),
            r"'q_proj' matches no .*named: classifier, dense, key, .*query",
        ),
        (LoRAConfig(trainable=("score",)), r"trainable=\['score'\] matches no module"),
    ],
)
def test_a_name_that_matches_nothing_is_refused_with_the_candidates(config, message):
    with pytest.raises(ConfigError, match=message):
        apply_lora(tiny_bert(), config)


def test_a_rank_out_of_range_is_refused():
    for r in (0, -2):
        with pytest.raises(ConfigError, match="positive integer"):
            LoRAConfig(r=r)
    with pytest.raises(ConfigError, match=r"r=33 is above the rank of .*query \(32\)"):
        apply_lora(tiny_bert(), LoRAConfig(r=33))


@pytest.mark.parametrize("init", ["gaussian", "kaiming_uniform"])
def test_initial_a_and_b_follow_their_distributions(init):
    """Kolmogorov-Smirnov tests, as PEFT's own tests check its initialisation."""
    torch.manual_seed(0)
    r, k = 8, 512
    layer = LoRALinear(nn.Linear(k, 256), r=r, alpha=8.0, init=init)
    assert torch.equal(layer.B, torch.zeros_like(layer.B))
    a = layer.A.detach().flatten().numpy()
    gaussian = stats.norm(scale=1.0 / r).cdf
    bound = 1.0 / k**0.5  # kaiming_uniform_ with a = sqrt(5): sqrt(6 / (6 k))
    uniform = stats.uniform(loc=-bound, scale=2 * bound).cdf
    right, wrong = (gaussian, uniform) if init == "gaussian" else (uniform, gaussian)
    assert stats.kstest(a, right).pvalue > 0.01
    assert stats.kstest(a, wrong).pvalue < 1e-6


def test_the_adapter_starts_as_the_identity_and_cannot_be_merged():
    base = tiny_bert()
    model = copy.deepcopy(base)
    names = apply_adapters(model, ("output.dense",), bottleneck=4)
    assert len(names) == 4  # attention.output.dense and output.dense in each of 2 layers
    assert isinstance(model.bert.encoder.layer[0].output.dense, HoulsbyAdapter)
    assert torch.equal(logits(model), logits(base))
