"""The sceptic's baselines for Table 1's regression stand-in (common/baselines.py says why every
claim has one): ridge regression and LightGBM on the same diabetes splits and standardised target,
each tuned on the validation split; ``test/error`` is their mean squared error, as the DBNs'."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from common.baselines import image_splits

RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)  # L2 strengths tried on the validation split


def squared_error(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((model.predict(x) - y) ** 2))


def ridge_regression(cfg: DictConfig) -> dict[str, Any]:
    """Linear least squares with an L2 penalty (scikit-learn), its strength on validation."""
    from sklearn.linear_model import Ridge

    data = image_splits(cfg)  # the inputs as the arms see them (scaled by data.scaling)
    start = time.perf_counter()
    fitted = [
        (squared_error(m, *data["val"]), a, m)
        for a in RIDGE_ALPHAS
        for m in [Ridge(alpha=a).fit(*data["train"])]
    ]
    _, alpha, model = min(fitted, key=lambda f: f[0])
    return {
        "name": "ridge regression",
        "measure": "test/error",
        "value": squared_error(model, *data["test"]),
        "parameters": int(model.coef_.size + 1),
        "seconds": time.perf_counter() - start,
        "setting": f"alpha={alpha:g} (of {', '.join(f'{a:g}' for a in RIDGE_ALPHAS)}, validation)",
        "threads": torch.get_num_threads(),
    }


def gradient_boosted_regression(cfg: DictConfig) -> dict[str, Any]:
    """LightGBM's regressor, trees added until the validation error stops falling (20 rounds
    of patience); its parameters: each tree's split thresholds and leaf values."""
    import lightgbm

    data = image_splits(cfg)
    threads = torch.get_num_threads()
    start = time.perf_counter()
    model = lightgbm.LGBMRegressor(
        n_estimators=1000, learning_rate=0.05, num_threads=threads, verbose=-1, random_state=0
    )
    stop = lightgbm.early_stopping(20, verbose=False)
    model.fit(*data["train"], eval_set=[data["val"]], callbacks=[stop])
    trees = model.booster_.dump_model()["tree_info"]
    return {
        "name": "gradient-boosted trees (LightGBM)",
        "measure": "test/error",
        "value": squared_error(model, *data["test"]),
        "parameters": sum(2 * tree["num_leaves"] - 1 for tree in trees),
        "seconds": time.perf_counter() - start,
        "setting": f"{model.best_iteration_} rounds (early stopping on validation)",
        "threads": threads,
    }
