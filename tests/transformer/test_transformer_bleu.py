"""BLEU two ways (papers/transformer/bleu.py)."""

from __future__ import annotations

import pytest

from papers.transformer.bleu import moses_tokenize, sacrebleu_score, tokenized_bleu

REFERENCES = ["Ein Hund rennt über die Wiese.", "Zwei Männer spielen im Vier-Sterne-Hotel."]


def test_sacrebleu_records_its_signature():
    score, signature = sacrebleu_score(REFERENCES, REFERENCES)
    assert score == pytest.approx(100.0)
    assert signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")


def test_tokenized_bleu_is_bleu_over_moses_tokens():
    assert moses_tokenize(["Ein Hund rennt."], "de") == ["Ein Hund rennt ."]
    split = moses_tokenize(["im Vier-Sterne-Hotel."], "de", compound_split=True)
    assert split == ["im Vier ##AT##-##AT## Sterne ##AT##-##AT## Hotel ."]
    hypotheses = ["Ein Hund rennt auf der Wiese.", "Zwei Männer spielen im Drei-Sterne-Hotel."]
    plain = tokenized_bleu(hypotheses, REFERENCES, "de")
    split = tokenized_bleu(hypotheses, REFERENCES, "de", compound_split=True)
    assert 0 < plain < split < 100  # the split compound's matching parts count
    assert tokenized_bleu(["ein hund rennt über die wiese ."], REFERENCES[:1], "de") < 100  # cased
