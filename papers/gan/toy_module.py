"""LightningModules and data for the small experiments of ``toy.py``, so that they run through
``common.train.train`` (and ``scripts/reproduce.py``) like the image GAN.

* :class:`OptimalDiscriminatorModule` (Proposition 1): G is a fixed one-dimensional
  distribution p_g; D alone is trained, and the test measures how far D is from
  D* = p_data / (p_data + p_g).
* :class:`RingGANModule` (beyond the paper, Section 6): Algorithm 1 on the ring of 8
  Gaussians; the test counts the modes G covers and the share of high-quality samples.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from papers.gan.game import AdversarialGame
from papers.gan.model import Discriminator, Generator, discriminator_loss
from papers.gan.toy import (
    DENSITY_PAIRS,
    density_pair,
    mode_coverage,
    optimality_gap,
    ring_modes,
    sample_ring,
)

RING = "ring"


class SampleDataModule(L.LightningDataModule):
    """Points drawn once (seed ``seed``) from ``distribution``: "ring" (the 2-D ring of
    ``num_modes`` Gaussians) or the data side p_data of a density pair of ``toy.py``.
    Each batch is a one-element tuple ``(x,)`` with x of shape (batch, dimensions)."""

    def __init__(
        self,
        distribution: str,
        train_size: int,
        test_size: int,
        batch_size: int,
        seed: int = 0,
        num_modes: int = 8,
        radius: float = 2.0,
        std: float = 0.02,
    ) -> None:
        super().__init__()
        if distribution != RING and distribution not in DENSITY_PAIRS:
            raise ValueError(
                f"distribution must be {RING!r} or one of {DENSITY_PAIRS}; got {distribution!r}"
            )
        self.save_hyperparameters()
        self.splits: dict[str, TensorDataset] = {}

    def draw(self, n: int, generator: torch.Generator) -> Tensor:
        hp = self.hparams
        if hp.distribution == RING:
            return sample_ring(n, hp.num_modes, hp.radius, hp.std, generator)
        with torch.random.fork_rng(devices=[]):  # torch.distributions sample the global RNG
            torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))
            return density_pair(hp.distribution).data.sample((n, 1))

    def setup(self, stage: str | None = None) -> None:
        generator = torch.Generator().manual_seed(self.hparams.seed)
        sizes = {"train": self.hparams.train_size, "test": self.hparams.test_size}
        self.splits = {k: TensorDataset(self.draw(n, generator)) for k, n in sizes.items()}

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["train"], batch_size=self.hparams.batch_size, shuffle=True)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=self.hparams.batch_size)


class OptimalDiscriminatorModule(L.LightningModule):
    """Proposition 1: with G fixed (p_g of the pair ``pair``), D trained on the criterion of
    Eq. 1 approaches D*(x) = p_data(x) / (p_data(x) + p_g(x)).

    Args: pair (one of ``toy.DENSITY_PAIRS``; the data module serves its p_data),
    discriminator (keyword arguments of :class:`Discriminator`, 1-D input), lr (Adam's initial
    rate, decayed to zero over the run).
    The test logs ``test/optimality_gap`` = E|D(x) - D*(x)| over the test points of p_data and
    as many points of p_g, and ``test/optimality_gap_half``, the same for the constant
    D = 1/2 (what D is before it learns anything).
    """

    def __init__(self, pair: str, discriminator: dict[str, Any], lr: float = 1e-2) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.pair = density_pair(pair)
        self.discriminator = Discriminator(data_dim=1, **discriminator)
        self.test_points: list[Tensor] = []

    def training_step(self, batch, batch_idx: int) -> Tensor:
        (real,) = batch
        fake = self.pair.model.sample(real.shape).to(real)  # the fixed G: x ~ p_g
        loss = discriminator_loss(self.discriminator(real), self.discriminator(fake))
        self.log("train/loss_d", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        """Adam, its rate decayed to zero over the run (cosine, per step): D converges to a
        point for the fixed G instead of wandering with the noise of the minibatches."""
        optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=self.hparams.lr)
        decay = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.trainer.estimated_stepping_batches
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "step"}}

    def test_step(self, batch, batch_idx: int) -> None:
        self.test_points.append(batch[0])

    def on_test_epoch_end(self) -> None:
        real = torch.cat(self.test_points)
        self.test_points = []
        x = torch.cat([real, self.pair.model.sample(real.shape).to(real)])
        half = (0.5 - self.pair.optimal_discriminator(x.squeeze(1))).abs().mean()
        self.log("test/optimality_gap", optimality_gap(self.discriminator, self.pair, x))
        self.log("test/optimality_gap_half", half)


class RingGANModule(AdversarialGame):
    """Algorithm 1 on the ring of Gaussians (the data module's ``ring``), Adam for both players.

    Args: generator, discriminator (keyword arguments of :class:`Generator` and
    :class:`Discriminator` with 2-D data), k, generator_objective, updates, early_threshold,
    early_iterations (as in :class:`papers.gan.game.AdversarialGame`), lr and betas (Adam),
    num_modes, radius, std (the ring, as served), num_samples (samples of G the test scores),
    num_stds (a sample within num_stds * std of its nearest mode is high quality), min_share (a
    mode is covered if it holds at least this share of all samples as high-quality ones),
    eval_seed.
    The test logs ``test/modes_covered`` and ``test/high_quality_share`` for G's samples and the
    same for the test points of the ring itself (``test/modes_covered_data``, ...).
    """

    def __init__(
        self,
        generator: dict[str, Any],
        discriminator: dict[str, Any],
        k: int = 1,
        generator_objective: str = "non_saturating",
        updates: str = "alternating",
        early_threshold: float = 1.0,
        early_iterations: int = 100,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        num_modes: int = 8,
        radius: float = 2.0,
        std: float = 0.02,
        num_samples: int = 10_000,
        num_stds: float = 3.0,
        min_share: float = 0.01,
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.start_game()
        self.generator = Generator(data_dim=2, **generator)
        self.discriminator = Discriminator(data_dim=2, **discriminator)
        self.test_points: list[Tensor] = []

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        return [
            torch.optim.Adam(net.parameters(), lr=hp.lr, betas=tuple(hp.betas))
            for net in (self.discriminator, self.generator)
        ]

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.log("train/iterations", self.iterations.float())  # picks the last checkpoint

    def test_step(self, batch, batch_idx: int) -> None:
        self.test_points.append(batch[0])

    def on_test_epoch_end(self) -> None:
        hp = self.hparams
        modes = ring_modes(hp.num_modes, hp.radius).to(self.device)
        with torch.no_grad():
            z = self.generator.sample_noise(
                hp.num_samples, torch.Generator(device=self.device).manual_seed(hp.eval_seed)
            )
            samples = self.generator(z)
        for suffix, points in (("", samples), ("_data", torch.cat(self.test_points))):
            coverage = mode_coverage(points, modes, hp.std, hp.num_stds, hp.min_share)
            self.log(f"test/modes_covered{suffix}", float(coverage.modes_covered))
            self.log(f"test/high_quality_share{suffix}", coverage.high_quality_share)
        self.test_points = []
        self.log_early_grad_norm()
