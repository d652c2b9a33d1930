"""The sceptic's baseline for Table 1 (common/baselines.py says why every claim has one): a
Gaussian mixture fitted to the same training images by scikit-learn, its samples scored by the
paper's Parzen-window protocol exactly as the GAN's are (sigma on the first 1,000 validation
images, the mean log-likelihood of the test images)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from common.baselines import image_splits
from papers.gan.parzen import NUM_SAMPLES, NUM_VALID, parzen_evaluation, select_sigma

COMPONENTS = (10, 30)  # mixture sizes tried on the validation images


def gaussian_mixture(cfg: DictConfig) -> dict[str, Any]:
    """A diagonal-covariance Gaussian mixture on the pixels in [0, 1]; ``NUM_SAMPLES`` samples,
    clipped to [0, 1], scored as ``test/parzen_ll``. Its size is chosen by the validation
    Parzen log-likelihood; parameters: each component's weight, means and variances."""
    from sklearn.mixture import GaussianMixture

    data = image_splits(cfg)
    train = data["train"][0]
    valid = torch.from_numpy(data["val"][0][:NUM_VALID]).double()
    test = torch.from_numpy(data["test"][0]).double()
    start = time.perf_counter()
    fitted = []
    for components in COMPONENTS:
        mixture = GaussianMixture(components, covariance_type="diag", random_state=0).fit(train)
        samples = np.clip(mixture.sample(NUM_SAMPLES)[0], 0.0, 1.0)
        samples = torch.from_numpy(samples).double()
        _, means = select_sigma(samples, valid)
        fitted.append((float(means.max()), components, samples))
    _, components, samples = max(fitted, key=lambda f: f[0])
    result = parzen_evaluation(samples, valid, test)
    return {
        "name": f"Gaussian mixture, {components} components (scikit-learn)",
        "measure": "test/parzen_ll",
        "value": result.mean,
        "parameters": components * (2 * train.shape[1] + 1),
        "seconds": time.perf_counter() - start,
        "setting": f"{components} of {', '.join(map(str, COMPONENTS))} components (validation); "
        f"sigma {result.sigma:.3g}",
        "threads": torch.get_num_threads(),
    }
