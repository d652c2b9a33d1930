"""The sceptic's baselines for the Multi30k claim (common/baselines.py says why every claim has
one), scored by the claim's own tokenised BLEU: copying the English source, and translating word
by word with the most probable German word of an IBM Model 1 lexicon (NLTK) trained on the same
sentence pairs. Neither model sees word order or context."""

from __future__ import annotations

import time
from typing import Any

import torch
from omegaconf import DictConfig

from common.config import build
from papers.transformer.bleu import moses_tokenize, tokenized_bleu

IBM1_ITERATIONS = 5


def bleu(cfg: DictConfig, hypotheses: list[str], references: list[str]) -> float:
    model = cfg.model
    return tokenized_bleu(
        hypotheses, references, model.target_language, model.compound_split, model.lowercase
    )


def copy_source(cfg: DictConfig) -> dict[str, Any]:
    """The English sentence given as its own translation (names, numbers and punctuation
    survive); ``test/bleu_tokenized_averaged``, as the claim measures it."""
    test = build(cfg.data).read()["test"]
    start = time.perf_counter()
    value = bleu(cfg, [source for source, _ in test], [target for _, target in test])
    return {
        "name": "copy the source",
        "measure": "test/bleu_tokenized_averaged",
        "value": value,
        "parameters": 0,
        "seconds": time.perf_counter() - start,
        "setting": "none",
        "threads": torch.get_num_threads(),
    }


def word_by_word(cfg: DictConfig) -> dict[str, Any]:
    """Each Moses token of the source replaced by its most probable translation under IBM Model
    1 (``IBM1_ITERATIONS`` EM iterations on the training pairs, lowercased), unknown words
    copied; BLEU as the claim measures it. Parameters: the lexicon's word pairs."""
    from nltk.translate import AlignedSent, IBMModel1

    splits = build(cfg.data).read()
    source_language, target_language = "en", cfg.data.target  # Multi30k's English source

    def tokens(lines: list[str], language: str) -> list[list[str]]:
        return [line.lower().split() for line in moses_tokenize(lines, language)]

    start = time.perf_counter()
    train = splits["train"]
    sources = tokens([s for s, _ in train], source_language)
    targets = tokens([t for _, t in train], target_language)
    corpus = [AlignedSent(t, s) for s, t in zip(sources, targets, strict=True) if s and t]
    table = IBMModel1(corpus, IBM1_ITERATIONS).translation_table  # table[target][source]
    best: dict[str, tuple[float, str]] = {}
    for target, row in table.items():
        if target is None:
            continue
        for source, probability in row.items():
            if source is not None and probability > best.get(source, (0.0, ""))[0]:
                best[source] = (probability, target)
    test = splits["test"]
    hypotheses = [
        " ".join(best[word][1] if word in best else word for word in sentence)
        for sentence in tokens([s for s, _ in test], source_language)
    ]
    value = bleu(cfg, hypotheses, [target for _, target in test])
    return {
        "name": "word by word (IBM Model 1, NLTK)",
        "measure": "test/bleu_tokenized_averaged",
        "value": value,
        "parameters": sum(len(row) for row in table.values()),
        "seconds": time.perf_counter() - start,
        "setting": f"{IBM1_ITERATIONS} EM iterations on {len(corpus):,} training pairs",
        "threads": torch.get_num_threads(),
    }
