"""Small distributions with known answers.

* Proposition 1 (Section 4.1): for a fixed G the optimal discriminator is
  D*_G(x) = p_data(x) / (p_data(x) + p_g(x)). One-dimensional pairs (p_data, p_g) with known
  densities give D* exactly; :func:`fit_discriminator` trains D on samples of the pair.
* Beyond the paper: the ring of 8 Gaussians (radius 2, std 0.02, as in Metz et al. 2016) with
  mode coverage, to look at the "Helvetica scenario" (Section 6) where G collapses to few modes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, MixtureSameFamily, Normal

from papers.gan.model import discriminator_loss

# --------------------------------------------------------------------------- Proposition 1


@dataclass(frozen=True)
class DensityPair:
    """A data distribution and a fixed generator distribution on the real line."""

    data: Distribution
    model: Distribution  # p_g

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        """n points from p_data and n from p_g, each of shape (n, 1)."""
        return self.data.sample((n, 1)), self.model.sample((n, 1))

    def optimal_discriminator(self, x: Tensor) -> Tensor:
        """D*(x) = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g) (Proposition 1)."""
        return torch.sigmoid(self.data.log_prob(x) - self.model.log_prob(x))


def _bimodal(mean: float, std: float) -> Distribution:
    return MixtureSameFamily(
        Categorical(probs=torch.tensor([0.5, 0.5])),
        Normal(torch.tensor([-mean, mean]), torch.tensor([std, std])),
    )


_PAIRS: dict[str, Callable[[], DensityPair]] = {
    "shifted": lambda: DensityPair(Normal(0.0, 1.0), Normal(1.0, 1.0)),  # linear log-ratio
    "scaled": lambda: DensityPair(Normal(0.0, 1.0), Normal(0.0, 2.0)),  # quadratic log-ratio
    "bimodal": lambda: DensityPair(_bimodal(2.0, 0.5), Normal(0.0, 1.5)),
}
DENSITY_PAIRS = tuple(_PAIRS)


def density_pair(name: str) -> DensityPair:
    """The pair called ``name``, one of DENSITY_PAIRS."""
    if name not in _PAIRS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _PAIRS))}; got {name!r}")
    return _PAIRS[name]()


def fit_discriminator(
    discriminator: nn.Module,
    pair: DensityPair,
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 1e-2,
) -> list[float]:
    """Train D alone (the inner loop of Algorithm 1 with G frozen) with Adam; returns the losses."""
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=lr)
    discriminator.train()
    losses = []
    for _ in range(steps):
        real, fake = pair.sample(batch_size)
        loss = discriminator_loss(discriminator(real), discriminator(fake))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def mixture_points(pair: DensityPair, n: int = 10_000) -> Tensor:
    """n // 2 points from p_data and as many from p_g, shape (n, 1): (p_data + p_g) / 2, the
    distribution D is trained on."""
    return torch.cat(pair.sample(n // 2))


@torch.no_grad()
def optimality_gap(discriminator: nn.Module, pair: DensityPair, x: Tensor | None = None) -> float:
    """E |D(x) - D*(x)| over the points x (n, 1); by default 10,000 of :func:`mixture_points`."""
    x = mixture_points(pair) if x is None else x
    discriminator.eval()
    d = torch.sigmoid(discriminator(x))
    return (d - pair.optimal_discriminator(x.squeeze(1))).abs().mean().item()


# --------------------------------------------------------------------------- ring of Gaussians


def ring_modes(num_modes: int = 8, radius: float = 2.0) -> Tensor:
    """Centres of the mixture: num_modes points evenly spaced on a circle, shape (num_modes, 2)."""
    if num_modes < 1:
        raise ValueError(f"num_modes must be >= 1; got {num_modes}")
    angle = torch.arange(num_modes) * (2 * math.pi / num_modes)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def sample_ring(
    n: int,
    num_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    generator: torch.Generator | None = None,
) -> Tensor:
    """n points from the equal-weight mixture of isotropic Gaussians on ``ring_modes``."""
    modes = ring_modes(num_modes, radius)
    which = torch.randint(num_modes, (n,), generator=generator)
    return modes[which] + std * torch.randn(n, 2, generator=generator)


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int
    high_quality_share: float  # share of samples within num_stds * std of their nearest mode
    counts: Tensor  # high-quality samples per mode


def mode_coverage(
    samples: Tensor,
    modes: Tensor,
    std: float = 0.02,
    num_stds: float = 3.0,
    min_share: float = 0.01,
) -> ModeCoverage:
    """Mode coverage of ``samples``: a sample is high quality if it lies within num_stds * std
    of its nearest mode; a mode is covered if it holds at least ``min_share`` of all samples as
    high-quality ones (our threshold: one eighth of a mode's fair share for 8 modes).
    """
    if samples.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(
            f"samples must have shape (n, {modes.shape[1]}); got {tuple(samples.shape)}"
        )
    distance, nearest = torch.cdist(samples.double(), modes.double()).min(dim=1)
    good = distance <= num_stds * std
    counts = torch.bincount(nearest[good], minlength=len(modes))
    covered = int(((counts > 0) & (counts >= min_share * len(samples))).sum())
    return ModeCoverage(covered, good.double().mean().item(), counts)
