"""Parallel text for the Transformer: the files, a generated task, and the joint BPE vocabulary.

- :func:`read_parallel`: two aligned files (``.gz`` or plain, one sentence per line), refused when
  their line counts differ (both counts named); :func:`multi30k` reads Multi30k task 1 EN-DE
  from ``<data_dir>/multi30k/{train,val,test_2016_flickr}.{en,de}.gz``.
- :func:`numbers`: the offline default's generated task, numbers in digits translated into German
  number words ("372 15" -> "dreihundertzweiundsiebzig fünfzehn"; ``num2words``). German puts the
  units before the tens ("zweiundsiebzig", two-and-seventy), so attention is not monotonic.
- :func:`train_bpe`: one BPE vocabulary for both languages (Section 5.1's "shared source-target
  vocabulary"), learnt with Hugging Face ``tokenizers`` on the training split only. It works on raw
  text with a word-boundary marker (``Metaspace``), so that decoding restores the text exactly
  for sacreBLEU (the paper applied BPE to tokenised text).
- :func:`training_pairs`: what the paper's pipeline (tensor2tensor) does with awkward lines in
  training: a pair with an empty side, or a side longer than ``max_length`` tokens, is left out,
  and the counts say how many. Evaluation splits are never filtered: every test sentence is
  translated, an empty one to an empty line.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from common.data import file_digest, missing, read_gzip_or_raw
from common.errors import ConfigError, DataIntegrityError, MissingDataError
from papers.transformer.batching import TokenBatches

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3

MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}


def read_lines(path: Path) -> list[str]:
    file_digest(path)  # recorded with the run
    text = read_gzip_or_raw(path).decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it starts none
    return [line.rstrip("\r") for line in lines]


def read_parallel(source: Path, target: Path) -> list[tuple[str, str]]:
    """Aligned sentence pairs from two files; a missing file or unequal counts is an error."""
    absent = [p for p in (source, target) if not p.exists()]
    if absent:
        raise missing("parallel text", absent, "Each side is one sentence per line, aligned.")
    sources, targets = read_lines(source), read_lines(target)
    if len(sources) != len(targets):
        raise DataIntegrityError(
            f"{source} has {len(sources)} lines but {target} has {len(targets)}: the files are "
            "not aligned"
        )
    return list(zip(sources, targets, strict=True))


def multi30k(data_dir: str | Path, split: str, source: str = "en", target: str = "de"):
    """One split of Multi30k task 1 (train 29,000, val 1,014, test 2016 1,000 pairs)."""
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"split must be one of {', '.join(MULTI30K_SPLITS)}, got {split!r}")
    folder = Path(data_dir) / "multi30k"
    stem = MULTI30K_SPLITS[split]
    return read_parallel(folder / f"{stem}.{source}.gz", folder / f"{stem}.{target}.gz")


def numbers(
    count: int,
    seed: int,
    min_numbers: int = 1,
    max_numbers: int = 3,
    high: int = 10**6,
    reverse: bool = False,
):
    """``count`` pairs of ``min_numbers`` to ``max_numbers`` numbers below ``high``: digits ->
    German number words ("372 15" -> "dreihundertzweiundsiebzig fünfzehn"); with ``reverse``,
    the words in reverse order ("fünfzehn dreihundertzweiundsiebzig"), the same sources."""
    from num2words import num2words

    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        values = [rng.randrange(high) for _ in range(rng.randint(min_numbers, max_numbers))]
        words = [num2words(v, lang="de") for v in values]
        pairs.append((" ".join(map(str, values)), " ".join(words[::-1] if reverse else words)))
    return pairs


def train_bpe(texts: Iterable[str], vocab_size: int):
    """A joint BPE ``tokenizers.Tokenizer`` learnt on ``texts`` (both sides of the training
    split), at most ``vocab_size`` entries with the special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def training_pairs(
    pairs: Sequence[tuple[list[int], list[int]]], max_length: int
) -> tuple[list[int], dict[str, int]]:
    """The positions of the pairs training uses (ids without EOS; each side gets one, so a side
    of more than ``max_length - 1`` ids is too long), and how many were left out and why."""
    kept, empty, long = [], 0, 0
    for i, (source, target) in enumerate(pairs):
        if not source or not target:
            empty += 1
        elif max(len(source), len(target)) + 1 > max_length:
            long += 1
        else:
            kept.append(i)
    return kept, {"kept": len(kept), "empty": empty, "too_long": long}


WMT14_SPLITS = {"train": "train", "val": "validation", "test": "test"}  # newstest2013, 2014


def translation_pairs(rows: Iterable[dict], source: str, target: str) -> list[tuple[str, str]]:
    """Pairs from rows in Hugging Face's translation format, ``{"translation": {lang: text}}``."""
    return [(row["translation"][source], row["translation"][target]) for row in rows]


