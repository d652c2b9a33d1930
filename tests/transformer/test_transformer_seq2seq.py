"""The recurrent baseline (papers/transformer/seq2seq.py): Luong et al. 2015's attention LSTM
behind the Transformer's interface, decoded by papers/transformer/decoding.py."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import sequence_score
from torch import nn

from papers.transformer.decoding import beam_search
from papers.transformer.model import reorder_cache
from papers.transformer.seq2seq import AttentionLSTM

PAD, BOS, EOS = 0, 1, 2


def tiny(vocab_size: int = 11, **options) -> AttentionLSTM:
    """Small and in eval mode; every parameter redrawn from U(-0.5, 0.5) (the paper's
    U(-0.1, 0.1) makes every distribution nearly uniform at this size, and ties blur beam
    tests)."""
    torch.manual_seed(0)
    settings = dict(n_layers=2, d_model=8, hidden=12, dropout=0.0)
    model = AttentionLSTM(vocab_size, **{**settings, **options}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-0.5, 0.5)
    return model


def tokens(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows)


def luong_reference(model: AttentionLSTM, source: torch.Tensor, target: torch.Tensor):
    """Equations (5)-(8) with input feeding written out for one unpadded sentence, one
    nn.LSTMCell per layer holding the decoder's weights: (logits (T, V), a_t(s) (T, S))."""
    memory = model.encoder(model.embedding(source))[0][0]  # (S, H): hbar_s
    cells = []
    for layer in range(model.decoder.num_layers):
        cell = nn.LSTMCell(model.hidden if layer else model.decoder.input_size, model.hidden)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data = getattr(model.decoder, f"{name}_l{layer}").data
        cells.append(cell)
    h = [torch.zeros(1, model.hidden) for _ in cells]
    c = [torch.zeros(1, model.hidden) for _ in cells]
    h_tilde = torch.zeros(model.hidden)  # h~_0
    embedding, w_a, w_c = model.embedding.weight, model.w_a.weight, model.w_c.weight
    logits, aligns = [], []
    for y in target[0]:
        x = torch.cat([embedding[y], h_tilde])[None]  # input feeding
        for layer, cell in enumerate(cells):
            h[layer], c[layer] = cell(x, (h[layer], c[layer]))
            x = h[layer]
        h_t = x[0]
        scores = torch.stack([h_t @ w_a @ memory[s] for s in range(len(memory))])  # general
        align = scores.softmax(dim=0)  # Equation (7)
        context = (align[:, None] * memory).sum(dim=0)  # c_t
        h_tilde = torch.tanh(w_c @ torch.cat([context, h_t]))  # Equation (5)
        logits.append(embedding @ (model.projection.weight @ h_tilde))  # W_s = E P
        aligns.append(align)
    return torch.stack(logits), torch.stack(aligns)


@torch.no_grad()
def test_the_decoder_follows_luongs_equations():
    model = tiny()
    source, target = tokens([5, 6, 7, 3]), tokens([BOS, 4, 5, 9, 3])
    memory, mask = model.encode(source)
    logits = model.decode(target, memory, mask, keep_weights=True)
    expected, aligns = luong_reference(model, source, target)
    assert torch.allclose(logits[0], expected, atol=1e-5)
    assert torch.allclose(model.attention_weights[0], aligns, atol=1e-6)


@torch.no_grad()
@pytest.mark.parametrize("hidden", [12, 8])  # with the projection P to d_model, and without
def test_cached_decoding_equals_teacher_forcing(hidden):
    model = tiny(hidden=hidden)
    source = tokens([5, 6, 7, PAD], [8, 9, 10, 4])
    target = tokens([BOS, 4, 5, 6, 3], [BOS, 7, 8, 9, 10])
    memory, mask = model.encode(source)
    full = model.decode(target, memory, mask)
    cache = model.new_cache()
    steps = [model.decode(target[:, t : t + 1], memory, mask, cache) for t in range(5)]
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-6)
    cache = model.new_cache()  # several new positions per call, too
    chunks = [model.decode(target[:, a:b], memory, mask, cache) for a, b in [(0, 2), (2, 5)]]
    assert torch.allclose(full, torch.cat(chunks, dim=1), atol=1e-6)
    for value in cache[0].values():  # the batch first, for reorder_cache
        assert value.shape[0] == 2


@torch.no_grad()
def test_a_reordered_cache_follows_its_rows():
    """Beam search's reorder_cache: rows (1, 0, 0) of a cached state continue as the full
    decoding of those rows (with 2 layers and 2 sentences, a cache with the layers first would
    swap layers here without an error)."""
    model = tiny()
    source = tokens([5, 6, 7, PAD], [8, 9, 10, 4])
    target = tokens([BOS, 4, 5, 6], [BOS, 7, 8, 9])
    index = torch.tensor([1, 0, 0])
    memory, mask = model.encode(source)
    full = model.decode(target[index], memory[index], mask[index])
    cache = model.new_cache()
    model.decode(target[:, :2], memory, mask, cache)
    cache = reorder_cache(cache, index)
    rest = model.decode(target[index, 2:], memory[index], mask[index], cache)
    assert torch.allclose(full[:, 2:], rest, atol=1e-6)


