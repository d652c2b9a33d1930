"""An independent judge of the Figure 8 samples: does a sample generated with label y clamped
look like a y to a classifier that never saw the DBN?

The judge is scikit-learn's multilayer perceptron (one hidden layer of 256 ReLUs, Adam, early
stopping on a tenth of its examples held out) on the pixel intensities of real training images
and their labels. On MNIST, fitted on all 60,000 training images, it errs on about 1.8 % of the
test digits (a logistic regression on the 3,000 images of the reduced claims erred on 11 %), so
its disagreement with a clamped label says more about the sample than about the judge. Its
agreement with the clamped labels measures the claim that label-clamped samples are digits of
that class.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier
from torch import Tensor

HIDDEN_UNITS = 256
ONE_IN = 10  # one of the judge's examples in 10 is held out for early stopping


def fit_judge(pixels: Tensor, labels: Tensor, max_examples: int, seed: int = 0) -> MLPClassifier:
    """The judge fitted on up to ``max_examples`` (pixels in [0, 1], label) pairs, drawn with a
    seeded permutation; early stopping holds out a tenth of them, every class among them."""
    keep = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))
    keep = keep[:max_examples]
    n_classes = len(labels.unique())
    least = ONE_IN * n_classes
    if len(keep) < least:
        raise ValueError(
            f"the judge needs at least {least} examples: it holds out a tenth of them for early "
            f"stopping, at least one of each of the {n_classes} classes; it has {len(keep)} "
            f"(max_examples={max_examples})"
        )
    judge = MLPClassifier(
        hidden_layer_sizes=(HIDDEN_UNITS,),
        early_stopping=True,
        validation_fraction=1 / ONE_IN,
        random_state=seed,
    )
    return judge.fit(to_numpy(pixels[keep]), labels[keep].numpy())


def judge_labels(judge: MLPClassifier, pixels: Tensor) -> Tensor:
    """The judge's label of each row of pixels (intensities or probabilities in [0, 1])."""
    return torch.from_numpy(judge.predict(to_numpy(pixels)).astype(np.int64))


def agreement(judge: MLPClassifier, samples: Tensor, clamped: Tensor) -> float:
    """Fraction of samples the judge labels as the label clamped when they were generated."""
    return float((judge_labels(judge, samples) == clamped.cpu()).float().mean())


def to_numpy(pixels: Tensor) -> np.ndarray:
    return pixels.detach().cpu().flatten(1).double().numpy()
