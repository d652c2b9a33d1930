"""The recurrent baseline of the cost claim: an attention LSTM encoder-decoder after Luong, Pham
and Manning (2015), "Effective Approaches to Attention-based Neural Machine Translation", with the
interface of ``model.Transformer`` (``encode``, ``decode`` with a cache, ``forward``,
``new_cache``), so ``decoding.beam_search`` and the training module run it unchanged.

The pieces, in Luong et al.'s names (Sections 2-3):

- Encoder: a stacked unidirectional LSTM over the source embeddings; its top layer's outputs are
  the source states hbar_s, the ``memory`` (B, S, H). Unidirectional as in the paper (Section 4.1:
  stacked LSTMs, the source read one way), which keeps the baseline's recurrent cost the paper's.
  Padded sentences are packed (``pack_padded_sequence``), so padding is never read and the memory
  is zero there; sources are padded on the right, as ``batching`` pads them.
- Decoder: a stacked LSTM; its top layer's state h_t at each target step.
- Global attention (Section 3.1), the "general" score of Equation (8),
  score(h_t, hbar_s) = h_t^T W_a hbar_s, normalised over the source by Equation (7),
  a_t(s) = softmax_s score(h_t, hbar_s), padded positions excluded; the context
  c_t = sum_s a_t(s) hbar_s. W_a hbar_s is computed once per sentence (and kept in the cache).
- The attentional hidden state, Equation (5): h~_t = tanh(W_c [c_t; h_t]).
- Input feeding (Section 3.3, Figure 4): h~_{t-1} is concatenated to the input embedding of step
  t, so the decoder steps one position at a time even under teacher forcing (h~_0 = 0).
- The softmax, Equation (6), p(y_t | y_<t, x) = softmax(W_s h~_t), with W_s = E P: h~_t projected
  to d_model by P (when hidden != d_model) and multiplied by the one embedding matrix E that also
  embeds the source and the target, as the Transformer shares it (its Section 3.4; Press & Wolf
  2017), so both networks handle the vocabulary alike. No biases in W_a, W_c, P: the equations
  have none.
- Dropout (Section 4.1, after Zaremba et al. 2015: on the non-recurrent connections only): on the
  embeddings, between stacked layers (``nn.LSTM``'s ``dropout``) and on h~_t, which feeds both
  the softmax and the next step's input.
- Initialisation (Section 4.1): every parameter uniform in [-0.1, 0.1].

Deviation: the decoder starts from a zero state, not from the encoder's final state as the paper's
Figure 1 hands it over. ``decode`` receives only the memory (the top layer's outputs), and beam
search copies only the memory's rows, so the encoder's per-layer (h, c) has no way to the decoder;
the source reaches it through attention from the first step on (the attentional state h~_1 is
already source-dependent) and from then on through input feeding as well. GNMT (Wu et al. 2016)
also starts its decoder without the encoder's state.

Shapes: B batch, S source length, T target length, D = d_model, H = hidden, L layers,
V vocabulary. Masks are True where attention is allowed (not padding), as in model.py.

Incremental decoding: the cache is one dict, the decoder's recurrent state after the positions
decoded so far: ``h`` and ``c`` (B, L, H) of every layer, ``feed`` (B, H) = h~_{t-1}, and
``memory_keys`` (B, S, H) = W_a hbar_s. Every entry has the batch first, so
``model.reorder_cache`` selects beam rows from it as from the Transformer's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from papers.transformer.model import Cache


class AttentionLSTM(nn.Module):
    """Luong et al.'s global-attention LSTM with input feeding (their 4 layers of 1000 cells and
    dropout 0.2 at paper scale; the defaults here are small).

    Args: vocab_size (the joint vocabulary, rows of the one shared embedding), n_layers (L,
    encoder and decoder each), d_model (D, the embedding size), hidden (H, the LSTM cells per
    layer), dropout (on the embeddings, between layers and on h~_t), pad_id.
    """

    def __init__(
        self,
        vocab_size: int,
        n_layers: int = 2,
        d_model: int = 256,
        hidden: int = 256,
        dropout: float = 0.1,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("n_layers", n_layers), ("d_model", d_model), ("hidden", hidden)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0 <= pad_id < vocab_size:
            raise ValueError(
                f"pad_id must be a token of the vocabulary [0, {vocab_size}), got {pad_id}"
            )
        self.d_model, self.hidden, self.pad_id = d_model, hidden, pad_id
        self.embedding = nn.Embedding(vocab_size, d_model)  # E: source, target and softmax
        between = dropout if n_layers > 1 else 0.0  # nn.LSTM drops between layers only
        self.encoder = nn.LSTM(d_model, hidden, n_layers, batch_first=True, dropout=between)
        # input feeding: the decoder's input is [embedding of y_{t-1}; h~_{t-1}]
        self.decoder = nn.LSTM(
            d_model + hidden, hidden, n_layers, batch_first=True, dropout=between
        )
        self.w_a = nn.Linear(hidden, hidden, bias=False)  # Equation (8), "general"
        self.w_c = nn.Linear(2 * hidden, hidden, bias=False)  # Equation (5)
        self.projection = (
            nn.Linear(hidden, d_model, bias=False) if hidden != d_model else nn.Identity()
        )  # P: h~_t to the embedding size, W_s = E P
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: Tensor | None = None  # the last a_t(s), (B, T, S), when asked
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -0.1, 0.1)  # Section 4.1

    def encode(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S) token ids, padded on the right -> the source states hbar_s (B, S, H), zero at
        padding, and the mask (B, 1, 1, S), True where not padding."""
        mask = source != self.pad_id  # (B, S)
        on_host = mask.cpu()  # pack_padded_sequence takes the lengths on the host
        lengths = on_host.sum(dim=1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError("every source sentence needs at least one token that is not padding")
        positions = torch.arange(source.shape[1])
        if not torch.equal(on_host, positions < lengths[:, None]):
            raise ValueError("source padding must come after the tokens (pad on the right)")
        packed = pack_padded_sequence(
            self.dropout(self.embedding(source)), lengths, batch_first=True, enforce_sorted=False
        )
        memory, _ = pad_packed_sequence(
            self.encoder(packed)[0], batch_first=True, total_length=source.shape[1]
        )
        return memory, mask[:, None, None, :]

    def decode(
        self,
        target: Tensor,  # (B, T): the target shifted right (BOS first); with a cache, new ids only
        memory: Tensor,  # (B, S, H): hbar_s
        memory_mask: Tensor,  # (B, 1, 1, S)
        cache: Cache | None = None,
        keep_weights: bool = False,
    ) -> Tensor:
        """Logits (B, T, V) of the next token at every position of ``target``, one step at a time
        (input feeding), from the zero state or from the cached state."""
        batch, length = target.shape
        state = {} if cache is None else cache[0]
        if "h" in state:  # (B, L, H) in the cache, (L, B, H) for nn.LSTM
            h = state["h"].transpose(0, 1).contiguous()
            c = state["c"].transpose(0, 1).contiguous()
            feed, keys = state["feed"], state["memory_keys"]
        else:
            h = memory.new_zeros(self.decoder.num_layers, batch, self.hidden)
            c = torch.zeros_like(h)
            feed = memory.new_zeros(batch, self.hidden)  # h~_0
            keys = self.w_a(memory)  # (B, S, H): W_a hbar_s
        allowed = memory_mask.view(batch, 1, -1)  # (B, 1, S)
        inputs = self.dropout(self.embedding(target))  # (B, T, D)
        attentional, weights = [], []
        for t in range(length):
            step = torch.cat([inputs[:, t], feed], dim=-1)[:, None]  # (B, 1, D + H)
            top, (h, c) = self.decoder(step, (h, c))  # top: (B, 1, H), h_t
            scores = top @ keys.transpose(1, 2)  # (B, 1, S): h_t^T W_a hbar_s, Equation (8)
            align = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)  # Equation (7)
            context = align @ memory  # (B, 1, H): c_t
            h_tilde = torch.tanh(self.w_c(torch.cat([context, top], dim=-1)))  # Equation (5)
            h_tilde = self.dropout(h_tilde)
            feed = h_tilde[:, 0]  # input feeding (Section 3.3)
            attentional.append(h_tilde)
            weights.append(align)
        if keep_weights:
            self.attention_weights = torch.cat(weights, dim=1).detach()  # (B, T, S)
        if cache is not None:
            state.update(h=h.transpose(0, 1), c=c.transpose(0, 1), feed=feed, memory_keys=keys)
        h_tilde = torch.cat(attentional, dim=1)  # (B, T, H)
        return self.projection(h_tilde) @ self.embedding.weight.T  # (B, T, V), Equation (6)

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        """Teacher forcing: logits (B, T, V) for the target shifted right."""
        memory, memory_mask = self.encode(source)
        return self.decode(target, memory, memory_mask)

    def new_cache(self) -> Cache:
        """One dict: the decoder's state (filled by the first cached ``decode``)."""
        return [{}]
