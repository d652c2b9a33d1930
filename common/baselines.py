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
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from omegaconf import DictConfig

from common.config import build

LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried on the validation split
# L-BFGS iterations at most: on 10,000 CIFAR-10 images (3,072 pixels) one fit costs about a second
# an iteration here; at C = 0.01 the validation error moved from 0.624 to 0.620 between 100 and 300
LOGISTIC_ITERATIONS = 200
MAX_TREES, TREE_PATIENCE = 1000, 20  # LightGBM: at most 1,000 trees, 20 rounds of patience

S = TypeVar("S")  # a setting tried on the validation split
M = TypeVar("M")  # a fitted model


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


def choose_on_validation(
    settings: Sequence[S], fit: Callable[[S], M], loss: Callable[[M], float]
) -> tuple[S, M]:
    """One model fitted per setting; the setting and model with the lowest validation ``loss``
    (the first of equals)."""
    models = [fit(setting) for setting in settings]
    best = min(range(len(models)), key=lambda i: loss(models[i]))
    return settings[best], models[best]


def tried(settings: Sequence[float]) -> str:
    return ", ".join(f"{value:g}" for value in settings)


def baseline_result(
    name: str, measure: str, value: float, parameters: int, setting: str, start: float
) -> dict[str, Any]:
    """What a baseline reports: its test ``measure``, parameters, the setting it chose, the
    seconds since ``start`` (a ``time.perf_counter()``) and the threads it ran on."""
    return {
        "name": name,
        "measure": measure,
        "value": float(value),
        "parameters": int(parameters),
        "seconds": time.perf_counter() - start,
        "setting": setting,
        "threads": torch.get_num_threads(),
    }


def logistic_regression(cfg: DictConfig) -> dict[str, Any]:
    """Multinomial logistic regression on the pixels (scikit-learn's L-BFGS, at most
    ``LOGISTIC_ITERATIONS`` iterations), its L2 strength chosen on the validation split;
    ``test/error``."""
    from sklearn.linear_model import LogisticRegression

    data = image_splits(cfg)
    start = time.perf_counter()
    c, model = choose_on_validation(
        LOGISTIC_C,
        lambda c: LogisticRegression(C=c, max_iter=LOGISTIC_ITERATIONS).fit(*data["train"]),
        lambda model: error(model, *data["val"]),
    )
    return baseline_result(
        "logistic regression on pixels",
        "test/error",
        error(model, *data["test"]),
        model.coef_.size + model.intercept_.size,
        f"C={c:g} (of {tried(LOGISTIC_C)}, on validation){capped(model)}",
        start,
    )


def capped(model: Any) -> str:
    """Says so when a scikit-learn fit stopped at its iteration cap, not at convergence."""
    stopped = np.max(model.n_iter_) >= model.max_iter
    return f"; stopped at its cap of {model.max_iter} iterations" if stopped else ""


def boosted_trees(
    cfg: DictConfig,
    name: str,
    learning_rate: float,
    test_error: Callable[[Any, np.ndarray, np.ndarray], float],
    regression: bool = False,
) -> dict[str, Any]:
    """LightGBM (its classifier, or its regressor) on the claim's splits, trees added until the
    validation loss stops falling (``TREE_PATIENCE`` rounds, at most ``MAX_TREES``);
    ``test/error`` by ``test_error``. Its parameters: each tree's split thresholds and leaf
    values (2 leaves - 1 per tree)."""
    import lightgbm

    data = image_splits(cfg)
    start = time.perf_counter()
    estimator = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
    model = estimator(
        n_estimators=MAX_TREES,
        learning_rate=learning_rate,
        num_threads=torch.get_num_threads(),
        verbose=-1,
        random_state=0,
    )
    stop = lightgbm.early_stopping(TREE_PATIENCE, verbose=False)
    model.fit(*data["train"], eval_set=[data["val"]], callbacks=[stop])
    trees = model.booster_.dump_model()["tree_info"]
    return baseline_result(
        name,
        "test/error",
        test_error(model, *data["test"]),
        sum(2 * tree["num_leaves"] - 1 for tree in trees),
        f"{model.best_iteration_} rounds (early stopping on validation)",
        start,
    )


def gradient_boosted_trees(cfg: DictConfig) -> dict[str, Any]:
    """LightGBM's classifier on the pixels, learning rate 0.1 (:func:`boosted_trees`)."""
    return boosted_trees(cfg, "gradient-boosted trees (LightGBM) on pixels", 0.1, error)


IMAGE_BASELINES = (
    "common.baselines:logistic_regression",
    "common.baselines:gradient_boosted_trees",
)
