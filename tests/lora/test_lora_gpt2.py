"""LoRA on GPT-2 (Table 3's path): the fused q,k,v projection adapted in its q and v thirds, the
E2E data in the authors' layout, Table 11's loss and decoding, and a whole run through
``scripts/train.py``'s code on a tiny GPT-2 saved in Hugging Face's format (no download)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers import assert_same_lora_gradients, copy_lora_into_peft
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
from transformers.pytorch_utils import Conv1D

from common.errors import ConfigError, DataIntegrityError, MissingDataError
from common.train import train
from papers.lora.e2e import IGNORE, E2EData, encode, grouped, read_e2e
from papers.lora.generation import GeneratedNoRepeatNGram, LoRACausalLM
from papers.lora.lora import (
    LoRAConfig,
    LoRALinear,
    adapted_matrices,
    adapter_parameters,
    apply_lora,
    lora_layers,
    merge,
    paper_parameter_count,
    unmerge,
)

D = 24  # n_embd: c_attn has 72 outputs, q, k and v 24 each
NAMES = ("Alimentum", "Aromi", "Bibimbap House", "Blue Spice", "Cotto", "Fitzbillies")
AREAS = ("city centre", "riverside")
FOODS = ("Chinese", "French", "Indian", "Italian")


def e2e_lines(count: int, seed: int) -> list[str]:
    """Lines in E2E's layout: a meaning representation, ``||``, a reference."""
    rng = torch.Generator().manual_seed(seed)
    lines = []
    for _ in range(count):
        name, area, food = (
            options[int(torch.randint(len(options), (1,), generator=rng))]
            for options in (NAMES, AREAS, FOODS)
        )
        mr = f"name : {name} | food : {food} | area : {area}"
        lines.append(f"{mr}||{name} serves {food} food in the {area} .")
    return lines


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "e2e").mkdir()
    for split, count in (("train", 48), ("valid", 16), ("test", 12)):
        (root / "e2e" / f"{split}.txt").write_text("\n".join(e2e_lines(count, len(split))) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, data_dir) -> str:
    """A 2-layer GPT-2 with a byte-level BPE tokenizer trained on the tiny E2E lines, saved as
    ``save_pretrained`` saves gpt2-medium: what ``base=<folder>`` loads."""
    from tokenizers import ByteLevelBPETokenizer

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    text = (data_dir / "e2e" / "train.txt").read_text().replace("||", " ").splitlines()
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(text, vocab_size=300, special_tokens=["<|endoftext|>"])
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(folder)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=D,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return str(folder)


def gpt2(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=D, n_layer=2, n_head=2)
    return GPT2LMHeadModel(config).eval()


def randomise_b(model: nn.Module, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in lora_layers(model):
            layer.B.copy_(torch.randn(layer.B.shape, generator=generator) * 0.1)


IDS = torch.tensor([[3, 14, 15, 9, 2, 6], [5, 3, 5, 8, 9, 7]])
QV = LoRAConfig(r=4, alpha=32.0, targets=("c_attn",), parts=("q", "v"))


def test_the_q_and_v_thirds_get_their_own_update_and_k_none():
    model = gpt2()
    apply_lora(model, QV)
    randomise_b(model)
    layer = model.transformer.h[0].attn.c_attn
    assert isinstance(layer, LoRALinear) and layer.transposed
    assert layer.A.shape == (2 * 4, D) and layer.B.shape == (2 * D, 4)  # two blocks: q and v
    delta = layer.delta_weight()  # Conv1D's layout: (in, out) = (D, 3 D)
    assert delta.shape == (D, 3 * D)
    s = 32.0 / 4
    (a_q, a_v), (b_q, b_v) = layer.A.split(4), layer.B.split(D)
    torch.testing.assert_close(delta[:, :D], (b_q @ a_q).T * s)
    assert torch.equal(delta[:, D : 2 * D], torch.zeros(D, D))  # W_k is not adapted
    torch.testing.assert_close(delta[:, 2 * D :], (b_v @ a_v).T * s)
    x = torch.randn(2, 5, D)
    w0, bias = layer.base.weight, layer.base.bias
    expected = x @ w0 + bias + x @ delta  # h = x W0 + b + x (B A)^T, GPT-2's orientation
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_the_adapter_counts_two_matrices_a_layer_as_the_papers_formula():
    model = gpt2()
    apply_lora(model, QV)
    assert adapted_matrices(model) == 2 * 2  # W_q and W_v of 2 layers
    assert adapter_parameters(model) == paper_parameter_count(4, D, 4)  # 2 x 4 x 24 x 4


def test_merged_and_unmerged_agree_and_unmerge_restores_w0():
    model = gpt2()
    w0 = model.transformer.h[1].attn.c_attn.weight.detach().clone()
    apply_lora(model, QV)
    randomise_b(model)
    with torch.no_grad():
        unmerged = model(IDS).logits
        merge(model)
        merged = model(IDS).logits
        unmerge(model)
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        model.transformer.h[1].attn.c_attn.base.weight, w0, atol=1e-6, rtol=0
    )


