"""BLEU as it is reported, two ways (Section 6.1 and the small-scale literature).

- :func:`sacrebleu_score`: sacreBLEU on detokenised text (its default ``13a`` tokenisation,
  cased), with its signature, so another paper can compare exactly.
- :func:`tokenized_bleu`: the "tokenised BLEU" that small-scale papers and the paper itself
  report, as ``multi-bleu.perl`` computes it: hypotheses and references tokenised with the Moses
  tokeniser (``sacremoses``, the target language's rules, no escaping), cased, then BLEU over
  those tokens with no further tokenisation. With ``compound_split`` hyphenated compounds are
  split as tensor2tensor's ``get_ende_bleu.sh`` does for the paper's EN-DE numbers
  ("Vier-Sterne" -> "Vier ##AT##-##AT## Sterne"), which raises BLEU a little: each part is a
  token that can match. With ``lowercase`` both sides are lowercased first (``multi-bleu.perl
  -lc``), as the Multi30k literature reports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

COMPOUND = re.compile(r"(?<=\S)-(?=\S)")  # a hyphen inside a word


def sacrebleu_score(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[float, str]:
    """Corpus BLEU and sacreBLEU's signature (one reference per sentence)."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    score = metric.corpus_score(list(hypotheses), [list(references)])
    return score.score, str(metric.get_signature())


def moses_tokenize(lines: Sequence[str], language: str, compound_split: bool = False):
    from sacremoses import MosesTokenizer

    tokenizer = MosesTokenizer(lang=language)
    tokenized = [tokenizer.tokenize(line, escape=False, return_str=True) for line in lines]
    if compound_split:
        tokenized = [COMPOUND.sub(" ##AT##-##AT## ", line) for line in tokenized]
    return tokenized


def tokenized_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    language: str,
    compound_split: bool = False,
    lowercase: bool = False,
) -> float:
    """multi-bleu.perl's BLEU on Moses-tokenised text, cased unless ``lowercase``."""
    from sacrebleu.metrics import BLEU

    if lowercase:
        hypotheses, references = [h.lower() for h in hypotheses], [r.lower() for r in references]
    hyp = moses_tokenize(hypotheses, language, compound_split)
    ref = moses_tokenize(references, language, compound_split)
    return BLEU(tokenize="none").corpus_score(hyp, [ref]).score
