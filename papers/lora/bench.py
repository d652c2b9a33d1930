"""Speed of LoRA: Table 1's inference latency, and the training step against full fine-tuning and
against PEFT's LoRA (for ``scripts/bench.py``, and for the latency claims through
``LoRAClassifier(latency_trials=...)``).

Table 1 times one forward pass at batch 1 over 100 trials. Here each trial runs the base model,
merged LoRA, unmerged LoRA and Houlsby adapters of about LoRA's size in turn (the order rotated),
and each ratio is the median of the per-trial ratios to the base model, so that a machine that
slows down for a while slows all four alike.
"""

from __future__ import annotations

import copy
import statistics

import torch
from torch import Tensor, nn

from common.timing import interleaved_times, paired_ratio
from papers.lora.adapter import apply_adapters
from papers.lora.lora import LoRAConfig, adapter_parameters, apply_lora, merge

ADAPTER_TARGETS = ("output.dense",)  # a BERT's attention output and feed-forward output


def tokens(vocab: int, batch: int, length: int, seed: int = 0) -> Tensor:
    return torch.randint(
        1000, vocab, (batch, length), generator=torch.Generator().manual_seed(seed)
    )


def matched_bottleneck(model: nn.Module, lora_parameters: int) -> int:
    """The Houlsby bottleneck whose adapters (two per layer) hold about ``lora_parameters``."""
    d, layers = model.config.hidden_size, model.config.num_hidden_layers
    return max(1, round(lora_parameters / (2 * layers * 2 * d)))


@torch.no_grad()
def latency(
    base: nn.Module, adapted: nn.Module, trials: int = 100, length: int = 128
) -> dict[str, float]:
    """Forward-pass milliseconds at batch 1 of the base model, merged and unmerged LoRA
    (``adapted``, left unmerged) and Houlsby adapters, and each one's ratio to the base model.
    The adapters are given about LoRA's parameter count."""
    lora_parameters = adapter_parameters(adapted)
    merged = copy.deepcopy(adapted)
    merge(merged)
    adapters = copy.deepcopy(base)
    apply_adapters(adapters, ADAPTER_TARGETS, matched_bottleneck(base, lora_parameters))
    models = {"base": base, "merged": merged, "unmerged": adapted, "adapter": adapters}
    ids = tokens(base.config.vocab_size, 1, length)
    was_training = {name: m.training for name, m in models.items()}
    for m in models.values():
        m.eval()
    try:
        times = interleaved_times(
            {name: (lambda m=m: m(input_ids=ids)) for name, m in models.items()}, trials
        )
    finally:
        for name, m in models.items():
            m.train(was_training[name])
    result = {"base_ms": 1e3 * statistics.fmean(times["base"])}
    for name in ("merged", "unmerged", "adapter"):
        ratios = [t / b for t, b in zip(times[name], times["base"], strict=True)]
        result[f"{name}_ms"] = 1e3 * statistics.fmean(times[name])
        result[f"latency_ratio_{name}"] = statistics.median(ratios)
    result["adapter_parameters"] = sum(
        p.numel() for n, p in adapters.named_parameters() if ".down." in n or ".up." in n
    )
    result["lora_parameters"] = lora_parameters
    return result


def training_step(model: nn.Module, ids: Tensor, labels: Tensor):
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(input_ids=ids).logits, labels)
        loss.backward()
        optimizer.step()

    return step


def trained_state_mb(model: nn.Module) -> float:
    """Megabytes of what training keeps per trained parameter: the weight's gradient and AdamW's
    two moments (the paper's VRAM argument, Section 4.2; activations are not counted)."""
    trained = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return 3 * trained / 2**20


def training_timings(
    base: nn.Module, batch: int = 16, length: int = 32, repeats: int = 5, r: int = 8
) -> dict[str, float]:
    """Seconds per AdamW step of ours (r on W_q, W_v, alpha = r) against PEFT's LoRA with the
    same settings, and against full fine-tuning; the trained state's megabytes of each."""
    from peft import LoraConfig, get_peft_model

    head = ["pooler", "classifier"]
    ours = copy.deepcopy(base).train()
    apply_lora(
        ours, LoRAConfig(r=r, alpha=float(r), targets=("query", "value"), trainable=tuple(head))
    )
    peft_config = LoraConfig(
        r=r, lora_alpha=r, target_modules=["query", "value"], modules_to_save=head
    )
    theirs = get_peft_model(copy.deepcopy(base), peft_config).train()
    full = copy.deepcopy(base).train()
    ids = tokens(base.config.vocab_size, batch, length)
    labels = torch.arange(batch) % 2
    steps = {
        name: training_step(m, ids, labels)
        for name, m in (("ours", ours), ("peft", theirs), ("full", full))
    }
    against_peft = paired_ratio(steps["ours"], steps["peft"], repeats)
    against_full = paired_ratio(steps["ours"], steps["full"], repeats)
    return {
        "ours_s": against_peft["a_s"],
        "peft_s": against_peft["b_s"],
        "ratio_to_peft": against_peft["ratio"],
        "ratio_to_peft_low": against_peft["ratio_low"],
        "ratio_to_peft_high": against_peft["ratio_high"],
        "full_s": against_full["b_s"],
        "ratio_to_full": against_full["ratio"],
        "ours_state_mb": trained_state_mb(ours),
        "full_state_mb": trained_state_mb(full),
    }
