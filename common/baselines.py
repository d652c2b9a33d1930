"""The simple baselines a sceptic would try first, on a claim's own data and budget.

The essay this project grew from holds that on small numeric problems gradient-boosted trees and
other simple models often do as well as a deep network. A claim names the baselines to set beside
its arms (``Claim.baselines``: "module:function" paths); each one gets the config of the claim's
first arm, reads the same splits through the same DataModule, fits a library's model (scikit-learn,
LightGBM; never a hand-written one), and returns the claim's measure on the test split, with its
parameter count and wall time. Each baseline picks its one setting on the validation split, as
the arms pick their checkpoints. ``scripts/reproduce.py --baselines`` runs them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from common.config import build

LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried on the validation split


def image_splits(cfg: DictConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(flattened pixels, in [0, 1] where they are bytes; labels) of the train, val and test
    splits that the claim's runs see (a reduced training set included)."""
    module = build(cfg.data)
    module.prepare_data()
    module.setup("fit")
    splits = {}
    for split in ("train", "val", "test"):
        images, labels = module.splits[split].tensors
        pixels = images.reshape(len(images), -1).float()
        if images.dtype == torch.uint8:
            pixels = pixels / 255
        splits[split] = (pixels.numpy(), labels.numpy())
    return splits


def error(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(x) != y))


def logistic_regression(cfg: DictConfig) -> dict[str, Any]:
    """Multinomial logistic regression on the pixels (scikit-learn), its L2 strength chosen on
    the validation split; ``test/error``."""
    from sklearn.linear_model import LogisticRegression

    data = image_splits(cfg)
    start = time.perf_counter()
    fitted = []
    for c in LOGISTIC_C:
        model = LogisticRegression(C=c, max_iter=2000).fit(*data["train"])
        fitted.append((error(model, *data["val"]), c, model))
    _, c, model = min(fitted, key=lambda f: f[0])
    return {
        "name": "logistic regression on pixels",
        "measure": "test/error",
        "value": error(model, *data["test"]),
        "parameters": int(model.coef_.size + model.intercept_.size),
        "seconds": time.perf_counter() - start,
        "setting": f"C={c:g} (of {', '.join(f'{v:g}' for v in LOGISTIC_C)}, on validation)",
        "threads": torch.get_num_threads(),
    }


def gradient_boosted_trees(cfg: DictConfig) -> dict[str, Any]:
    """LightGBM on the pixels, trees added until the validation loss stops falling (20 rounds
    of patience, at most 1,000); ``test/error``. Its parameters: each tree's split thresholds and
    leaf values."""
    import lightgbm

    data = image_splits(cfg)
    threads = torch.get_num_threads()
    start = time.perf_counter()
    model = lightgbm.LGBMClassifier(
        n_estimators=1000, learning_rate=0.1, num_threads=threads, verbose=-1, random_state=0
    )
    model.fit(
        *data["train"],
        eval_set=[data["val"]],
        callbacks=[lightgbm.early_stopping(20, verbose=False)],
    )
    trees = model.booster_.dump_model()["tree_info"]
    return {
        "name": "gradient-boosted trees (LightGBM) on pixels",
        "measure": "test/error",
        "value": error(model, *data["test"]),
        "parameters": sum(2 * tree["num_leaves"] - 1 for tree in trees),
        "seconds": time.perf_counter() - start,
        "setting": f"{model.best_iteration_} rounds (early stopping on validation)",
        "threads": threads,
    }


IMAGE_BASELINES = (
    "common.baselines:logistic_regression",
    "common.baselines:gradient_boosted_trees",
)
