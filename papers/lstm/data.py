"""Sequences of the experiments of Section 5, served to Lightning.

Training is online (Section 5: "weight changes ... after each sequence"): every training batch is
fresh, drawn from a seeded generator whose state goes into each checkpoint, so a resumed run sees
the sequences an uninterrupted one would. An "epoch" is just ``sequences_per_epoch`` training
sequences, after which the validation set is evaluated (and the stopping rules on a test sample are
checked). The validation and test sets are fixed by their own seed. Under DDP every process draws
the same global batch and keeps its share, and evaluates the whole validation and test sets, so
every process judges the same sequences and takes the same decision to stop.

Experiment 1 is the exception the paper makes: its training exemplars are drawn from a fixed set of
256 strings and its test set holds 256 other strings; the validation set is both (the stopping rule
asks for all 512 to be predicted correctly).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from common.distributed import per_device_batch_size
from papers.lstm import tasks
from papers.lstm.tasks import Batch, TaskSettings

SPLIT_OFFSETS = {"val": 0, "test": 500_000}  # chunk seeds: eval_seed * 1,000,000 + offset + i


def settings_for(task: str | int, task_options: dict[str, Any] | None) -> TaskSettings:
    """``tasks.task_settings`` of a task given on the command line (``task=4`` arrives as 4)."""
    return tasks.task_settings(str(task), **(task_options or {}))


def trim(batch: Batch) -> Batch:
    """Drop the padding after the last step with a target (Exp. 1: the last step with input)."""
    steps = int(batch.mask.any(0).nonzero().max()) + 1
    return Batch(*(tensor[:, :steps] for tensor in batch))


class TrainingSequences(IterableDataset):
    """``n_batches`` fresh batches per pass: each draws a global batch of ``batch_size`` sequences
    from ``generator`` (for Experiment 1: from the fixed training strings ``pool``) and keeps this
    process's share, so that every process draws the same and one process sees what several do."""

    def __init__(
        self,
        settings: TaskSettings,
        batch_size: int,
        n_batches: int,
        generator: torch.Generator,
        pool: Batch | None = None,
        share: slice = slice(None),
    ) -> None:
        self.settings, self.batch_size, self.n_batches = settings, batch_size, n_batches
        self.generator, self.pool, self.share = generator, pool, share

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[Batch]:
        for _ in range(self.n_batches):
            yield self.draw().select(self.share)

    def draw(self) -> Batch:
        if self.pool is None:
            return tasks.generate(self.settings, self.batch_size, self.generator)
        index = torch.randint(len(self.pool.inputs), (self.batch_size,), generator=self.generator)
        return trim(self.pool.select(index))


class EvaluationSet(IterableDataset):
    """A fixed set of sequences in ``n_chunks`` chunks made by ``chunk(i)``; an iterable, so that
    every process evaluates all of it (no distributed sampler splits it)."""

    def __init__(self, chunk: Callable[[int], Batch], n_chunks: int) -> None:
        self.chunk, self.n_chunks = chunk, n_chunks

    def __len__(self) -> int:
        return self.n_chunks

    def __iter__(self) -> Iterator[Batch]:
        return (self.chunk(index) for index in range(self.n_chunks))


def generated_set(settings: TaskSettings, size: int, chunk_size: int, seed: int) -> EvaluationSet:
    """``size`` random sequences; chunk ``i`` is regenerated on every pass from the seed
    ``seed + i``, so even Exp. 2's 10,000 sequences of 101 units take no memory."""

    def chunk(index: int) -> Batch:
        n = min(chunk_size, size - index * chunk_size)
        return tasks.generate(settings, n, torch.Generator().manual_seed(seed + index))

    return EvaluationSet(chunk, math.ceil(size / chunk_size))


def fixed_set(batches: list[Batch]) -> EvaluationSet:
    return EvaluationSet(batches.__getitem__, len(batches))


class SequenceDataModule(L.LightningDataModule):
    """Args:
    task, task_options: the experiment (a key of ``tasks.SETTINGS``) and its variation, e.g.
        ``{"T": 1000}`` (``tasks.task_settings``).
    batch_size: sequences per weight update, the global batch (1 is the paper's online learning).
    sequences_per_epoch: training sequences between two evaluations of the validation set.
    val_size: validation sequences where the stopping rule looks at recent training sequences
        (Exp. 4-6); where it looks at a test sample (Exp. 1-3) the validation set is that sample,
        of the rule's size.
    test_size: sequences of the final test set; None: the paper's (``TaskSettings.test_size``).
    eval_batch_size: sequences per validation / test batch.
    seed: seeds the training sequences; eval_seed: the fixed validation and test sets.
    """

    def __init__(
        self,
        task: str | int,
        task_options: dict[str, Any] | None = None,
        batch_size: int = 1,
        sequences_per_epoch: int = 10_000,
        val_size: int = 2560,
        test_size: int | None = None,
        eval_batch_size: int = 256,
        seed: int = 0,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.settings = settings_for(task, task_options)
        if sequences_per_epoch < batch_size:
            raise ValueError(
                f"sequences_per_epoch={sequences_per_epoch} is below batch_size={batch_size}"
            )
        self.generator: torch.Generator | None = None
        self.splits: dict[str, EvaluationSet] = {}
        self.pool: Batch | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp, settings = self.hparams, self.settings
        self.generator = torch.Generator().manual_seed(hp.seed)
        if settings.task == "1":
            self.pool, test = tasks.reber_train_test(
                generator=torch.Generator().manual_seed(hp.eval_seed)
            )
            self.splits = {"val": fixed_set([self.pool, test]), "test": fixed_set([test])}
            return
        rule = settings.stop
        val_size = rule.size if rule.source == "test" else hp.val_size
        test_size = settings.test_size if hp.test_size is None else hp.test_size
        evaluated = settings.for_evaluation()
        self.splits = {
            split: generated_set(
                evaluated, size, hp.eval_batch_size, hp.eval_seed * 1_000_000 + SPLIT_OFFSETS[split]
            )
            for split, size in (("val", val_size), ("test", test_size))
        }

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        world_size = self.trainer.world_size if self.trainer is not None else 1
        rank = self.trainer.global_rank if self.trainer is not None else 0
        per_device = per_device_batch_size(hp.batch_size, world_size)
        share = slice(rank * per_device, (rank + 1) * per_device)
        n_batches = hp.sequences_per_epoch // hp.batch_size
        dataset = TrainingSequences(
            self.settings, hp.batch_size, n_batches, self.generator, self.pool, share
        )
        return DataLoader(dataset, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=None)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=None)

    def state_dict(self) -> dict[str, Any]:
        """The training generator's state: a resumed run continues its stream of sequences."""
        return {"generator": self.generator.get_state()} if self.generator is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.setup()
            self.generator.set_state(state["generator"])
