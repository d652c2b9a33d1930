"""Loggers: Weights & Biases (offline unless asked otherwise) and a CSV file in the run folder.

Runs of one paper and preset share a W&B group; tags name the paper, preset and variant; the run
name says what differs. The resolved config, the paper's citation key and the run metadata are in
the W&B config, so runs compare side by side."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger


def new_wandb_id() -> str:
    from wandb.util import generate_id

    return generate_id()


def build_loggers(
    cfg, output_dir: Path, wandb_id: str | None, config: dict[str, Any]
) -> list[Logger]:
    loggers: list[Logger] = []
    if cfg.logger.csv:
        loggers.append(CSVLogger(save_dir=str(output_dir), name="csv", version=""))
    if cfg.logger.wandb is not None:
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        w = cfg.logger.wandb
        loggers.append(
            WandbLogger(
                project=w.project,
                entity=w.entity,
                name=w.name,
                group=w.group,
                tags=list(w.tags),
                mode=w.mode,
                id=wandb_id,
                save_dir=str(output_dir),
                config=config,
            )
        )
    return loggers


def finish_wandb() -> None:
    """Close the W&B run, so a later run in this process cannot silently reuse it."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()
