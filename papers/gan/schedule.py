"""The optimiser schedule of the authors' configuration (goodfeli/adversarial ``mnist.yaml``).

SGD with momentum, batch 100. Two pylearn2 callbacks change its hyperparameters:

* ``ExponentialDecay(decay_factor=1.000004, min_lr=1e-6)`` after every update:
  the t-th update (t = 0, 1, ...) uses lr_t = max(lr_0 / decay_factor**t, min_lr), lr_0 = 0.1.
* ``MomentumAdjustor(start=1, saturate=250, final_momentum=0.7)`` once per epoch: momentum rises
  linearly from 0.5 during the first epoch to 0.7 from the 250th epoch on (1-indexed).

Pylearn2's momentum rule is v <- m v - lr g, p <- p + v; :meth:`Schedule.apply` makes
``torch.optim.SGD`` (b <- m b + g, p <- p - lr b) take exactly these steps as lr changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def learning_rate(
    step: int, base_lr: float = 0.1, decay_factor: float = 1.000004, min_lr: float = 1e-6
) -> float:
    """Learning rate of update ``step`` (0 = the first update): exponential decay with a floor."""
    if step < 0:
        raise ValueError(f"step must be >= 0; got {step}")
    if decay_factor <= 0 or base_lr <= 0:
        raise ValueError(
            f"decay_factor and base_lr must be positive; got {decay_factor} and {base_lr}"
        )
    if step * math.log(decay_factor) > math.log(base_lr / min_lr):  # floor; avoids overflow
        return min_lr
    return max(base_lr / decay_factor**step, min_lr)


def momentum(
    epoch: int,
    init_momentum: float = 0.5,
    final_momentum: float = 0.7,
    start: int = 1,
    saturate: int = 250,
) -> float:
    """Momentum during epoch ``epoch`` (0 = the first epoch), as pylearn2's MomentumAdjustor.

    The adjustor counts monitor calls; the first comes before any training, so during epoch
    ``epoch`` its count is epoch + 1, and the weight of the final momentum is
    clip((count - start) / (saturate - start), 0, 1).
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0; got {epoch}")
    if saturate < start:
        raise ValueError(f"saturate must be >= start; got saturate={saturate}, start={start}")
    count = epoch + 1
    if saturate == start:
        return final_momentum if count >= start else init_momentum
    alpha = min(max((count - start) / (saturate - start), 0.0), 1.0)
    return (1 - alpha) * init_momentum + alpha * final_momentum


@dataclass(frozen=True)
class Schedule:
    """Both schedules with the configuration's values (CIFAR-10 FC: base_lr=0.025)."""

    base_lr: float = 0.1
    decay_factor: float = 1.000004
    min_lr: float = 1e-6
    init_momentum: float = 0.5
    final_momentum: float = 0.7
    momentum_start: int = 1
    momentum_saturate: int = 250

    def learning_rate(self, step: int) -> float:
        return learning_rate(step, self.base_lr, self.decay_factor, self.min_lr)

    def momentum(self, epoch: int) -> float:
        return momentum(
            epoch,
            self.init_momentum,
            self.final_momentum,
            self.momentum_start,
            self.momentum_saturate,
        )

    @torch.no_grad()
    def apply(self, optimizer: torch.optim.SGD, step: int, epoch: int) -> tuple[float, float]:
        """Set lr and momentum of every group for update ``step`` in epoch ``epoch``.

        torch keeps b = -v / lr; when lr changes, b is rescaled by lr_old / lr_new so that the
        velocity v (pylearn2's state) carries over unchanged. Returns (lr, momentum).
        """
        if not isinstance(optimizer, torch.optim.SGD):
            raise ValueError(f"optimizer must be torch.optim.SGD; got {type(optimizer).__name__}")
        lr, mom = self.learning_rate(step), self.momentum(epoch)
        for group in optimizer.param_groups:
            if group["nesterov"] or group["dampening"] != 0:
                raise ValueError("optimizer must use plain momentum (nesterov=False, dampening=0)")
            ratio = group["lr"] / lr
            for p in group["params"]:
                buffer = optimizer.state.get(p, {}).get("momentum_buffer")
                if buffer is not None and ratio != 1.0:
                    buffer.mul_(ratio)
            group["lr"], group["momentum"] = lr, mom
        return lr, mom
