"""Section 6.1's decoding: beam search with beam 4 and length penalty alpha = 0.6, at most the
input length + 50 tokens, stopping early; greedy decoding is beam 1.

The length penalty is GNMT's (Wu et al. 2016), lp(Y) = ((5 + |Y|) / 6)^alpha, where |Y| counts the
generated tokens with the end-of-sentence token; a finished hypothesis is ranked by
log P(Y | X) / lp(Y). The beams of a batch run together (B x k rows) with cached keys and values
(``model.Transformer.decode``).

Early stopping, as in fairseq: at each step the 2k best continuations of the k live hypotheses
are ranked by log-probability; an end-of-sentence among the first k of them finishes a hypothesis,
and the k best of the others live on. A sentence is done when k hypotheses have finished (or at
the length limit, when the live ones finish too). With k = 1 this is exactly greedy decoding.
"""

from __future__ import annotations

import torch
from torch import Tensor

from papers.transformer.model import Transformer, reorder_cache


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6)^alpha."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: Transformer,
    source: Tensor,  # (B, S) token ids, padded with model.pad_id
    bos_id: int,
    eos_id: int,
    beam_size: int = 4,
    alpha: float = 0.6,
    max_extra: int = 50,
) -> list[tuple[list[int], float]]:
    """The best hypothesis of each sentence (token ids without BOS and EOS) and its score
    log P / lp. A sentence of S tokens (padding excluded) gets at most S + ``max_extra`` tokens."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    batch, k = source.shape[0], beam_size
    device = source.device
    lengths = (source != model.pad_id).sum(dim=1)  # (B,)
    limits = (lengths + max_extra).tolist()
    memory, memory_mask = model.encode(source)
    rows = torch.arange(batch, device=device).repeat_interleave(k)  # (B k,)
    memory, memory_mask = memory[rows], memory_mask[rows]
    cache = model.new_cache()
    alive = torch.full((batch * k, 1), bos_id, dtype=torch.long, device=device)  # (B k, t)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis to start: the others are copies of it
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch
    for step in range(1, max(limits) + 1):
        logits = model.decode(alive[:, -1:], memory, memory_mask, cache)[:, -1]  # (B k, V)
        log_probs = logits.float().log_softmax(dim=-1)
        vocab = log_probs.shape[-1]
        candidates = (scores[:, :, None] + log_probs.view(batch, k, vocab)).view(batch, -1)
        top_scores, top = candidates.topk(min(2 * k, candidates.shape[1]), dim=1)  # (B, 2k)
        # read once per step as Python lists: the loop below looks at each candidate
        top_scores, beams, tokens = (
            top_scores.tolist(),
            (top // vocab).tolist(),
            (top % vocab).tolist(),
        )
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(batch):
            keep: list[int] = []
            for rank in range(len(tokens[b])):
                score = top_scores[b][rank]
                row = b * k + beams[b][rank]
                if done[b] or score == float("-inf"):
                    break
                if tokens[b][rank] == eos_id:
                    if rank < k:  # an end among the k best: the hypothesis finishes
                        hypothesis = alive[row, 1:].tolist()
                        finished[b].append((score / length_penalty(step, alpha), hypothesis))
                    continue
                if len(keep) < k:
                    keep.append(rank)
            if not done[b] and len(finished[b]) >= k:
                done[b] = True
            at_limit = step >= limits[b]
            if not done[b] and at_limit:  # the live hypotheses finish at the length limit
                for rank in keep:
                    row = b * k + beams[b][rank]
                    hypothesis = [*alive[row, 1:].tolist(), tokens[b][rank]]
                    score = top_scores[b][rank] / length_penalty(step, alpha)
                    finished[b].append((score, hypothesis))
                done[b] = True
            slots = (
                []
                if done[b]
                else [
                    (b * k + beams[b][rank], tokens[b][rank], top_scores[b][rank]) for rank in keep
                ]
            )
            # filler rows (a finished sentence, or fewer than k live): score -inf, never chosen
            slots += [(b * k, eos_id, float("-inf"))] * (k - len(slots))
            for row, token, score in slots:
                next_rows.append(row)
                next_tokens.append(token)
                next_scores.append(score)
        if all(done):
            break
        index = torch.tensor(next_rows, device=device)
        alive = torch.cat([alive[index], torch.tensor(next_tokens, device=device)[:, None]], 1)
        scores = torch.tensor(next_scores, device=device).view(batch, k)
        cache = reorder_cache(cache, index)
    return [(best[1], best[0]) for best in (max(found, key=lambda f: f[0]) for found in finished)]


def greedy(model: Transformer, source: Tensor, bos_id: int, eos_id: int, max_extra: int = 50):
    """Beam search with beam 1."""
    return beam_search(model, source, bos_id, eos_id, beam_size=1, alpha=0.0, max_extra=max_extra)