def test_the_whole_fused_matrix_equals_pefts_lora_on_conv1d():
    """Without parts, c_attn is one matrix with one A and B: what PEFT does with
    fan_in_fan_out=True. Outputs and gradients agree."""
    base = gpt2()
    ours = copy.deepcopy(base)
    apply_lora(ours, LoRAConfig(r=4, alpha=8.0, targets=("c_attn",)))
    randomise_b(ours)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0
    )
    theirs = get_peft_model(copy.deepcopy(base), config)
    copy_lora_into_peft(ours, theirs)
    out_ours, out_theirs = ours(IDS).logits, theirs(IDS).logits
    torch.testing.assert_close(out_ours, out_theirs, atol=1e-5, rtol=1e-5)
    out_ours.square().mean().backward()
    out_theirs.square().mean().backward()
    assert_same_lora_gradients(ours, theirs, rtol=1e-4)


def test_the_parts_equal_separate_lora_on_split_q_k_v_layers():
    """loralib's MergedLinear semantics: adapting the q and v thirds of the fused matrix is
    adapting separate W_q and W_v layers with the same A_q, B_q, A_v, B_v."""
    model = gpt2()
    apply_lora(model, QV)
    randomise_b(model)
    fused = model.transformer.h[0].attn.c_attn
    x = torch.randn(3, D)
    thirds = []
    for i, (w, b) in enumerate(
        zip(fused.base.weight.split(D, 1), fused.base.bias.split(D), strict=True)
    ):
        linear = nn.Linear(D, D)
        with torch.no_grad():
            linear.weight.copy_(w.T)
            linear.bias.copy_(b)
        if i == 1:
            thirds.append(linear(x))
            continue
        single = LoRALinear(linear, 4, 32.0)
        block = 0 if i == 0 else 1
        with torch.no_grad():
            single.A.copy_(fused.A.split(4)[block])
            single.B.copy_(fused.B.split(D)[block])
        thirds.append(single(x))
    torch.testing.assert_close(fused(x), torch.cat(thirds, -1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "config, message",
    [
        (dict(targets=("c_attn",), parts=("q", "x")), "distinct names among q, k, v"),
        (dict(targets=("c_attn",), parts=("q", "q")), "distinct names"),
        (
            dict(targets=("c_proj",), parts=("q", "v")),
            "24 inputs to 24 outputs, not to 3 x 24",
        ),
        (dict(targets=("wte",), parts=("q", "v")), "an embedding, not a fused projection"),
    ],
)
def test_parts_on_what_is_not_a_fused_projection_are_refused(config, message):
    with pytest.raises(ConfigError, match=message):
        apply_lora(gpt2(), LoRAConfig(r=2, **config))


def test_conv1d_layers_are_candidates_for_a_target():
    with pytest.raises(ConfigError, match="c_attn, c_fc, c_proj"):
        apply_lora(gpt2(), LoRAConfig(targets=("query",)))
    assert isinstance(gpt2().transformer.h[0].mlp.c_fc, Conv1D)


# --- E2E -----------------------------------------------------------------------------------


def test_e2e_lines_are_read_and_grouped_by_meaning_representation(tmp_path):
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "test.txt").write_text(
        "name : A | area : riverside||A is by the river .\n"
        "name : B||B .\n"
        "name : A | area : riverside||By the river is A .\n"
    )
    pairs = read_e2e(tmp_path, "test")
    assert pairs[1] == ("name : B", "B .")
    assert grouped(pairs) == [
        ("name : A | area : riverside", ["A is by the river .", "By the river is A ."]),
        ("name : B", ["B ."]),
    ]


def test_a_damaged_e2e_line_and_a_missing_split_are_refused(tmp_path):
    with pytest.raises(MissingDataError, match="train.txt"):
        read_e2e(tmp_path, "train")
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "train.txt").write_text("name : A||A .\nname : B | B .\n")
    with pytest.raises(DataIntegrityError, match="line 2"):
        read_e2e(tmp_path, "train")


def test_an_example_is_context_eos_space_reference_eos_and_only_the_reference_is_learned(
    tiny_gpt2,
):
    tokenizer = GPT2TokenizerFast.from_pretrained(tiny_gpt2)
    ids, context = encode(tokenizer, "name : Aromi", "Aromi is nice .", 512)
    eos = tokenizer.eos_token_id
    assert ids[context - 1] == eos and ids[-1] == eos and ids.count(eos) == 2
    assert tokenizer.decode(ids[: context - 1]) == "name : Aromi"
    assert tokenizer.decode(ids[context:-1]) == " Aromi is nice ."
    data = E2EData(data_dir="unused", base=tiny_gpt2)
    data.eos = eos
    batch = data.collate([(ids, context), (ids[:5], 2)])
    labels = batch["labels"]
    assert labels[0, :context].eq(IGNORE).all() and torch.equal(
        labels[0, context:], torch.tensor(ids[context:])
    )
    assert labels[1, 5:].eq(IGNORE).all() and batch["attention_mask"][1].sum() == 5


