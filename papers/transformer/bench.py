"""Speed of the Transformer (for ``scripts/bench.py``): the training step against
``torch.nn.Transformer`` at the same configuration, decoding with the key/value cache against
recomputing the prefix, and beam search's cost per sentence.

``torch.nn.Transformer`` gets what ours has around it: one embedding matrix shared with the
pre-softmax projection, scaled by sqrt(d_model), sinusoids, post-LN layers with ReLU and the same
dropout, and Adam on the label-smoothed loss. It differs where the library does: biases in its
attention projections and a final LayerNorm on each stack (a few thousand parameters). A and B
are timed in turn, ``repeats`` times, and the ratio is the median of the per-pair ratios, so a
machine that slows down for a while slows both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from common.timing import paired_ratio
from papers.transformer.decoding import beam_search
from papers.transformer.model import Transformer, causal_mask, sinusoids
from papers.transformer.training import label_smoothed_loss

PAD, BOS, EOS = 0, 1, 2
BASE = {"n_layers": 6, "d_model": 512, "d_ff": 2048, "heads": 8}  # Table 3's base model


class TorchTransformer(nn.Module):
    """``torch.nn.Transformer`` with ours's embedding, positions and tied softmax."""

    def __init__(self, vocab_size: int, n_layers: int, d_model: int, d_ff: int, heads: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.register_buffer("positions", sinusoids(1024, d_model), persistent=False)
        self.dropout = nn.Dropout(0.1)
        self.core = nn.Transformer(
            d_model, heads, n_layers, n_layers, d_ff, dropout=0.1, batch_first=True
        )
        self.scale = math.sqrt(d_model)

    def embed(self, tokens: Tensor) -> Tensor:
        x = self.embedding(tokens) * self.scale + self.positions[: tokens.shape[1]]
        return self.dropout(x)

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        future = ~causal_mask(target.shape[1], target.device)  # True: not allowed
        out = self.core(
            self.embed(source),
            self.embed(target),
            tgt_mask=future,
            src_key_padding_mask=source == PAD,
            memory_key_padding_mask=source == PAD,
        )
        return out @ self.embedding.weight.T  # (B, T, V)


def training_step(model: nn.Module, source: Tensor, target: Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits = model(source, target[:, :-1])
        smoothed, _ = label_smoothed_loss(logits, target[:, 1:], 0.1, PAD)
        smoothed.backward()
        optimizer.step()

    return step


def batch(vocab: int, sentences: int, length: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    source = torch.randint(3, vocab, (sentences, length), generator=g)
    target = torch.randint(3, vocab, (sentences, length + 1), generator=g)
    target[:, 0] = BOS
    return source, target


def training_step_timings(
    net: dict[str, int] = BASE,
    vocab: int = 8000,
    sentences: int = 16,
    length: int = 32,
    repeats: int = 5,
) -> dict[str, float]:
    """Ours against ``TorchTransformer`` at the configuration ``net``: seconds per training step
    (forward, label-smoothed loss, backward, Adam) on ``sentences`` x ``length`` tokens a side."""
    source, target = batch(vocab, sentences, length)
    torch.manual_seed(0)
    ours = Transformer(vocab, **net)
    theirs = TorchTransformer(vocab, **net)
    timing = paired_ratio(
        training_step(ours.train(), source, target),
        training_step(theirs.train(), source, target),
        repeats,
    )
    count = sum(p.numel() for p in ours.parameters()), sum(p.numel() for p in theirs.parameters())
    return {**timing, "ours_parameters": count[0], "torch_parameters": count[1]}


@torch.no_grad()
def extend(model: Transformer, source: Tensor, steps: int, cached: bool) -> None:
    """Greedy steps with (``cached``) or without the key/value cache: the latter decodes the
    whole prefix again at every step."""
    memory, mask = model.encode(source)
    tokens = torch.full((source.shape[0], 1), BOS)
    cache = model.new_cache() if cached else None
    for _ in range(steps):
        if cached:  # the new position only; the cache knows its offset
            logits = model.decode(tokens[:, -1:], memory, mask, cache)
        else:
            logits = model.decode(tokens, memory, mask)
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)


def decoding_timings(
    net: dict[str, int] = BASE,
    vocab: int = 8000,
    sentences: int = 16,
    source_length: int = 20,
    output_length: int = 50,
    repeats: int = 3,
) -> dict[str, float]:
    """An untrained model of configuration ``net``: tokens per second with the cache against
    recomputing, to ``output_length`` output tokens; and beam 4 against greedy, milliseconds per
    sentence (an untrained model never ends a sentence: both run to the input length + 50)."""
    torch.manual_seed(0)
    model = Transformer(vocab, **net).eval()
    source, _ = batch(vocab, sentences, source_length)
    cache = paired_ratio(
        lambda: extend(model, source, output_length, cached=True),
        lambda: extend(model, source, output_length, cached=False),
        repeats,
    )
    tokens = sentences * output_length
    beam = paired_ratio(
        lambda: beam_search(model, source, BOS, EOS, beam_size=4, alpha=0.6),
        lambda: beam_search(model, source, BOS, EOS, beam_size=1, alpha=0.0),
        repeats,
    )
    return {
        "cached_tokens_per_s": tokens / cache["a_s"],
        "recompute_tokens_per_s": tokens / cache["b_s"],
        "cache_speedup": 1 / cache["ratio"],
        "cache_speedup_low": 1 / cache["ratio_high"],
        "cache_speedup_high": 1 / cache["ratio_low"],
        "beam4_ms_per_sentence": 1e3 * beam["a_s"] / sentences,
        "greedy_ms_per_sentence": 1e3 * beam["b_s"] / sentences,
        "beam4_to_greedy": beam["ratio"],
    }
