"""The Transformer of Vaswani et al. (2017), Sections 3.1-3.5, as a plain ``torch.nn`` module.

Read top to bottom: positions (3.5), attention (3.2), the position-wise feed-forward network (3.3),
the residual sub-layer (3.1), encoder and decoder layers, and the encoder-decoder with one
embedding matrix shared by the source, the target and the pre-softmax projection (3.4).

Shapes: B batch, S source length, T target length, D = d_model, H heads, V vocabulary.
Token id ``pad_id`` is padding; masks are True where attention is allowed.

Incremental decoding: :meth:`Transformer.decode` takes a ``cache`` (one dict per decoder layer)
that keeps the keys and values of the positions decoded so far and the projected encoder output,
so each new position costs one row of attention instead of a full recomputation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Cache = list[dict[str, Tensor]]


def sinusoids(length: int, d_model: int) -> Tensor:
    """Section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(...)."""
    position = torch.arange(length, dtype=torch.float64)[:, None]  # (length, 1)
    rate = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (D/2,)
    table = torch.zeros(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table.float()  # (length, D)


def causal_mask(length: int, device: torch.device | None = None) -> Tensor:
    """(T, T): position t may attend to positions <= t only (the decoder's masked attention)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def unit_scaling_(weight: Tensor) -> Tensor:
    """tensor2tensor's ``uniform_unit_scaling`` (gain 1), the paper's code's initialiser (the
    paper names none): U(-sqrt(3 / fan_in), sqrt(3 / fan_in))."""
    bound = math.sqrt(3.0 / weight.shape[1])
    return nn.init.uniform_(weight, -bound, bound)


class MultiHeadAttention(nn.Module):
    """Section 3.2.2: MultiHead(Q, K, V) = Concat(head_1..head_h) W^O,
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V), Attention = softmax(Q K^T / sqrt(d_k)) V.
    No dropout on the attention weights (the paper names none); projections without biases, as
    in tensor2tensor."""

    def __init__(self, d_model: int, heads: int, d_k: int, d_v: int) -> None:
        super().__init__()
        self.heads, self.d_k, self.d_v = heads, d_k, d_v
        self.w_q = nn.Linear(d_model, heads * d_k, bias=False)
        self.w_k = nn.Linear(d_model, heads * d_k, bias=False)
        self.w_v = nn.Linear(d_model, heads * d_v, bias=False)
        self.w_o = nn.Linear(heads * d_v, d_model, bias=False)
        self.weights: Tensor | None = None  # the last attention weights, kept when asked

    def split(self, x: Tensor, size: int) -> Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, size).transpose(1, 2)  # (B, H, L, size)

    def project_keys(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        return self.split(self.w_k(memory), self.d_k), self.split(self.w_v(memory), self.d_v)

    def forward(
        self,
        query: Tensor,  # (B, Lq, D)
        keys: Tensor,  # (B, H, Lk, d_k)
        values: Tensor,  # (B, H, Lk, d_v)
        mask: Tensor,  # broadcastable to (B, H, Lq, Lk)
        keep_weights: bool = False,
    ) -> Tensor:
        q = self.split(self.w_q(query), self.d_k)  # (B, H, Lq, d_k)
        scores = q @ keys.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, H, Lq, Lk)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        if keep_weights:
            self.weights = weights.detach()
        heads = weights @ values  # (B, H, Lq, d_v)
        return self.w_o(heads.transpose(1, 2).flatten(2))  # (B, Lq, D)


