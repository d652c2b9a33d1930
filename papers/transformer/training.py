"""Section 5's training signal and Section 6.1's checkpoint averaging, as plain functions.

- :func:`lrate`, Section 5.3: lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), linear
  warm-up for ``warmup`` steps (4000), then decay with the inverse square root of the step.
- :func:`label_smoothed_loss`, Section 5.4 (epsilon_ls = 0.1): the smoothing mass is spread as
  Szegedy et al. (2016), whom the paper cites, define it: q'(k) = (1 - eps) delta(k, y) + eps / K
  over all K = V entries of the vocabulary (the true one included), which is what
  ``torch.nn.functional.cross_entropy(label_smoothing=eps)`` computes. (tensor2tensor spreads
  eps / (V - 1) over the other entries only; the two differ by eps / V on the true entry.) Padding
  positions are no targets.
- :func:`per_global_token`: the loss of one piece of a global batch, divided so that any cut
  over processes and accumulation steps gives one process's step on the whole batch.
- :func:`average_checkpoints`, Section 6.1: the mean of the weights of the last 5 (base) or 20
  (big) checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor


def lrate(step: int, d_model: int, warmup: int = 4000) -> float:
    """Equation (3) at optimiser step ``step`` (counted from 1)."""
    if step < 1:
        raise ValueError(f"the schedule counts steps from 1, got {step}")
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def label_smoothed_loss(
    logits: Tensor,  # (B, T, V)
    targets: Tensor,  # (B, T), pad_id where there is no target
    epsilon: float,
    pad_id: int,
) -> tuple[Tensor, Tensor]:
    """The smoothed cross-entropy summed over the target tokens, and the unsmoothed negative
    log-likelihood summed likewise (for perplexity); divide both by the number of tokens."""
    flat_logits, flat_targets = logits.flatten(0, 1), targets.flatten()
    smoothed = F.cross_entropy(
        flat_logits, flat_targets, ignore_index=pad_id, label_smoothing=epsilon, reduction="sum"
    )
    nll = F.cross_entropy(flat_logits, flat_targets, ignore_index=pad_id, reduction="sum")
    return smoothed, nll


def per_global_token(
    loss_sum: Tensor, global_tokens: int, world_size: int, accumulate: int
) -> Tensor:
    """One piece's share of the global batch's loss per target token (Section 5.1's batches of
    about 25,000 target tokens, cut over ``world_size`` processes and ``accumulate`` steps).

    DDP averages the processes' gradients and Lightning divides each piece's loss by
    ``accumulate``; multiplying the piece's summed loss by both and dividing by the global
    batch's target tokens makes the update the one a single process would make on the whole
    batch: mean over processes of sum over pieces of (loss_sum * W * A / N) / A = total / N."""
    return loss_sum * world_size * accumulate / global_tokens


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, Tensor]:
    """The element-wise mean of the floating-point weights of Lightning checkpoints' state
    dicts (computed in float64); other entries (integer buffers) are the last checkpoint's. The
    checkpoints must hold the same names and shapes."""
    if not paths:
        raise ValueError("no checkpoints to average")
    states = [torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in paths]
    names = set(states[-1])
    for path, state in zip(paths, states, strict=True):
        if set(state) != names or any(state[n].shape != states[-1][n].shape for n in names):
            raise ValueError(f"{path} does not hold the same weights as {paths[-1]}")
    average = {}
    for name, last in states[-1].items():
        if last.is_floating_point():
            total = sum(state[name].double() for state in states)
            average[name] = (total / len(states)).to(last.dtype)
        else:
            average[name] = last.clone()
    return average


def average_run(folder: str | Path, last: int, output: str | Path | None = None) -> Path:
    """Average a run's last ``last`` snapshots (``<folder>/snapshots``, written during training)
    into one checkpoint that loads like the run's own: its ``last.ckpt`` with the averaged weights
    (hyperparameters and vocabulary included). Written to ``output`` or
    ``<folder>/checkpoints/averaged.ckpt``; returns the path."""
    folder = Path(folder)
    snapshots = sorted((folder / "snapshots").glob("step-*.ckpt"))[-last:]
    base = folder / "checkpoints" / "last.ckpt"
    if not snapshots or not base.exists():
        raise FileNotFoundError(
            f"{folder} holds no snapshots (snapshots/step-*.ckpt) or no checkpoints/last.ckpt: is "
            "it a Transformer run folder trained with model.average_last >= 2?"
        )
    if len(snapshots) < last:
        raise ValueError(f"{folder} holds {len(snapshots)} snapshots, fewer than the {last} asked")
    checkpoint = torch.load(base, map_location="cpu", weights_only=True)
    checkpoint["state_dict"] = average_checkpoints(snapshots)
    checkpoint["averaged"] = [p.name for p in snapshots]
    path = Path(output) if output else folder / "checkpoints" / "averaged.ckpt"
    torch.save(checkpoint, path)
    return path
