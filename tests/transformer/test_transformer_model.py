"""The Transformer's network and decoding (papers/transformer/model.py, decoding.py)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from helpers import argmax_decode, sequence_score

from papers.transformer.decoding import beam_search, greedy, length_penalty
from papers.transformer.model import Transformer, causal_mask, sinusoids

PAD, BOS, EOS = 0, 1, 2


def tiny(**options) -> Transformer:
    torch.manual_seed(0)
    settings = dict(vocab_size=11, n_layers=2, d_model=16, d_ff=32, heads=4, dropout=0.0)
    return Transformer(**{**settings, **options}).eval()


def tokens(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows)


def test_sinusoids_follow_section_3_5():
    table = sinusoids(50, 8)
    for pos, i in [(0, 0), (3, 1), (17, 2), (49, 3)]:
        angle = pos / 10000 ** (2 * i / 8)
        assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_causal_mask_blocks_the_future():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool())
    model = tiny()
    source = tokens([5, 6, 7])
    logits = model(source, tokens([BOS, 4, 5, 6]))
    changed = model(source, tokens([BOS, 4, 9, 3]))  # positions 2 and 3 changed
    assert torch.allclose(logits[:, :2], changed[:, :2], atol=1e-6)
    assert not torch.allclose(logits[:, 2:], changed[:, 2:], atol=1e-3)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_padding_never_changes_an_output(norm):
    model = tiny(norm=norm)
    short = model(tokens([5, 6, 7]), tokens([BOS, 4, 5]))
    padded = model(tokens([5, 6, 7, PAD, PAD]), tokens([BOS, 4, 5, PAD]))
    assert torch.allclose(short, padded[:, :3], atol=1e-5)
    # in a batch beside a longer sentence, too
    batch = model(tokens([5, 6, 7, PAD], [8, 9, 10, 4]), tokens([BOS, 4, 5], [BOS, 6, 7]))
    assert torch.allclose(short[0], batch[0], atol=1e-5)


def test_one_matrix_is_shared_by_both_embeddings_and_the_softmax():
    model = tiny()
    matrices = [p for p in model.parameters() if p.shape == (11, 16)]
    assert len(matrices) == 1 and matrices[0] is model.embedding.weight
    with torch.no_grad():
        model.embedding.weight[9] = 0.0
    logits = model(tokens([5, 9, 7]), tokens([BOS, 9, 5]))
    assert torch.all(logits[..., 9] == 0.0)  # the projection reads the same (zeroed) row
    changed = model(tokens([5, 6, 7]), tokens([BOS, 9, 5]))
    assert not torch.allclose(logits, changed)  # source token 9 embeds as the zero row


def test_post_and_pre_layer_norm_differ_where_the_paper_says():
    post, pre = tiny(norm="post"), tiny(norm="pre")
    assert isinstance(post.encoder_norm, torch.nn.Identity)
    assert isinstance(pre.encoder_norm, torch.nn.LayerNorm)
    x = torch.randn(1, 3, 16)
    residual = post.encoder[0].residuals[1]
    out = residual(x, lambda h: h * 0)  # post-LN: LayerNorm(x + 0)
    assert torch.allclose(out, torch.nn.functional.layer_norm(x, (16,)), atol=1e-5)
    residual = pre.encoder[0].residuals[1]
    assert torch.equal(residual(x, lambda h: h * 0), x)  # pre-LN: x + 0


def test_embeddings_are_scaled_by_sqrt_d_model_and_add_positions():
    model = tiny()
    embedded = model.embed(tokens([3, 4]))
    expected = model.embedding.weight[[3, 4]] * 4.0 + sinusoids(2, 16)
    assert torch.allclose(embedded[0], expected, atol=1e-6)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_cached_decoding_equals_full_recomputation(positions):
    model = tiny(positions=positions)
    source, target = tokens([5, 6, 7, PAD], [8, 9, 10, 4]), tokens([BOS, 4, 5, 6], [BOS, 7, 8, 9])
    memory, mask = model.encode(source)
    full = model.decode(target, memory, mask)
    cache = model.new_cache()
    steps = [model.decode(target[:, t : t + 1], memory, mask, cache) for t in range(4)]
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="positions"):
        tiny(positions="rotary")
    with pytest.raises(ValueError, match="norm"):
        tiny(norm="sandwich")
    with pytest.raises(ValueError, match="multiple of heads"):
        tiny(heads=3)
    with pytest.raises(ValueError, match="max_positions=4"):
        tiny(max_positions=4)(tokens([5, 6, 7, 8, 9]), tokens([BOS]))


def test_length_penalty_is_gnmts():
    assert length_penalty(1, 0.6) == 1.0
    assert length_penalty(7, 0.6) == pytest.approx(2.0**0.6)
    assert length_penalty(7, 0.0) == 1.0


def lstm(vocab_size: int = 11) -> torch.nn.Module:
    """The recurrent baseline (seq2seq.py), its weights spread so that beams do not tie."""
    from papers.transformer.seq2seq import AttentionLSTM

    torch.manual_seed(3)
    model = AttentionLSTM(vocab_size, n_layers=2, d_model=8, hidden=12, dropout=0.0).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-0.5, 0.5)
    return model


NETWORKS = {  # decoding.py serves both networks of the module
    "transformer": lambda vocab_size: tiny(vocab_size=vocab_size, n_layers=1),
    "lstm_attention": lstm,
}


@pytest.mark.parametrize("network", NETWORKS)
def test_beam_one_equals_greedy(network):
    model = NETWORKS[network](11)
    sources = tokens([5, 6, 7, PAD], [8, 9, 10, 4], [3, PAD, PAD, PAD])
    results = greedy(model, sources, BOS, EOS, max_extra=6)
    for row, (hypothesis, _) in zip(sources, results, strict=True):
        limit = int((row != PAD).sum()) + 6
        assert hypothesis == argmax_decode(model, row[row != PAD][None], limit)
    assert beam_search(model, sources, BOS, EOS, beam_size=1, alpha=0.0, max_extra=6) == results


@pytest.mark.parametrize("network", NETWORKS)
def test_a_wide_beam_finds_the_exhaustive_best(network):
    """Vocabulary 5, at most 3 tokens: every hypothesis fits in the beam, so the search must
    return the best of all of them under log P / lp (checked by enumerating them)."""
    model = NETWORKS[network](5)
    source = tokens([3, 4])
    limit, alpha = 3, 0.6
    candidates = []
    for length in range(1, limit + 1):
        for prefix in itertools.product(range(5), repeat=length - 1):
            if EOS in prefix:
                continue
            candidates.append([*prefix, EOS])  # ended by EOS
            if length == limit:  # or cut at the limit
                candidates += [[*prefix, last] for last in range(5) if last != EOS]
    best = max(candidates, key=lambda h: sequence_score(model, source, h, alpha))
    ((hypothesis, score),) = beam_search(model, source, BOS, EOS, 125, alpha, max_extra=1)
    assert hypothesis == [t for t in best if t != EOS]
    assert score == pytest.approx(sequence_score(model, source, best, alpha), abs=1e-5)


def test_beam_search_ranks_by_the_length_penalised_score():
    model = tiny()
    sources = tokens([5, 6, 7], [8, 9, 10])
    for (hypothesis, score), source in zip(
        beam_search(model, sources, BOS, EOS, 4, 0.6, max_extra=5), sources, strict=True
    ):
        full = hypothesis + [EOS] if len(hypothesis) < 8 else hypothesis
        assert score == pytest.approx(sequence_score(model, source[None], full, 0.6), abs=1e-4)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, sources, BOS, EOS, beam_size=0)


def test_attention_is_scaled_dot_product():
    from papers.transformer.model import MultiHeadAttention

    torch.manual_seed(1)
    attention = MultiHeadAttention(d_model=8, heads=2, d_k=4, d_v=4)
    query, memory = torch.randn(1, 3, 8), torch.randn(1, 5, 8)
    mask = torch.tensor([True, True, True, True, False])[None, None, None, :]
    out = attention(query, *attention.project_keys(memory), mask)
    q, k, v = attention.w_q(query), attention.w_k(memory), attention.w_v(memory)
    heads = []
    for h in range(2):
        part = slice(4 * h, 4 * h + 4)
        scores = q[0, :, part] @ k[0, :4, part].T / 2.0  # sqrt(d_k) = 2; the padded key masked
        heads.append(scores.softmax(-1) @ v[0, :4, part])
    assert torch.allclose(out[0], attention.w_o(torch.cat(heads, -1)), atol=1e-6)


class TableModel:
    """A hand-built 'model' for beam search: the next-token log-probabilities depend on the
    previous token only (``table[previous]``), so every sequence's score is known by hand."""

    pad_id = PAD

    def __init__(self, table: dict[int, list[float]]) -> None:
        self.table = table

    def encode(self, source):
        return torch.zeros(source.shape[0], 1, 1), torch.ones(source.shape[0], 1, 1, 1).bool()

    def new_cache(self):
        return [{"keys": torch.zeros(0, 1, 0, 1)}]

    def decode(self, target, memory, memory_mask, cache):
        cache[0]["keys"] = torch.zeros(target.shape[0], 1, 1, 1)
        rows = [self.table[int(t)] for t in target[:, -1]]
        return torch.tensor(rows).log()[:, None, :]


def test_an_end_below_the_kth_candidate_does_not_finish_a_hypothesis():
    # after BOS: token 3 (p 0.6) or EOS (p 0.3, the second candidate); after 3: EOS (p 0.9)
    table = {BOS: [1e-9, 1e-9, 0.3, 0.6, 0.1], 3: [1e-9, 1e-9, 0.9, 0.05, 0.05]}
    table[4] = table[3]
    model = TableModel(table)
    source = tokens([3])
    ((hypothesis, score),) = greedy(model, source, BOS, EOS, max_extra=4)
    assert hypothesis == [3]  # greedy: 3, then EOS; the early EOS was only second best
    assert score == pytest.approx(math.log(0.6) + math.log(0.9))
    # beam 2 keeps both: [] scores log 0.3 / lp(1) = -1.20, [3] (log 0.54) / lp(2)^0.6
    ((hypothesis, score),) = beam_search(model, source, BOS, EOS, 2, 0.6, max_extra=4)
    assert hypothesis == [3]
    assert score == pytest.approx(math.log(0.54) / length_penalty(2, 0.6))
    ((hypothesis, _),) = beam_search(model, source, BOS, EOS, 2, 0.0, max_extra=4)
    assert hypothesis == [3]
