"""The sceptic's baseline for the character language model (common/baselines.py says why every
claim has one): NLTK's interpolated Kneser-Ney character n-gram model on the same training text,
its order chosen on the validation text, scored in bits per character on the test text."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from omegaconf import DictConfig

from common.config import build

ORDERS = (3, 5)  # n-gram orders tried on the validation text


def split_text(module: Any, split: str) -> str:
    """The characters of a split as the network reads them: its windows' inputs in order, then
    the last window's last target."""
    inputs, targets = module.splits[split].tensors
    codes = [*inputs.flatten().tolist(), int(targets[-1, -1])]
    return "".join(module.symbols[c] for c in codes)


def bits_per_character(model: Any, text: str, order: int) -> float:
    """Mean -log2 p(c_t | the order - 1 characters before it), from the order-th character on."""
    total = sum(
        -model.logscore(text[t], list(text[t - order + 1 : t])) for t in range(order - 1, len(text))
    )
    return total / (len(text) - order + 1)


def kneser_ney_ngram(cfg: DictConfig) -> dict[str, Any]:
    """``test/bpc`` of the best order in ``ORDERS`` on validation; parameters: the n-gram
    counts the model stores."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    module = build(cfg.data)
    module.setup()
    text = {split: split_text(module, split) for split in ("train", "val", "test")}
    start = time.perf_counter()
    fitted = []
    for order in ORDERS:
        model = KneserNeyInterpolated(order)
        model.fit(*padded_everygram_pipeline(order, [list(text["train"])]))
        fitted.append((bits_per_character(model, text["val"], order), order, model))
    val_bpc, order, model = min(fitted, key=lambda f: f[0])
    test_bpc = bits_per_character(model, text["test"], order)
    if not math.isfinite(test_bpc):
        raise ValueError("the n-gram model gave a test character probability 0")
    counts = len(model.counts[1]) + sum(  # distinct n-grams: one count each
        len(model.counts[n][context]) for n in range(2, order + 1) for context in model.counts[n]
    )
    return {
        "name": f"Kneser-Ney {order}-gram (NLTK)",
        "measure": "test/bpc",
        "value": test_bpc,
        "parameters": counts,
        "seconds": time.perf_counter() - start,
        "setting": f"order {order} (of {', '.join(map(str, ORDERS))}; {val_bpc:.3f} bpc on val)",
        "threads": torch.get_num_threads(),
    }