def wmt14(target: str, split: str, cache_dir: str | Path) -> list[tuple[str, str]]:
    """WMT14 English-German (``target="de"``) or English-French (``"fr"``) through Hugging Face
    ``datasets`` (its ``wmt14`` set: validation is newstest2013, test newstest2014, as in the
    paper's Tables 3 and 2). Needs a network the first time; then its cache."""
    if target not in ("de", "fr"):
        raise ValueError(f"WMT14 pairs English with de or fr, got {target!r}")
    if split not in WMT14_SPLITS:
        raise ValueError(f"split must be one of {', '.join(WMT14_SPLITS)}, got {split!r}")
    from datasets import load_dataset

    try:
        rows = load_dataset(
            "wmt14", f"{target}-en", split=WMT14_SPLITS[split], cache_dir=str(cache_dir)
        )
    except Exception as error:  # offline, no cache, hub errors: several types
        raise MissingDataError(
            f"could not load WMT14 {target}-en ({type(error).__name__}: {error}); it needs a "
            f"network the first time (Hugging Face `datasets`, cached in {cache_dir})"
        ) from None
    return translation_pairs(rows, "en", target)


# --- The DataModule: splits, the vocabulary, batches ----------------------------------------------


@dataclass
class Batch:
    """Padded token ids. ``target_in`` is the target shifted right (BOS first), ``target_out``
    the tokens to predict (EOS last); ``index`` the sentences' positions in their split;
    ``tokens`` the target tokens of the whole global batch (training) or of this batch."""

    source: Tensor  # (B, S), source ids + EOS
    target_in: Tensor  # (B, T)
    target_out: Tensor  # (B, T)
    index: Tensor  # (B,)
    tokens: int