@torch.no_grad()
def test_padding_never_changes_an_output():
    model = tiny()
    short = model(tokens([5, 6, 7]), tokens([BOS, 4, 5]))
    padded = model(tokens([5, 6, 7, PAD, PAD]), tokens([BOS, 4, 5, PAD]))
    assert torch.allclose(short, padded[:, :3], atol=1e-6)
    # in a batch beside a longer sentence, too
    batch = model(tokens([5, 6, 7, PAD], [8, 9, 10, 4]), tokens([BOS, 4, 5], [BOS, 6, 7]))
    assert torch.allclose(short[0], batch[0], atol=1e-6)
    memory, mask = model.encode(tokens([5, 6, 7, PAD, PAD]))
    assert torch.equal(mask[0, 0, 0], torch.tensor([True, True, True, False, False]))
    assert torch.all(memory[0, 3:] == 0.0)  # packed: padding is never read
    model.decode(tokens([BOS, 4]), memory, mask, keep_weights=True)
    weights = model.attention_weights[0]  # (T, S): a distribution over the 3 tokens
    assert torch.all(weights[:, 3:] == 0.0)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2), atol=1e-6)


@torch.no_grad()
def test_one_matrix_is_shared_by_both_embeddings_and_the_softmax():
    model = tiny()
    matrices = [p for p in model.parameters() if p.shape == (11, 8)]
    assert len(matrices) == 1 and matrices[0].data_ptr() == model.embedding.weight.data_ptr()
    model.embedding.weight[9] = 0.0
    logits = model(tokens([5, 9, 7]), tokens([BOS, 9, 5]))
    assert torch.all(logits[..., 9] == 0.0)  # the softmax reads the same (zeroed) row
    changed = model(tokens([5, 6, 7]), tokens([BOS, 9, 5]))
    assert not torch.allclose(logits, changed, atol=1e-3)  # source token 9 embeds as zero
    target_changed = model(tokens([5, 9, 7]), tokens([BOS, 6, 5]))
    assert torch.allclose(logits[:, 0], target_changed[:, 0], atol=1e-6)
    assert not torch.allclose(logits[:, 1:], target_changed[:, 1:], atol=1e-3)  # and target 9


@torch.no_grad()
def test_the_first_step_sees_the_source_through_the_context_only():
    """The decoder starts from a zero state, so its first logits depend on the source through
    c_1 alone: a changed source token changes them."""
    model = tiny()
    first = model(tokens([5, 6, 7]), tokens([BOS]))
    changed = model(tokens([5, 6, 4]), tokens([BOS]))
    assert not torch.allclose(first, changed, atol=1e-3)


@torch.no_grad()
def test_input_feeding_carries_the_attentional_state():
    """Section 3.3: step 2's input holds h~_1; zeroing it in the cache changes step 2's logits
    (and nothing else in the cache does: the same state with h~_1 gives the full decoding)."""
    model = tiny()
    source, target = tokens([5, 6, 7]), tokens([BOS, 4])
    memory, mask = model.encode(source)
    full = model.decode(target, memory, mask)
    cache = model.new_cache()
    model.decode(target[:, :1], memory, mask, cache)
    zeroed = [{**cache[0], "feed": torch.zeros_like(cache[0]["feed"])}]
    assert cache[0]["feed"].abs().min() > 0.0
    fed = model.decode(target[:, 1:], memory, mask, cache)
    unfed = model.decode(target[:, 1:], memory, mask, zeroed)
    assert torch.allclose(fed, full[:, 1:], atol=1e-6)
    assert not torch.allclose(fed, unfed, atol=1e-3)


def test_dropout_acts_in_training_only():
    model = tiny(dropout=0.5).train()
    source, target = tokens([5, 6, 7]), tokens([BOS, 4, 5])
    assert not torch.allclose(model(source, target), model(source, target))
    model.eval()
    assert torch.equal(model(source, target), model(source, target))


def test_the_papers_initialisation():
    torch.manual_seed(0)
    model = AttentionLSTM(11, d_model=8, hidden=12)
    for parameter in model.parameters():
        assert parameter.abs().max() <= 0.1  # Section 4.1: U(-0.1, 0.1), every parameter


def test_beam_four_scores_its_hypotheses_as_teacher_forcing_does():
    """One hypothesis per sentence, scored log P / lp exactly as the full recomputation
    scores it: the cached, reordered beams of decoding.py carry the LSTM state correctly."""
    model = tiny()
    sources = tokens([5, 6, 7, PAD], [8, 9, 10, 4], [3, PAD, PAD, PAD])
    results = beam_search(model, sources, BOS, EOS, 4, 0.6, max_extra=5)
    assert len(results) == 3
    for (hypothesis, score), source in zip(results, sources, strict=True):
        source = source[source != PAD][None]
        full = hypothesis + [EOS] if len(hypothesis) < source.shape[1] + 5 else hypothesis
        assert math.isfinite(score)
        assert score == pytest.approx(sequence_score(model, source, full, 0.6), abs=1e-4)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_layers must be at least 1, got 0"):
        AttentionLSTM(11, n_layers=0)
    with pytest.raises(ValueError, match="hidden must be at least 1, got -4"):
        AttentionLSTM(11, hidden=-4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        AttentionLSTM(11, dropout=1.0)
    with pytest.raises(ValueError, match=r"pad_id must be a token of the vocabulary \[0, 11\)"):
        AttentionLSTM(11, pad_id=11)
    model = tiny()
    with pytest.raises(ValueError, match="pad on the right"):
        model.encode(tokens([5, PAD, 7]))
    with pytest.raises(ValueError, match="at least one token"):
        model.encode(tokens([5, 6], [PAD, PAD]))
