"""Token batches (papers/transformer/batching.py)."""

from __future__ import annotations

import random

import pytest

from papers.transformer.batching import TokenBatches


def lengths(n: int = 300, seed: int = 0) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    source = [rng.randint(2, 30) for _ in range(n)]
    return source, [max(2, s + rng.randint(-3, 3)) for s in source]


def test_batches_hold_at_most_max_tokens_and_every_pair_once():
    source, target = lengths()
    batches = TokenBatches(source, target, max_tokens=200, seed=0).global_batches()
    assert sorted(i for b in batches for i in b) == list(range(300))
    for batch in batches:
        assert len(batch) * max(max(source[i], target[i]) for i in batch) <= 200
    # by length: a batch's sentences are close in length (little padding)
    assert sum(len(b) for b in batches) / len(batches) > 200 / 30


def test_the_order_depends_on_seed_and_epoch_only():
    source, target = lengths()
    first = TokenBatches(source, target, 200, seed=0)
    first.set_epoch(3)
    resumed = TokenBatches(source, target, 200, seed=0)  # a new process after a resume
    resumed.set_epoch(3)
    assert list(first) == list(resumed)
    resumed.set_epoch(4)
    assert list(first) != list(resumed)
    other = TokenBatches(source, target, 200, seed=1)
    other.set_epoch(3)
    assert list(first) != list(other)


@pytest.mark.parametrize(("world_size", "accumulate"), [(2, 1), (1, 3), (2, 2)])
def test_processes_and_accumulation_share_one_global_batch(world_size, accumulate):
    source, target = lengths()
    whole = TokenBatches(source, target, 400, seed=0).global_batches()
    shares = [
        list(TokenBatches(source, target, 400, 0, world_size, r, accumulate))
        for r in range(world_size)
    ]
    pieces = world_size * accumulate
    kept = [b for b in whole if len(b) >= pieces]
    for step, batch in enumerate(kept):
        together = [
            i
            for r in range(world_size)
            for i in sum(shares[r][step * accumulate : (step + 1) * accumulate], [])
        ]
        assert sorted(together) == sorted(batch)
    assert all(len(share) == len(kept) * accumulate for share in shares)


def test_a_budget_too_small_for_the_longest_sentence_is_refused():
    with pytest.raises(ValueError, match="max_tokens=50 cannot hold 2 pieces .* 30 tokens"):
        TokenBatches([30, 5], [4, 5], max_tokens=50, seed=0, world_size=2)
    with pytest.raises(ValueError, match="rank 2 is not one of 2"):
        TokenBatches([3], [3], 100, 0, world_size=2, rank=2)
