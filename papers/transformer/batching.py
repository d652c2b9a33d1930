"""Section 5.1's batches: "sentence pairs were batched together by approximate sequence length.
Each training batch contained a set of sentence pairs containing approximately 25000 source
tokens and 25000 target tokens."

:class:`TokenBatches` draws each epoch's order from ``seed`` and the epoch alone (so a resumed run
continues the same order): it shuffles the pairs, sorts them by length (a stable sort: equal
lengths stay shuffled), packs neighbours into batches whose padded size stays within
``max_tokens`` on both sides (count x longest sentence), and shuffles the batches.

A batch is global: the ``world_size`` processes and the ``accumulate`` gradient-accumulation
steps of one optimiser step share it. It is cut into ``world_size x accumulate`` pieces by
striding (piece j holds sentences j, j + P, ...); process r takes pieces r, r + W, ... in turn,
so a run of W processes with A accumulation steps makes the same optimiser steps as one process
holding the whole batch. The few sentences that would leave a piece empty at an epoch's end are
left out of that epoch.

With ``tag_tokens``, each index comes as ``(index, tokens)``: ``tokens`` is the global batch's
target token count, by which every piece's summed loss is divided, so that the optimiser step is
the mean over the whole global batch however it is cut.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class TokenBatches(Sampler[list[int]]):
    def __init__(
        self,
        source_lengths: Sequence[int],
        target_lengths: Sequence[int],
        max_tokens: int,
        seed: int,
        world_size: int = 1,
        rank: int = 0,
        accumulate: int = 1,
        shuffle: bool = True,
        tag_tokens: bool = False,
    ) -> None:
        if len(source_lengths) != len(target_lengths):
            raise ValueError("one source and one target length per pair")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        self.source, self.target = list(source_lengths), list(target_lengths)
        self.max_tokens, self.seed, self.shuffle = max_tokens, seed, shuffle
        self.tag_tokens = tag_tokens
        self.world_size, self.rank, self.accumulate = world_size, rank, accumulate
        self.pieces = world_size * accumulate
        longest = max(max(self.source, default=0), max(self.target, default=0))
        if longest * self.pieces > max_tokens:
            raise ValueError(
                f"max_tokens={max_tokens} cannot hold {self.pieces} pieces (processes x "
                f"accumulation steps) of the longest sentence, {longest} tokens; raise it to at "
                f"least {longest * self.pieces} or leave out longer sentences"
            )
        self.epoch = 0
        self.packed: tuple[int, list[list[int]]] | None = None  # (epoch, its batches)

    def set_epoch(self, epoch: int) -> None:  # Lightning calls it at the start of each epoch
        self.epoch = epoch

    def global_batches(self) -> list[list[int]]:
        """This epoch's batches, packed once per epoch (``len`` and iteration both need them)."""
        if self.packed is None or self.packed[0] != self.epoch:
            self.packed = (self.epoch, self.pack())
        return self.packed[1]

    def pack(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        n = len(self.source)
        order = torch.randperm(n, generator=generator).tolist() if self.shuffle else range(n)
        order = sorted(order, key=lambda i: (self.source[i], self.target[i]))
        batches, batch, longest_source, longest_target = [], [], 0, 0
        for i in order:
            s, t = max(longest_source, self.source[i]), max(longest_target, self.target[i])
            if batch and (len(batch) + 1) * max(s, t) > self.max_tokens:
                batches.append(batch)
                batch, s, t = [], self.source[i], self.target[i]
            batch.append(i)
            longest_source, longest_target = s, t
        if batch:
            batches.append(batch)
        if self.shuffle:
            batches = [batches[j] for j in torch.randperm(len(batches), generator=generator)]
        # only the last batch can be too small to cut (sorted lengths and the check above)
        return [batch for batch in batches if len(batch) >= self.pieces]

    def __iter__(self) -> Iterator[list[int]] | Iterator[list[tuple[int, int]]]:
        for batch in self.global_batches():
            tokens = sum(self.target[i] for i in batch)
            for step in range(self.accumulate):
                piece = batch[step * self.world_size + self.rank :: self.pieces]
                yield [(i, tokens) for i in piece] if self.tag_tokens else piece

    def __len__(self) -> int:
        return len(self.global_batches()) * self.accumulate