def test_the_loss_is_the_references_next_token_cross_entropy(tiny_gpt2):
    module = LoRACausalLM(base=tiny_gpt2, label_smoothing=0.1).eval()
    tokenizer = GPT2TokenizerFast.from_pretrained(tiny_gpt2)
    ids, context = encode(tokenizer, "name : Cotto", "Cotto is in the riverside .", 512)
    data = E2EData(data_dir="unused", base=tiny_gpt2)
    data.eos = tokenizer.eos_token_id
    batch = data.collate([(ids, context)])
    with torch.no_grad():
        logits = module.net(torch.tensor([ids])).logits[0]
        log_p = logits.log_softmax(-1)
        wanted = [-log_p[t - 1, ids[t]] for t in range(context, len(ids))]
        nll = torch.stack(wanted).mean()
        smooth = torch.stack([-log_p[t - 1].mean() for t in range(context, len(ids))]).mean()
        assert module.loss(batch, 0.0) == pytest.approx(float(nll), rel=1e-5)
        assert module.loss(batch, 0.1) == pytest.approx(float(0.9 * nll + 0.1 * smooth), rel=1e-5)


def test_the_table_11_optimiser_decays_every_trained_tensor_and_warms_up_500_updates(tiny_gpt2):
    from types import SimpleNamespace

    module = LoRACausalLM(base=tiny_gpt2, method="full")
    module._trainer = SimpleNamespace(estimated_stepping_batches=1_000)
    scheduled = module.configure_optimizers()
    optimizer, schedule = scheduled["optimizer"], scheduled["lr_scheduler"]["scheduler"]
    groups = optimizer.param_groups
    assert groups[0]["weight_decay"] == 0.01 and not groups[1]["params"]  # biases decay too
    assert groups[0]["eps"] == 1e-6 and groups[0]["betas"] == (0.9, 0.999)
    rates = []
    for _ in range(1_000):
        rates.append(groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and rates[250] == pytest.approx(1e-4) and rates[500] == 2e-4
    assert rates[750] == pytest.approx(1e-4) and rates[-1] < 1e-6


def test_no_repeat_ngram_bans_the_generations_repeats_not_the_prompts():
    rule = GeneratedNoRepeatNGram(2, prompt_length=3)
    scores = torch.zeros(1, 10)
    prompt_repeat = rule(torch.tensor([[4, 5, 4, 1]]), scores.clone())  # "4 5" in the prompt only
    assert torch.isfinite(prompt_repeat).all()
    generated_repeat = rule(torch.tensor([[0, 0, 0, 4, 5, 4]]), scores.clone())
    assert generated_repeat[0, 5] == -float("inf")  # "4 5" was generated: 5 is banned after 4
    assert torch.isfinite(generated_repeat[0, :5]).all()


def test_an_e2e_run_trains_q_and_v_decodes_by_beam_and_scores_bleu(
    make_config, tiny_gpt2, data_dir
):
    cfg = make_config(
        "experiment=lora/e2e",
        f"data.base={tiny_gpt2}",
        f"paths.data_dir={data_dir}",
        "data.eval_batch_size=8",
        "trainer.max_epochs=2",
        "model.warmup_steps=2",
        "model.lr=1e-2",
        "model.beam_size=3",
        "model.max_new_tokens=16",
        "logger=none",
    )
    summary = train(cfg)
    metrics = summary["metrics"]
    assert 0.0 <= metrics["test/bleu"] <= 100.0
    assert metrics["test/lora_parameters"] == paper_parameter_count(4, D, 4)
    folder = Path(summary["output_dir"])
    predictions = (folder / "e2e_pred.txt").read_text().splitlines()
    tests = grouped(read_e2e(data_dir, "test"))
    assert len(predictions) == len(tests)
    references = (folder / "e2e_ref.txt").read_text().split("\n\n")
    assert [block.strip().splitlines() for block in references] == [refs for _, refs in tests]
    saved = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert set(saved) == {
        f"net.transformer.h.{i}.attn.c_attn.{m}" for i in (0, 1) for m in ("A", "B")
    }
    assert all(saved[k].abs().sum() > 0 for k in saved if k.endswith(".B"))  # trained from zero
    assert (
        json.loads((folder / "summary.json").read_text())["metrics"]["test/bleu"]
        == (metrics["test/bleu"])
    )