class FeedForward(nn.Module):
    """Section 3.3: FFN(x) = max(0, x W1 + b1) W2 + b2, inner size d_ff."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(F.relu(self.w_1(x)))


class Residual(nn.Module):
    """Section 3.1 and 5.4: post-LN, LayerNorm(x + Dropout(Sublayer(x))), as published; or pre-LN,
    x + Dropout(Sublayer(LayerNorm(x))), tensor2tensor's later default (its v2 hyperparameters),
    which needs a final LayerNorm on the stack's output and trains stably without warm-up."""

    def __init__(self, d_model: int, dropout: float, norm: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.pre = norm == "pre"

    def forward(self, x: Tensor, sublayer) -> Tensor:
        if self.pre:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


class EncoderLayer(nn.Module):
    """Self-attention, then the feed-forward network, each in a residual sub-layer."""

    def __init__(self, d_model, d_ff, heads, d_k, d_v, dropout, norm) -> None:
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads, d_k, d_v)
        self.feed_forward = FeedForward(d_model, d_ff)
        self.residuals = nn.ModuleList([Residual(d_model, dropout, norm) for _ in range(2)])

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        attend, feed = self.residuals

        def self_attention(h: Tensor) -> Tensor:
            return self.self_attention(h, *self.self_attention.project_keys(h), mask)

        x = attend(x, self_attention)
        return feed(x, self.feed_forward)


class DecoderLayer(nn.Module):
    """Masked self-attention, attention over the encoder output, then the feed-forward network.

    With a ``cache`` (a dict this layer fills), ``x`` holds only the newest positions: their keys
    and values are appended to the cached ones, and the encoder's keys and values are projected
    once."""

    def __init__(self, d_model, d_ff, heads, d_k, d_v, dropout, norm) -> None:
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads, d_k, d_v)
        self.cross_attention = MultiHeadAttention(d_model, heads, d_k, d_v)
        self.feed_forward = FeedForward(d_model, d_ff)
        self.residuals = nn.ModuleList([Residual(d_model, dropout, norm) for _ in range(3)])

    def forward(
        self,
        x: Tensor,  # (B, T_new, D)
        memory: Tensor,  # (B, S, D)
        self_mask: Tensor,  # (T_new, T_all) or (B, 1, T_new, T_all)
        memory_mask: Tensor,  # (B, 1, 1, S)
        cache: dict[str, Tensor] | None = None,
        keep_weights: bool = False,
    ) -> Tensor:
        attend, cross, feed = self.residuals

        def self_attention(h: Tensor) -> Tensor:
            keys, values = self.self_attention.project_keys(h)
            if cache is not None:
                if "keys" in cache:
                    keys = torch.cat([cache["keys"], keys], dim=2)
                    values = torch.cat([cache["values"], values], dim=2)
                cache["keys"], cache["values"] = keys, values
            return self.self_attention(h, keys, values, self_mask)

        def cross_attention(h: Tensor) -> Tensor:
            if cache is not None and "memory_keys" in cache:
                keys, values = cache["memory_keys"], cache["memory_values"]
            else:
                keys, values = self.cross_attention.project_keys(memory)
                if cache is not None:
                    cache["memory_keys"], cache["memory_values"] = keys, values
            return self.cross_attention(h, keys, values, memory_mask, keep_weights)

        x = attend(x, self_attention)
        x = cross(x, cross_attention)
        return feed(x, self.feed_forward)


