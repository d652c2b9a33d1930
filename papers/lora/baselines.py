"""The sceptic's baseline for the SST-2 claims (common/baselines.py says why every claim has
one): logistic regression on TF-IDF features of the same sentences the adapters train on, with no
pretrained model at all."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from omegaconf import DictConfig

from common.baselines import (
    LOGISTIC_C,
    LOGISTIC_ITERATIONS,
    baseline_result,
    capped,
    choose_on_validation,
    tried,
)
from common.config import build


def tfidf_logistic_regression(cfg: DictConfig) -> dict[str, Any]:
    """scikit-learn's TF-IDF of word unigrams and bigrams, then logistic regression, its L2
    strength chosen on the validation sentences; ``test/acc`` on the test split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    splits = build(cfg.data).read()
    start = time.perf_counter()
    features = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = {"train": features.fit_transform([text for text, _ in splits["train"]])}
    x |= {s: features.transform([text for text, _ in splits[s]]) for s in ("val", "test")}
    y = {s: np.array([label for _, label in rows]) for s, rows in splits.items()}
    c, model = choose_on_validation(
        LOGISTIC_C,
        lambda c: LogisticRegression(C=c, max_iter=LOGISTIC_ITERATIONS).fit(x["train"], y["train"]),
        lambda model: -model.score(x["val"], y["val"]),
    )
    return baseline_result(
        "logistic regression on TF-IDF words and bigrams",
        "test/acc",
        model.score(x["test"], y["test"]),
        model.coef_.size + model.intercept_.size,
        f"C={c:g} (of {tried(LOGISTIC_C)}, on validation){capped(model)}",
        start,
    )
