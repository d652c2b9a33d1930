"""Parallel text, the generated task and the joint BPE (papers/transformer/data.py)."""

from __future__ import annotations

import gzip

import pytest

from common.errors import DataIntegrityError, MissingDataError
from papers.transformer.data import (
    SPECIALS,
    multi30k,
    numbers,
    read_parallel,
    train_bpe,
    training_pairs,
    translation_pairs,
    wmt14,
)


def write_gz(path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))


def test_multi30k_reads_aligned_gzip_files(tmp_path):
    folder = tmp_path / "multi30k"
    write_gz(folder / "test_2016_flickr.en.gz", ["A dog runs.", "", "Two men."])
    write_gz(folder / "test_2016_flickr.de.gz", ["Ein Hund rennt.", "", "Zwei Männer."])
    pairs = multi30k(tmp_path, "test")
    assert pairs == [("A dog runs.", "Ein Hund rennt."), ("", ""), ("Two men.", "Zwei Männer.")]
    with pytest.raises(ValueError, match="split must be one of train, val, test"):
        multi30k(tmp_path, "dev")


def test_unequal_line_counts_are_refused_naming_both(tmp_path):
    write_gz(tmp_path / "a.en.gz", ["one", "two", "three"])
    write_gz(tmp_path / "a.de.gz", ["eins", "zwei"])
    with pytest.raises(DataIntegrityError, match=r"a.en.gz has 3 lines but .*a.de.gz has 2"):
        read_parallel(tmp_path / "a.en.gz", tmp_path / "a.de.gz")


def test_missing_files_name_the_expected_paths(tmp_path):
    with pytest.raises(MissingDataError) as error:
        multi30k(tmp_path, "train")
    assert str(tmp_path / "multi30k" / "train.en.gz") in str(error.value)
    assert str(tmp_path / "multi30k" / "train.de.gz") in str(error.value)


def test_numbers_are_translated_into_german_words():
    pairs = numbers(200, seed=0)
    assert pairs == numbers(200, seed=0) and pairs != numbers(200, seed=1)
    for source, target in pairs:
        assert 1 <= len(source.split()) <= 3
        assert len(source.split()) == len(target.split())
    assert numbers(1, seed=0, high=1)[0][1].split()[0] == "null"
    words: dict[str, str] = {}
    for pair in numbers(300, seed=0, high=100):
        words.update(zip(*(side.split() for side in pair), strict=True))
    assert words["21"] == "einundzwanzig" and words["7"] == "sieben"


def test_joint_bpe_round_trips_text_exactly():
    sentences = [s for pair in numbers(500, seed=0) for s in pair]
    sentences += ["Ein Hund rennt über die Wiese.", "A dog runs across the meadow."]
    tokenizer = train_bpe(sentences, vocab_size=300)
    assert [tokenizer.token_to_id(t) for t in SPECIALS] == [0, 1, 2, 3]
    assert tokenizer.get_vocab_size() <= 300
    for sentence in ["372 15 9041", "dreihundertzweiundsiebzig", "Ein Hund rennt über die Wiese."]:
        ids = tokenizer.encode(sentence).ids
        assert tokenizer.decode(ids) == sentence
    assert len(tokenizer.encode("dreihundertzweiundsiebzig").ids) < len("dreihundert")


def test_training_leaves_out_empty_and_over_long_pairs_and_counts_them():
    pairs = [([5, 6], [7]), ([], [7]), ([5], []), ([5] * 8, [7]), ([5], [7] * 8), ([5], [7] * 7)]
    kept, counts = training_pairs(pairs, max_length=8)  # 7 ids + EOS fit, 8 + EOS do not
    assert kept == [0, 5]
    assert counts == {"kept": 2, "empty": 2, "too_long": 2}


def test_wmt14_rows_in_hugging_faces_format_become_pairs(tmp_path):
    from datasets import Dataset

    rows = Dataset.from_dict(
        {"translation": [{"de": "Ein Haus.", "en": "A house."}, {"de": "Ja.", "en": "Yes."}]}
    )
    assert translation_pairs(rows, "en", "de") == [("A house.", "Ein Haus."), ("Yes.", "Ja.")]


def test_wmt14_without_network_or_cache_says_so(tmp_path):
    with pytest.raises(MissingDataError, match="could not load WMT14 de-en .* needs a network"):
        wmt14("de", "test", tmp_path)
    with pytest.raises(ValueError, match="de or fr"):
        wmt14("cs", "test", tmp_path)


def test_the_baselines_translate_multi30k_word_by_word_and_by_copying(tmp_path, make_config):
    """On sentence pairs whose German is the English word for word, IBM Model 1 learns the
    lexicon and translates an unseen combination of seen words exactly (BLEU 100); copying the
    source scores only what the two languages share (the full stop)."""
    from papers.transformer.baselines import copy_source, word_by_word

    lexicon = {"a": "ein", "the": "der", "dog": "hund", "cat": "katze"}
    lexicon |= {"runs": "rennt", "sleeps": "schläft", "barks": "bellt"}
    english = [
        f"{article} {animal} {verb} ."
        for article in ("a", "the")
        for animal in ("dog", "cat")
        for verb in ("runs", "sleeps", "barks")
    ]
    german = [" ".join(lexicon.get(w, w) for w in s.split()) for s in english]
    folder = tmp_path / "multi30k"
    rows = {"train": slice(0, 10), "val": slice(11, 12), "test_2016_flickr": slice(11, 12)}
    for split, chosen in rows.items():  # "the cat barks .": never seen whole in training
        write_gz(folder / f"{split}.en.gz", english[chosen])
        write_gz(folder / f"{split}.de.gz", german[chosen])
    cfg = make_config("experiment=transformer/multi30k", f"paths.data_dir={tmp_path}")
    translated = word_by_word(cfg)
    assert translated["value"] == pytest.approx(100.0) and translated["parameters"] > 7
    copied = copy_source(cfg)
    assert copied["value"] < 30.0 and copied["parameters"] == 0
