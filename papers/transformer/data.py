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

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from common.data import missing, read_gzip_or_raw
from common.errors import DataIntegrityError, MissingDataError

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3

MULTI30K_SPLITS = {"train": "train", "val": "val", "test": "test_2016_flickr"}


def read_lines(path: Path) -> list[str]:
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


def numbers(count: int, seed: int, min_numbers: int = 1, max_numbers: int = 3, high: int = 10**6):
    """``count`` pairs of 1-3 numbers below ``high``: digits -> German number words."""
    from num2words import num2words

    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        values = [rng.randrange(high) for _ in range(rng.randint(min_numbers, max_numbers))]
        pairs.append(
            (" ".join(map(str, values)), " ".join(num2words(v, lang="de") for v in values))
        )
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
) -> tuple[list[tuple[list[int], list[int]]], dict[str, int]]:
    """The pairs training uses, and how many were left out and why."""
    kept, empty, long = [], 0, 0
    for source, target in pairs:
        if not source or not target:
            empty += 1
        elif len(source) > max_length or len(target) + 1 > max_length:  # with EOS
            long += 1
        else:
            kept.append((source, target))
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
