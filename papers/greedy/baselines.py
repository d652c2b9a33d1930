"""The sceptic's baselines for Table 1's regression stand-in (common/baselines.py says why every
claim has one): ridge regression and LightGBM on the same diabetes splits and standardised target,
each tuned on the validation split; ``test/error`` is their mean squared error, as the DBNs'."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from omegaconf import DictConfig

from common.baselines import (
    baseline_result,
    boosted_trees,
    choose_on_validation,
    image_splits,
    tried,
)

RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)  # L2 strengths tried on the validation split


def squared_error(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((model.predict(x) - y) ** 2))


def ridge_regression(cfg: DictConfig) -> dict[str, Any]:
    """Linear least squares with an L2 penalty (scikit-learn), its strength on validation."""
    from sklearn.linear_model import Ridge

    data = image_splits(cfg)  # the inputs as the arms see them (scaled by data.scaling)
    start = time.perf_counter()
    alpha, model = choose_on_validation(
        RIDGE_ALPHAS,
        lambda alpha: Ridge(alpha=alpha).fit(*data["train"]),
        lambda model: squared_error(model, *data["val"]),
    )
    return baseline_result(
        "ridge regression",
        "test/error",
        squared_error(model, *data["test"]),
        model.coef_.size + 1,
        f"alpha={alpha:g} (of {tried(RIDGE_ALPHAS)}, validation)",
        start,
    )


def gradient_boosted_regression(cfg: DictConfig) -> dict[str, Any]:
    """LightGBM's regressor, learning rate 0.05 (common.baselines.boosted_trees)."""
    return boosted_trees(
        cfg, "gradient-boosted trees (LightGBM)", 0.05, squared_error, regression=True
    )