class Transformer(nn.Module):
    """The encoder-decoder of Figure 1 (base: N = 6, d_model 512, d_ff 2048, h 8, P_drop 0.1).

    Args: vocab_size (the joint vocabulary), n_layers (N, encoder and decoder each), d_model,
    d_ff, heads (h), d_k and d_v (None: d_model / h), dropout (P_drop, on every sub-layer output
    and on the embedding + position sums), positions ("sinusoidal", Section 3.5, or "learned",
    Table 3 row E), max_positions (table length), norm ("post" as published, or "pre"),
    pad_id.
    """

    def __init__(
        self,
        vocab_size: int,
        n_layers: int = 6,
        d_model: int = 512,
        d_ff: int = 2048,
        heads: int = 8,
        d_k: int | None = None,
        d_v: int | None = None,
        dropout: float = 0.1,
        positions: str = "sinusoidal",
        max_positions: int = 1024,
        norm: str = "post",
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
        if norm not in ("post", "pre"):
            raise ValueError(f"norm must be 'post' or 'pre', got {norm!r}")
        if (d_k is None or d_v is None) and d_model % heads:
            raise ValueError(f"d_model={d_model} is not a multiple of heads={heads}")
        d_k = d_model // heads if d_k is None else d_k
        d_v = d_model // heads if d_v is None else d_v
        self.d_model, self.pad_id, self.max_positions = d_model, pad_id, max_positions
        # Section 3.4: one matrix for both embeddings and the pre-softmax projection.
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)  # tensor2tensor's
        if positions == "sinusoidal":
            self.register_buffer("position_table", sinusoids(max_positions, d_model), False)
            self.learned_positions = None
        else:
            self.learned_positions = nn.Embedding(max_positions, d_model)
            nn.init.normal_(self.learned_positions.weight, std=d_model**-0.5)
        self.dropout = nn.Dropout(dropout)
        layer = (d_model, d_ff, heads, d_k, d_v, dropout, norm)
        self.encoder = nn.ModuleList([EncoderLayer(*layer) for _ in range(n_layers)])
        self.decoder = nn.ModuleList([DecoderLayer(*layer) for _ in range(n_layers)])
        # pre-LN leaves the last sub-layer's sum un-normalised: one LayerNorm per stack
        self.encoder_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        for name, parameter in self.named_parameters():
            if parameter.dim() == 2 and "embedding" not in name and "positions" not in name:
                unit_scaling_(parameter)
            elif name.endswith(".bias") and "norm" not in name:
                nn.init.zeros_(parameter)

    def embed(self, tokens: Tensor, offset: int = 0) -> Tensor:
        """Dropout(sqrt(d_model) * E[tokens] + PE[offset : offset + L]), (B, L) -> (B, L, D)."""
        length = tokens.shape[1]
        if offset + length > self.max_positions:
            raise ValueError(
                f"a sequence of {offset + length} positions exceeds max_positions="
                f"{self.max_positions}"
            )
        index = torch.arange(offset, offset + length, device=tokens.device)
        if self.learned_positions is None:
            position = self.position_table[index]
        else:
            position = self.learned_positions(index)
        return self.dropout(self.embedding(tokens) * math.sqrt(self.d_model) + position)

    def encode(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S) token ids -> the encoder output (B, S, D) and its mask (B, 1, 1, S)."""
        mask = (source != self.pad_id)[:, None, None, :]
        x = self.embed(source)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def decode(
        self,
        target: Tensor,  # (B, T): the target shifted right (BOS first); with a cache, new ids only
        memory: Tensor,
        memory_mask: Tensor,
        cache: Cache | None = None,
        keep_weights: bool = False,
    ) -> Tensor:
        """Logits (B, T, V) of the next token at every position of ``target``."""
        offset = 0 if cache is None or "keys" not in cache[0] else cache[0]["keys"].shape[2]
        length = target.shape[1]
        self_mask = causal_mask(offset + length, target.device)[offset:]  # (T, offset + T)
        x = self.embed(target, offset)
        for i, layer in enumerate(self.decoder):
            x = layer(
                x, memory, self_mask, memory_mask, None if cache is None else cache[i], keep_weights
            )
        return self.decoder_norm(x) @ self.embedding.weight.T  # (B, T, V), shared matrix

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        """Teacher forcing: logits (B, T, V) for the target shifted right."""
        memory, memory_mask = self.encode(source)
        return self.decode(target, memory, memory_mask)

    def new_cache(self) -> Cache:
        return [{} for _ in self.decoder]


def reorder_cache(cache: Cache, index: Tensor) -> Cache:
    """The cache of the hypotheses ``index`` (rows of the batch), for beam search."""
    return [{name: value.index_select(0, index) for name, value in part.items()} for part in cache]
