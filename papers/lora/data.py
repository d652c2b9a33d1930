"""Sentence classification for LoRA: SST-2 from the data directory, or a generated task.

- :func:`read_sst2`: GLUE's SST-2 as ``<data_dir>/sst2/{train,dev,test}.tsv`` (header
  ``sentence<TAB>label``). Here ``train`` + ``dev`` are GLUE's training set (60,614 + 6,735
  sentences) and ``test`` is GLUE's labelled development set (872), the split the paper reports
  (Table 2): we train on ``train``, choose the checkpoint on ``dev`` and report ``test``.
- :func:`generated_reviews`: the offline default, short reviews whose sentiment needs the words'
  order: a negation flips it ("the plot was not dull"), and after "but" the second clause decides
  ("the acting is great but the ending was awful").
- :class:`SentenceData`: tokenised by the base model's own tokenizer, in batches of sentences of
  similar length (SST-2's sentences average 13 tokens; padding each batch to its longest sentence
  instead of a fixed length cuts the work several-fold).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from common.data import file_digest, missing
from common.errors import ConfigError, DataIntegrityError

SST2_SPLITS = {"train": "train", "val": "dev", "test": "test"}
TASKS = ("generated", "sst2")


def read_sst2(data_dir: str | Path, split: str) -> list[tuple[str, int]]:
    """(sentence, label) pairs of one split; a missing file, header or bad label is an error."""
    path = Path(data_dir) / "sst2" / f"{SST2_SPLITS[split]}.tsv"
    if not path.exists():
        raise missing("SST-2", [path], "GLUE's SST-2 as TSV files, header sentence<TAB>label.")
    file_digest(path)  # recorded with the run
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != ["sentence", "label"]:
        raise DataIntegrityError(f"{path}: the first line must be sentence<TAB>label")
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or row[1] not in ("0", "1"):
            raise DataIntegrityError(f"{path}, line {line}: expected sentence<TAB>0 or 1: {row}")
        pairs.append((row[0], int(row[1])))
    return pairs


SUBJECTS = ("the film", "this movie", "the plot", "the acting", "the ending", "the script",
            "the music", "the cast", "the story", "the dialogue")  # fmt: skip
VERBS = ("is", "was", "feels", "seemed")
INTENSIFIERS = ("", "really ", "very ", "rather ", "quite ")
POSITIVE = ("good", "great", "wonderful", "moving", "funny", "brilliant", "charming", "clever",
            "fresh", "gripping")  # fmt: skip
NEGATIVE = ("bad", "dull", "boring", "awful", "weak", "tedious", "clumsy", "bland", "silly",
            "predictable")  # fmt: skip


def generated_reviews(count: int, seed: int) -> list[tuple[str, int]]:
    """``count`` reviews with their sentiment (1 positive): one or two clauses ("A but B": B
    decides), each a subject, a verb, an optional "not" (flips it) and an adjective."""
    rng = random.Random(seed)

    def clause() -> tuple[str, int]:
        positive = rng.random() < 0.5
        adjective = rng.choice(POSITIVE if positive else NEGATIVE)
        negated = rng.random() < 0.4
        words = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {'not ' if negated else ''}"
        return words + rng.choice(INTENSIFIERS) + adjective, int(positive != negated)

    reviews = []
    for _ in range(count):
        text, label = clause()
        if rng.random() < 0.4:
            second, label = clause()
            text = f"{text} but {second}"
        reviews.append((text, label))
    return reviews


class LengthBatches(Sampler[list[int]]):
    """Batches of ``batch_size`` sentences of similar length: shuffled, cut into pools of
    ``pool_batches`` batches (1: plain random batches), each pool sorted by length and cut into
    batches, the batches shuffled (a fresh order each epoch, from ``seed`` and the epoch).
    ``batch_size`` is the global batch: process ``rank`` of ``world_size`` takes sentences rank,
    rank + world_size, ... of each batch; the last batch, if it has fewer sentences than
    processes, joins the batch before it (the one place where the processes' batches differ from
    one process's)."""

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        pool_batches: int = 50,
    ) -> None:
        self.lengths, self.batch_size, self.shuffle, self.seed = lengths, batch_size, shuffle, seed
        self.rank, self.world_size, self.pool_batches = rank, world_size, pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        order = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        if self.shuffle:
            rng.shuffle(order)
        pool = self.pool_batches * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=self.lengths.__getitem__)
            size = self.batch_size
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        if len(batches) > 1 and len(batches[-1]) < self.world_size:  # a process would get none
            batches[-2:] = [batches[-2] + batches[-1]]
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self):
        for batch in self.batches():
            yield batch[self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self.batches())


