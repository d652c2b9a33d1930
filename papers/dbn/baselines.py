"""A discriminative net of the DBN's own size beside the reduced MNIST claim (common/baselines.py
says why every claim has simple baselines): Table 1 sets the DBN against backpropagation nets
(784-500-300-10 with cross-entropy and weight decay, 1.51%); here the sceptic's version is
scikit-learn's multilayer perceptron with the reduced DBN's hidden layers (logistic units, as the
DBN's), trained by backpropagation on the same 3,000 images, its weight decay chosen on the
validation split."""

from __future__ import annotations

import time
from typing import Any

from omegaconf import DictConfig

from common.baselines import (
    baseline_result,
    capped,
    choose_on_validation,
    error,
    image_splits,
    tried,
)

WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1)  # scikit-learn's alpha (L2), tried on validation
EPOCHS = 200  # Adam epochs at most; scikit-learn stops earlier when the training loss settles


def same_size_backprop_net(cfg: DictConfig) -> dict[str, Any]:
    """An MLP with the DBN's hidden sizes (``model.sizes[1:]``) and 10 softmax outputs, trained
    with cross-entropy and weight decay (Table 1's best backpropagation set-up); ``test/error``."""
    from sklearn.neural_network import MLPClassifier

    data = image_splits(cfg)
    hidden = tuple(cfg.model.sizes[1:])
    start = time.perf_counter()
    decay, model = choose_on_validation(
        WEIGHT_DECAYS,
        lambda decay: MLPClassifier(
            hidden, activation="logistic", alpha=decay, max_iter=EPOCHS, random_state=0
        ).fit(*data["train"]),
        lambda model: error(model, *data["val"]),
    )
    return baseline_result(
        f"backprop net {'-'.join(map(str, cfg.model.sizes))}-10 (scikit-learn MLP)",
        "test/error",
        error(model, *data["test"]),
        sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_),
        f"alpha={decay:g} (of {tried(WEIGHT_DECAYS)}, on validation){capped(model)}",
        start,
    )
