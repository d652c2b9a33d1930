"""Loggers: Weights & Biases (offline unless asked otherwise) and a CSV file in the run folder.

Runs of one paper and preset share a W&B group; tags name the paper, preset and variant; the run
name says what differs. The resolved config, the paper's citation key and the run metadata are in
the W&B config, so runs compare side by side."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger


def new_wandb_id() -> str:
    """A fresh run id, drawn outside the seeded generators so seeding is unaffected."""
    return secrets.token_hex(4)


def build_loggers(
    cfg, output_dir: Path, wandb_id: str | None, config: dict[str, Any], resume_index: int = 0
) -> list[Logger]:
    """The CSV file is ``csv/metrics.csv``, and ``csv/resume-<k>/metrics.csv`` for the k-th
    resume (Lightning's CSV logger would otherwise overwrite the earlier rows)."""
    loggers: list[Logger] = []
    if cfg.logger.csv:
        version = f"resume-{resume_index}" if resume_index else ""
        loggers.append(CSVLogger(save_dir=str(output_dir), name="csv", version=version))
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
