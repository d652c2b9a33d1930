"""LoRA's sentences (papers/lora/data.py): SST-2's files, the generated task, the batches."""

import re

import pytest

from common.config import build
from common.errors import DataIntegrityError, MissingDataError
from papers.lora.data import NEGATIVE, POSITIVE, LengthBatches, generated_reviews, read_sst2


def write_sst2(root, text: str, split: str = "train") -> None:
    (root / "sst2").mkdir(exist_ok=True)
    (root / "sst2" / f"{split}.tsv").write_text(text, encoding="utf-8")


def test_sst2_reads_sentences_and_labels_and_maps_the_splits(tmp_path):
    write_sst2(tmp_path, 'sentence\tlabel\na "quoted" gem \t1\ndull\t0\n', split="test")
    write_sst2(tmp_path, "sentence\tlabel\nfine\t1\n", split="dev")
    assert read_sst2(tmp_path, "test") == [('a "quoted" gem ', 1), ("dull", 0)]
    assert read_sst2(tmp_path, "val") == [("fine", 1)]  # val is dev.tsv


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("text\tlabel\nfine\t1\n", "first line must be sentence<TAB>label"),
        ("sentence\tlabel\nfine\t2\n", r"line 2: expected sentence<TAB>0 or 1"),
        ("sentence\tlabel\nfine\n", r"line 2"),
    ],
)
def test_a_damaged_sst2_file_is_refused_naming_the_line(tmp_path, text, message):
    write_sst2(tmp_path, text)
    with pytest.raises(DataIntegrityError, match=message):
        read_sst2(tmp_path, "train")


def test_missing_sst2_names_the_file(tmp_path):
    with pytest.raises(MissingDataError, match=r"sst2/train\.tsv"):
        read_sst2(tmp_path, "train")


def sentiment(text: str) -> int:
    """The label read off the words: the last clause decides, "not" flips it."""
    clause = text.split(" but ")[-1].split()
    positive = clause[-1] in POSITIVE
    assert positive or clause[-1] in NEGATIVE
    return int(positive != ("not" in clause))


def test_generated_reviews_need_negation_and_but_to_be_read():
    reviews = generated_reviews(2000, seed=0)
    assert all(sentiment(text) == label for text, label in reviews)
    negated = [t for t, _ in reviews if re.search(r"\bnot\b", t.split(" but ")[-1])]
    contrasted = [t for t, _ in reviews if " but " in t]
    assert len(negated) > 400 and len(contrasted) > 600
    labels = [label for _, label in reviews]
    assert 0.45 < sum(labels) / len(labels) < 0.55
    assert generated_reviews(50, seed=0) == reviews[:50]


def test_length_batches_cover_every_sentence_once_and_group_similar_lengths():
    lengths = [(i * 37) % 50 + 1 for i in range(1000)]
    sampler = LengthBatches(lengths, batch_size=10, shuffle=True, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 3  # random batches of 10 would spread over about 40
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch


def test_the_processes_batches_add_up_to_the_one_process_batch():
    lengths = list(range(1, 101))
    one = list(LengthBatches(lengths, 8, True, seed=3))
    parts = [list(LengthBatches(lengths, 8, True, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert [sorted(a + b) for a, b in zip(*parts, strict=True)] == [sorted(b) for b in one]


def test_a_tail_batch_too_small_to_split_joins_the_one_before():
    lengths = list(range(1, 98))  # 97 = 12 batches of 8 and one of 1: one process would get none
    parts = [list(LengthBatches(lengths, 8, False, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert all(batch for part in parts for batch in part)
    assert sorted(i for part in parts for b in part for i in b) == list(range(97))
    assert len(parts[0]) == len(parts[1]) == 12


def test_the_tfidf_baseline_reads_the_claims_own_sentences(make_config):
    """The sceptic's baseline for the SST-2 claims, on the generated reviews (no files): its
    features are the n-grams of the claim's own training sentences, its accuracy a share of the
    claim's test split."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from papers.lora.baselines import tfidf_logistic_regression

    cfg = make_config("paper=lora", "data.train_size=400", "data.val_size=100")
    baseline = tfidf_logistic_regression(cfg)
    splits = build(cfg.data).read()
    assert len(splits["train"]) == 400 and baseline["measure"] == "test/acc"
    features = TfidfVectorizer(ngram_range=(1, 2)).fit([text for text, _ in splits["train"]])
    assert baseline["parameters"] == len(features.vocabulary_) + 1  # a weight each, an intercept
    assert (baseline["value"] * len(splits["test"])).is_integer()
    assert 0.5 < baseline["value"] < 1.0  # above chance; negations defeat a bag of n-grams
