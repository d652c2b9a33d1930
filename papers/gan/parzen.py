"""Parzen-window log-likelihood, the estimate of Table 1 (Section 5), as ``parzen_ll.py`` does it.

A Gaussian kernel of width sigma is put on each of M generated samples mu_i; a point x of
dimension d gets

    log p(x) = log (1/M) sum_i exp(-||x - mu_i||^2 / (2 sigma^2)) - d log(sigma sqrt(2 pi)).

Protocol: M = 10,000 samples from G; sigma from logspace(-1, 0, 10) maximising the mean
log-likelihood of the first 1,000 validation images (MNIST train[50000:60000]); then the mean
over the test set, with standard error std / sqrt(N) (population std, as numpy's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

NUM_SAMPLES = 10_000  # parzen_ll.py --num_samples
NUM_VALID = 1_000  # parzen_ll.py --limit_size


def sigma_grid(start: float = -1.0, end: float = 0.0, num: int = 10) -> Tensor:
    """The candidate widths, numpy.logspace(start, end, num): 0.1 ... 1.0 by default."""
    return torch.logspace(start, end, num, dtype=torch.float64)


def _squared_distances(x: Tensor, mu: Tensor) -> Tensor:
    """||x_a - mu_i||^2 for all pairs, via ||x||^2 + ||mu||^2 - 2 x.mu (one matmul)."""
    d2 = (x * x).sum(1, keepdim=True) + (mu * mu).sum(1) - 2 * x @ mu.T
    return d2.clamp_min_(0)


def _log_likelihoods(d2: Tensor, sigmas: Tensor, dim: int) -> Tensor:
    """Parzen log-likelihood of each row of d2 (batch, M), for each sigma: (len(sigmas), batch)."""
    log_m = math.log(d2.shape[1])
    return torch.stack(
        [
            torch.logsumexp(-d2 / (2 * sigma**2), dim=1)
            - log_m
            - dim * math.log(sigma * math.sqrt(2 * math.pi))
            for sigma in sigmas.tolist()
        ]
    )


def parzen_log_likelihoods(
    x: Tensor,
    samples: Tensor,
    sigmas: Tensor | float,
    batch_size: int = 1000,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """log p(x_a) under the Parzen window on ``samples``, shape (len(sigmas), N) or (N,).

    Distances are computed once per batch of x and shared by all sigmas.
    """
    if x.ndim < 2 or samples.ndim < 2:
        raise ValueError("x and samples must be batches (first dim = examples)")
    x, samples = x.flatten(1).to(dtype), samples.flatten(1).to(dtype)
    if x.shape[1] != samples.shape[1]:
        raise ValueError(f"x has dimension {x.shape[1]} but samples have {samples.shape[1]}")
    scalar = not isinstance(sigmas, Tensor) or sigmas.ndim == 0
    sigmas = torch.as_tensor(sigmas, dtype=dtype).reshape(-1)
    if (sigmas <= 0).any():
        raise ValueError(f"sigmas must be positive; got {sigmas.tolist()}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    samples = samples.to(x.device)
    out = [
        _log_likelihoods(_squared_distances(batch, samples), sigmas, x.shape[1])
        for batch in x.split(batch_size)
    ]
    ll = torch.cat(out, dim=1)
    return ll[0] if scalar else ll


def mean_and_standard_error(ll: Tensor) -> tuple[float, float]:
    """Mean of per-example log-likelihoods and its standard error std / sqrt(N) (ddof 0)."""
    ll = ll.double()
    return ll.mean().item(), (ll.std(correction=0) / math.sqrt(ll.numel())).item()


def select_sigma(
    samples: Tensor, valid: Tensor, sigmas: Tensor | None = None, batch_size: int = 1000
) -> tuple[float, Tensor]:
    """The sigma of the grid with the highest mean validation log-likelihood (first on ties).

    Returns (sigma, mean validation log-likelihood of every sigma).
    """
    sigmas = sigma_grid() if sigmas is None else torch.as_tensor(sigmas, dtype=torch.float64)
    means = parzen_log_likelihoods(valid, samples, sigmas.reshape(-1), batch_size).mean(1)
    return sigmas.reshape(-1)[int(torch.argmax(means))].item(), means


@dataclass(frozen=True)
class ParzenResult:
    sigma: float
    mean: float  # mean test log-likelihood, nats
    standard_error: float
    valid_means: Tensor  # mean validation log-likelihood per sigma of the grid


def parzen_evaluation(
    samples: Tensor,
    valid: Tensor,
    test: Tensor,
    sigmas: Tensor | None = None,
    batch_size: int = 1000,
) -> ParzenResult:
    """The whole protocol: sigma on ``valid``, then mean and standard error on ``test``.

    Pass NUM_SAMPLES generated samples and the first NUM_VALID validation images to follow
    ``parzen_ll.py``.
    """
    sigma, valid_means = select_sigma(samples, valid, sigmas, batch_size)
    ll = parzen_log_likelihoods(test, samples, sigma, batch_size)
    mean, se = mean_and_standard_error(ll)
    return ParzenResult(sigma, mean, se, valid_means)