class SentenceData(L.LightningDataModule):
    """Sentences and labels for :class:`papers.lora.module.LoRAClassifier`.

    task: "generated" (no files) or "sst2" (``data_dir``). ``train_size``/``val_size``: the first
    sentences of a shuffled training/development split (null: all); the test split is whole."""

    def __init__(
        self,
        task: str = "generated",
        data_dir: str | None = None,
        base: str = "minilm",
        batch_size: int = 16,
        eval_batch_size: int = 128,
        max_length: int = 128,
        train_size: int | None = None,
        val_size: int | None = None,
        test_size: int = 1000,
        data_seed: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"data.task={task!r}: expected one of {', '.join(TASKS)}")
        if task == "sst2" and not data_dir:
            raise ConfigError("the sst2 task reads data.data_dir; none is set")
        self.save_hyperparameters()
        self.splits: dict[str, dict[str, Tensor | list[int]]] = {}

    def read(self) -> dict[str, list[tuple[str, int]]]:
        hp = self.hparams
        if hp.task == "sst2":
            splits = {s: read_sst2(hp.data_dir, s) for s in SST2_SPLITS}
        else:  # the generated task: the sizes are its splits' sizes
            sizes = {
                "train": hp.train_size or 4000,
                "val": hp.val_size or 500,
                "test": hp.test_size,
            }
            splits = {
                s: generated_reviews(n, hp.data_seed + i) for i, (s, n) in enumerate(sizes.items())
            }
        for split, size in (("train", hp.train_size), ("val", hp.val_size)):
            if size is not None and hp.task == "sst2":
                rows = splits[split]
                random.Random(hp.data_seed).shuffle(rows)
                splits[split] = rows[:size]
        return splits

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from papers.lora.base import load_tokenizer

        tokenizer = load_tokenizer(self.hparams.base)
        for split, rows in self.read().items():
            if not rows:
                raise DataIntegrityError(f"the {split} split of {self.hparams.task} is empty")
            encoded = tokenizer(
                [text for text, _ in rows], truncation=True, max_length=self.hparams.max_length
            )["input_ids"]
            self.splits[split] = {"ids": encoded, "labels": [label for _, label in rows]}

    def collate(self, split: str):
        data = self.splits[split]

        def batch(indices: list[int]) -> dict[str, Tensor]:
            rows = [data["ids"][i] for i in indices]
            width = max(map(len, rows))
            ids = torch.zeros(len(rows), width, dtype=torch.long)  # BERT's [PAD] is 0
            mask = torch.zeros(len(rows), width, dtype=torch.long)
            for i, row in enumerate(rows):
                ids[i, : len(row)] = torch.tensor(row)
                mask[i, : len(row)] = 1
            labels = torch.tensor([data["labels"][i] for i in indices])
            return {"input_ids": ids, "attention_mask": mask, "labels": labels}

        return batch

    def loader(self, split: str, train: bool) -> DataLoader:
        hp = self.hparams
        lengths = [len(row) for row in self.splits[split]["ids"]]
        size = hp.batch_size if train else hp.eval_batch_size
        trainer = self.trainer
        world_size, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = LengthBatches(lengths, size, train, hp.seed, rank, world_size)
        return DataLoader(
            range(len(lengths)), batch_sampler=sampler, collate_fn=self.collate(split)
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", train=False)
