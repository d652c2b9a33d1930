"""Callbacks every paper gets: checkpoints, exact resume, a stop on a non-finite loss, and a
progress bar that shows the paper's metrics."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar

from common.errors import NonFiniteLossError
from common.reproducibility import RNGState
from common.run_folder import RunFolder


class StopOnNonFiniteLoss(L.Callback):
    """Stops the run with a clear error when the training loss becomes NaN or infinite.

    It raises before the epoch ends, so no checkpoint of the broken weights is written and the
    last good ``last.ckpt`` stays as it was."""

    def __init__(self, last_checkpoint: Path) -> None:
        self.last_checkpoint = Path(last_checkpoint)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # manual optimisation may return nothing: Lightning then passes an empty dict
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not math.isfinite(float(loss)):
            last = self.last_checkpoint
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


class PaperProgressBar(RichProgressBar):
    """The progress bar with the run's own metrics (``callbacks.progress_bar``, those of them the
    paper logs, and the monitored metric) instead of Lightning's ``v_num``."""

    def __init__(self, metrics: list[str]) -> None:
        super().__init__()
        self.metrics = list(dict.fromkeys(metrics))

    def get_metrics(self, trainer, pl_module) -> dict[str, float]:
        logged = trainer.callback_metrics
        shown = {}
        for name in self.metrics:
            value = logged.get(f"{name}_step", logged.get(name))
            if value is not None and value.numel() == 1:
                shown[name] = float(value)
        return shown


def default_callbacks(cfg, folder: RunFolder) -> list[L.Callback]:
    """``best.ckpt`` (by ``callbacks.monitor``) and ``last.ckpt`` (the latest epoch), the RNG
    state in both, a stop on a non-finite loss, and the paper's stamp.

    Two checkpoint callbacks, because Lightning 2.6 only refreshes ``save_last`` when a top-k
    checkpoint is saved, which would leave ``last.ckpt`` behind whenever the metric stalls."""
    checkpoint_dir = folder.checkpoints
    every = cfg.callbacks.every_n_epochs
    bar = [PaperProgressBar([*cfg.callbacks.progress_bar, cfg.callbacks.monitor])]
    return [
        *(bar if cfg.trainer.enable_progress_bar else []),
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename=folder.best_checkpoint.stem,
            monitor=cfg.callbacks.monitor,
            mode=cfg.callbacks.mode,
            every_n_epochs=every,
            enable_version_counter=False,
        ),
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename=folder.last_checkpoint.stem,
            every_n_epochs=every,
            enable_version_counter=False,
        ),
        RNGState(),
        StopOnNonFiniteLoss(folder.last_checkpoint),
        PaperStamp(cfg.paper.name, cfg.preset.name),
    ]
