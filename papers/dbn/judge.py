"""An independent judge of the Figure 8 samples: does a sample generated with label y clamped
look like a y to a classifier that never saw the DBN?

The judge is scikit-learn's multinomial logistic regression on the pixel intensities of real
training images and their labels (the same images the DBN trained on). Its agreement with the
clamped labels measures the claim that label-clamped samples are digits of that class.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor


def fit_judge(pixels: Tensor, labels: Tensor, max_examples: int, seed: int = 0):
    """Logistic regression on up to ``max_examples`` (pixels in [0, 1], label) pairs, drawn
    with a seeded permutation."""
    if max_examples < 1:
        raise ValueError(f"max_examples must be >= 1; got {max_examples}")
    keep = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))
    keep = keep[:max_examples]
    judge = LogisticRegression(max_iter=200)
    return judge.fit(to_numpy(pixels[keep]), labels[keep].numpy())


def judge_labels(judge, pixels: Tensor) -> Tensor:
    """The judge's label of each row of pixels (intensities or probabilities in [0, 1])."""
    return torch.from_numpy(judge.predict(to_numpy(pixels)).astype(np.int64))


def agreement(judge, samples: Tensor, clamped: Tensor) -> float:
    """Fraction of samples the judge labels as the label clamped when they were generated."""
    return float((judge_labels(judge, samples) == clamped.cpu()).float().mean())


def to_numpy(pixels: Tensor) -> np.ndarray:
    return pixels.detach().cpu().flatten(1).double().numpy()
