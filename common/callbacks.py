"""Callbacks every paper gets: checkpoints, exact resume, and a stop on a non-finite loss."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

from common.errors import NonFiniteLossError
from common.reproducibility import RNGState


class StopOnNonFiniteLoss(L.Callback):
    """Stops the run with a clear error when the training loss becomes NaN or infinite.

    It raises before the epoch ends, so no checkpoint of the broken weights is written and the
    last good ``last.ckpt`` stays as it was."""

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # manual optimisation may return nothing: Lightning then passes an empty dict
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            last = self.checkpoint_dir / "last.ckpt"
            kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint yet"
            raise NonFiniteLossError(
                f"the training loss is {float(loss)} at epoch {trainer.current_epoch}, step "
                f"{trainer.global_step}; stopped ({kept}). "
                "Lower the learning rate or check the data."
            )


class PaperStamp(L.Callback):
    """Writes which paper and preset made a checkpoint, so a mismatched resume is caught."""

    def __init__(self, paper: str, preset: str) -> None:
        self.stamp = {"paper": paper, "preset": preset}

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint["landmarks"] = dict(self.stamp)


def default_callbacks(cfg, output_dir: Path) -> list[L.Callback]:
    """``best.ckpt`` (by ``callbacks.monitor``) and ``last.ckpt`` (the latest epoch), the RNG
    state in both, a stop on a non-finite loss, and the paper's stamp.

    Two checkpoint callbacks, because Lightning 2.6 only refreshes ``save_last`` when a top-k
    checkpoint is saved, which would leave ``last.ckpt`` behind whenever the metric stalls."""
    checkpoint_dir = output_dir / "checkpoints"
    every = cfg.callbacks.every_n_epochs
    return [
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="best",
            monitor=cfg.callbacks.monitor,
            mode=cfg.callbacks.mode,
            every_n_epochs=every,
            enable_version_counter=False,
        ),
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="last",
            every_n_epochs=every,
            enable_version_counter=False,
        ),
        RNGState(),
        StopOnNonFiniteLoss(checkpoint_dir),
        PaperStamp(cfg.paper.name, cfg.preset.name),
    ]
