"""Algorithm 1 of Goodfellow et al. (2014) as a LightningModule base, for any G and D.

Both the image GAN (``module.py``) and the two-dimensional ring of Gaussians (``toy_module.py``)
train through it, with two optimisers (manual optimisation), in one of two orders:

- ``alternating`` (Algorithm 1 as printed): k steps of D on a minibatch of data and one of noise,
  then one step of G on fresh noise through the updated D;
- ``simultaneous`` (the authors' code, ``AdversaryCost2`` in goodfeli/adversarial, which made
  Table 1): one minibatch of samples S = G(z), both players' gradients taken at the same
  parameters from the same forward pass of D (one dropout draw), then both updated (k = 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
import torch
from torch import Tensor, nn

from common.checks import check_choice
from papers.gan.model import GENERATOR_OBJECTIVES, discriminator_loss, generator_loss

UPDATES = ("alternating", "simultaneous")


def gradient_norm(module: nn.Module) -> Tensor:
    """Euclidean norm of the gradient of all of ``module``'s parameters (one long vector)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads)  # foreach norms: no copy of the gradients


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No gradients for ``module``'s parameters inside the block (G's step passes through D)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


class AdversarialGame(L.LightningModule):
    """Algorithm 1 with k discriminator steps per generator step.

    A subclass builds ``self.generator`` (with ``sample(n)``) and ``self.discriminator``
    (returning logits), saves the hyperparameters ``k``, ``generator_objective``, ``updates``
    (one of ``UPDATES``), ``early_threshold`` and ``early_iterations``, calls
    :meth:`start_game`, and returns the two optimisers (D's first) from
    ``configure_optimizers``. It may override :meth:`preprocess` (a
    batch's first element to data points) and :meth:`before_update` (a schedule applied before
    each update).
    """

    def start_game(self) -> None:
        """Check the game's hyperparameters and create its counters (kept in checkpoints)."""
        hp = self.hparams
        if hp.k < 1:
            raise ValueError(f"k must be >= 1; got {hp.k}")
        if hp.generator_objective not in GENERATOR_OBJECTIVES:
            raise ValueError(
                f"generator_objective must be one of {GENERATOR_OBJECTIVES}; "
                f"got {hp.generator_objective!r}"
            )
        check_choice("updates", hp.updates, UPDATES)
        if hp.updates == "simultaneous" and hp.k != 1:
            raise ValueError(f"simultaneous updates take one step of each player; got k={hp.k}")
        if hp.early_iterations < 1:
            raise ValueError(f"early_iterations must be >= 1; got {hp.early_iterations}")
        if not 0 < hp.early_threshold <= 1:
            raise ValueError(f"early_threshold must be in (0, 1]; got {hp.early_threshold}")
        self.automatic_optimization = False  # two optimisers, k D steps per G step
        self.register_buffer("iterations", torch.tensor(0))  # G's updates so far
        self.register_buffer("discriminator_updates", torch.tensor(0))
        self.register_buffer("early_grad_norm_sum", torch.tensor(0.0))
        self.register_buffer("early_start", torch.tensor(-1))  # iteration the window opened
        self.register_buffer("early_steps", torch.tensor(0))  # G steps inside it so far
        self.epoch_sums: dict[str, list[Tensor]] = {}  # name -> [sum of value * batch, batch]

    def preprocess(self, x: Tensor) -> Tensor:
        return x

    def before_update(self, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """Called before every update of either player; returns values to log per step."""
        return {}

    def discriminator_step(self, real: Tensor, optimizer) -> dict[str, Tensor]:
        """One step of D ascending (1/m) sum log D(x) + log(1 - D(G(z))) on a minibatch."""
        with torch.no_grad():
            fake = self.generator.sample(len(real))
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = discriminator_loss(real_logits, fake_logits)
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        self.discriminator_updates += 1
        return {
            "loss_d": loss.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),
        }

    def generator_step(self, m: int, optimizer) -> dict[str, Tensor]:
        """One step of G on a fresh minibatch of m noise samples; D is held fixed. The norm of
        G's gradient and D(G(z)) on this minibatch are logged, and the norm enters the early
        window (:meth:`track_early_window`)."""
        with frozen(self.discriminator):
            fake_logits = self.discriminator(self.generator.sample(m))
            loss = generator_loss(fake_logits, self.hparams.generator_objective)
            optimizer.zero_grad()
            self.manual_backward(loss)
            grad_norm = gradient_norm(self.generator)
            optimizer.step()
        d_fake = torch.sigmoid(fake_logits).mean().detach()
        self.track_early_window(d_fake, grad_norm)
        self.iterations += 1
        return {"loss_g": loss.detach(), "grad_norm_g": grad_norm, "d_fake_g": d_fake}

    def simultaneous_step(self, real: Tensor, optimizer_d, optimizer_g) -> dict[str, Tensor]:
        """One update of both players from one forward pass, as the authors' ``AdversaryCost2``:
        S = G(z) for a minibatch of m noise samples, D's loss on D(x) and D(S), G's loss on the
        same D(S); each gradient is taken at the current parameters, then both take a step."""
        fake = self.generator.sample(len(real))
        seen = fake.detach().requires_grad_()  # D's input: G's gradient is pushed back from it
        real_logits, fake_logits = self.discriminator(real), self.discriminator(seen)
        loss_d = discriminator_loss(real_logits, fake_logits)
        loss_g = generator_loss(fake_logits, self.hparams.generator_objective)
        optimizer_d.zero_grad()
        optimizer_g.zero_grad()
        (towards_fake,) = torch.autograd.grad(loss_g, seen, retain_graph=True)  # D untouched
        self.manual_backward(loss_d)  # D's parameters only: ``seen`` is cut from G
        self.manual_backward(fake, gradient=towards_fake)  # G's, through the samples
        grad_norm = gradient_norm(self.generator)
        for optimizer in (optimizer_d, optimizer_g):
            self.before_update(optimizer.optimizer)
            optimizer.step()
        self.discriminator_updates += 1
        d_fake = torch.sigmoid(fake_logits).mean().detach()
        self.track_early_window(d_fake, grad_norm)
        self.iterations += 1
        return {
            "loss_d": loss_d.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": d_fake,
            "loss_g": loss_g.detach(),
            "grad_norm_g": grad_norm,
            "d_fake_g": d_fake,
        }

    def track_early_window(self, d_fake: Tensor, grad_norm: Tensor) -> None:
        """Section 3's early phase, once D wins: the window opens at the first G step whose mean
        D(G(z)) is at most ``early_threshold`` (1 opens it at G's first step) and holds
        ``early_iterations`` G steps; their gradient norms are summed."""
        if int(self.early_start) < 0 and float(d_fake) <= self.hparams.early_threshold:
            self.early_start.fill_(int(self.iterations))
        opened = int(self.early_start) >= 0
        if opened and int(self.early_steps) < self.hparams.early_iterations:
            self.early_grad_norm_sum += grad_norm
            self.early_steps += 1

    def training_step(self, batch, batch_idx: int) -> Tensor:
        """One iteration of Algorithm 1. Each step's values are logged as ``train/<name>_step``
        only on the steps the loggers write (every ``trainer.log_every_n_steps``-th batch, as
        Lightning's ``on_step``), and their means over the epoch, weighted by batch size, as
        ``train/<name>_epoch`` at its end: one ``self.log`` per value and epoch instead of one
        per step, which cost more than the step itself on small networks (``bench.py``)."""
        real = self.preprocess(batch[0])
        optimizer_d, optimizer_g = self.optimizers()
        per_step = self.before_update(optimizer_d.optimizer)
        if self.hparams.updates == "simultaneous":
            logs = self.simultaneous_step(real, optimizer_d, optimizer_g)
        else:
            logs = self.discriminator_step(real, optimizer_d)
        updates = int(self.discriminator_updates)  # batches so far, as the loggers count them
        if self.hparams.updates == "alternating" and updates % self.hparams.k == 0:
            self.before_update(optimizer_g.optimizer)
            logs |= self.generator_step(len(real), optimizer_g)
        for name, value in logs.items():
            total = self.epoch_sums.setdefault(name, [torch.zeros_like(value), 0])
            total[0] += value * len(real)
            total[1] += len(real)
        every = self.trainer.log_every_n_steps
        if every and updates % every == 0:
            self.log_dict(
                {f"train/{k}_step": v for k, v in logs.items()}
                | {f"train/{k}": v for k, v in per_step.items()}
            )
        return logs["loss_d"]

    def on_train_epoch_end(self) -> None:
        self.log_dict({f"train/{k}_epoch": s / n for k, (s, n) in self.epoch_sums.items()})
        self.epoch_sums = {}

    def log_early_grad_norm(self) -> None:
        """test/early_grad_norm_g: mean norm of G's gradient over the early window (Section 3:
        under the minimax objective it vanishes once D rejects G's samples), NaN if the window
        never opened; test/early_window_start: G's iteration that opened it (-1: never);
        test/early_window_steps: G steps inside it (fewer than early_iterations if cut short)."""
        steps = int(self.early_steps)
        mean = self.early_grad_norm_sum / steps if steps else torch.tensor(float("nan"))
        self.log("test/early_grad_norm_g", mean)
        self.log("test/early_window_start", self.early_start.float())
        self.log("test/early_window_steps", self.early_steps.float())