def pad(rows: Sequence[Sequence[int]], pad_id: int = 0) -> Tensor:
    out = torch.full((len(rows), max((len(r) for r in rows), default=0)), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def collate(items: Sequence[tuple[int, list[int], list[int], int]]) -> Batch:
    """Items ``(index, source ids, target ids, tokens)``; EOS is already on both sides."""
    index, sources, targets, tokens = zip(*items, strict=True)
    bos = SPECIALS.index(BOS)
    return Batch(
        source=pad(sources),
        target_in=pad([[bos, *t[:-1]] for t in targets]),
        target_out=pad(targets),
        index=torch.tensor(index),
        tokens=int(tokens[0]) if tokens[0] else sum(len(t) for t in targets),
    )


class Encoded(Dataset):
    """Sentence pairs as ids; an item is asked for by index, or by ``(index, tokens)``."""

    def __init__(self, pairs: Sequence[tuple[list[int], list[int]]], index: Sequence[int]) -> None:
        self.pairs, self.index = pairs, list(index)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[int, list[int], list[int], int]:
        i, tokens = key if isinstance(key, tuple) else (key, 0)
        source, target = self.pairs[i]
        return self.index[i], source, target, tokens


TASKS = ("numbers", "multi30k", "wmt14")


class TranslationData(L.LightningDataModule):
    """One translation task's splits, its joint BPE vocabulary and Section 5.1's batches.

    task: "numbers" (generated, no files), "multi30k" (``data_dir``) or "wmt14" (``datasets``).
    target: the target language ("de"; WMT14 also "fr"). vocab_size: the BPE vocabulary's size
    at most (the network's embedding has this many rows; BPE may learn fewer). max_tokens: the
    global batch's padded size on each side, all processes and accumulation steps together.
    max_length: training pairs with a longer side (in tokens, EOS included) are left out.
    train_size, val_size, test_size, data_seed, max_numbers, high: the numbers task's split sizes,
    its seed, and 1 to ``max_numbers`` numbers below ``high`` per sentence. test_numbers: the
    test split's (min, max) numbers per sentence instead (longer sentences than any in training,
    for the length claim). reverse: the numbers task's target words in reverse order (the task
    LoRA adapts this Transformer to, papers/lora/translation.py).
    eval_batch_size: sentences per evaluation batch (sorted by length, then put back in order).

    The vocabulary is learnt on the training split only and cached under ``cache_dir`` by a
    digest of that split's text and its size; ``tokenizer`` holds it after ``setup``.
    """

    def __init__(
        self,
        task: str = "numbers",
        data_dir: str | None = None,
        cache_dir: str = ".cache",
        target: str = "de",
        vocab_size: int = 37000,
        max_tokens: int = 25000,
        max_length: int = 256,
        train_size: int = 20000,
        val_size: int = 500,
        test_size: int = 500,
        data_seed: int = 0,
        max_numbers: int = 6,
        high: int = 1000,
        test_numbers: tuple[int, int] | None = None,
        reverse: bool = False,
        eval_batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"data.task must be one of {', '.join(TASKS)}, got {task!r}")
        if vocab_size <= len(SPECIALS):
            raise ConfigError(f"data.vocab_size must exceed {len(SPECIALS)}, got {vocab_size}")
        self.save_hyperparameters(logger=False)
        self.texts: dict[str, list[tuple[str, str]]] = {}
        self.encoded: dict[str, list[tuple[list[int], list[int]]]] = {}
        self.filtered: dict[str, int] = {}
        self.tokenizer = None

    def read(self) -> dict[str, list[tuple[str, str]]]:
        hp = self.hparams
        if hp.task == "numbers":
            seeds = {"train": hp.data_seed, "val": hp.data_seed + 1, "test": hp.data_seed + 2}
            sizes = {"train": hp.train_size, "val": hp.val_size, "test": hp.test_size}
            counts = {s: (1, hp.max_numbers) for s in seeds}
            if hp.test_numbers is not None:
                counts["test"] = tuple(hp.test_numbers)
            splits = {
                s: numbers(sizes[s], seeds[s], *counts[s], high=hp.high, reverse=hp.reverse)
                for s in seeds
            }
            held_out = {source for s in ("val", "test") for source, _ in splits[s]}
            splits["train"] = [p for p in splits["train"] if p[0] not in held_out]
            return splits
        if hp.task == "multi30k":
            if hp.data_dir is None:
                raise ConfigError("the multi30k task reads data.data_dir; none is set")
            return {s: multi30k(hp.data_dir, s, target=hp.target) for s in MULTI30K_SPLITS}
        return {s: wmt14(hp.target, s, hp.cache_dir) for s in WMT14_SPLITS}

    def vocabulary(self, train: list[tuple[str, str]]):
        from tokenizers import Tokenizer

        texts = [side for pair in train for side in pair]
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        path = Path(self.hparams.cache_dir) / "bpe" / f"{digest}-{self.hparams.vocab_size}.json"
        if path.exists():
            return Tokenizer.from_file(str(path))
        tokenizer = train_bpe(texts, self.hparams.vocab_size)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tokenizer.save(str(tmp))
        tmp.replace(path)  # atomic: processes of one run may build it at once
        return tokenizer

    def setup(self, stage: str | None = None) -> None:
        if self.texts:
            return
        self.texts = self.read()
        if not self.texts["train"]:
            raise DataIntegrityError("the training split holds no sentence pairs")
        self.tokenizer = self.vocabulary(self.texts["train"])
        eos = SPECIALS.index(EOS)
        for split, pairs in self.texts.items():
            sources = self.tokenizer.encode_batch([s for s, _ in pairs])
            targets = self.tokenizer.encode_batch([t for _, t in pairs])
            self.encoded[split] = [
                (s.ids + [eos], t.ids + [eos]) for s, t in zip(sources, targets, strict=True)
            ]
        bare = [(s[:-1], t[:-1]) for s, t in self.encoded["train"]]
        self.train_index, self.filtered = training_pairs(bare, self.hparams.max_length)
        if not self.train_index:
            raise DataIntegrityError(
                f"every training pair is empty or longer than max_length={self.hparams.max_length}"
            )

    def references(self, split: str) -> list[str]:
        return [target for _, target in self.texts[split]]

    def sources(self, split: str) -> list[str]:
        return [source for source, _ in self.texts[split]]

    def train_dataloader(self) -> DataLoader:
        pairs = [self.encoded["train"][i] for i in self.train_index]
        trainer = self.trainer
        sampler = TokenBatches(
            [len(s) for s, _ in pairs],
            [len(t) for _, t in pairs],
            self.hparams.max_tokens,
            seed=self.hparams.seed,
            world_size=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            accumulate=trainer.accumulate_grad_batches if trainer else 1,
            tag_tokens=True,
        )
        return DataLoader(
            Encoded(pairs, self.train_index),
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.hparams.num_workers,
        )

    def eval_dataloader(self, split: str) -> DataLoader:
        """Every sentence of the split (none left out), by length; each process takes every
        W-th batch, the batches made small enough that each of the W processes gets one."""
        pairs = self.encoded[split]
        order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), i))
        trainer = self.trainer
        world = trainer.world_size if trainer is not None else 1
        size = max(1, min(self.hparams.eval_batch_size, math.ceil(len(order) / world)))
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        if world > 1:
            batches = batches[trainer.global_rank :: world]
        return DataLoader(
            Encoded(pairs, range(len(pairs))),
            batch_sampler=batches,
            collate_fn=collate,
            num_workers=self.hparams.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")
