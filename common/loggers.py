"""Loggers: Weights & Biases (offline unless asked otherwise) and a CSV file in the run folder.

Runs of one paper and preset share a W&B group; tags name the paper, preset and variant; the run
name says what differs. The resolved config, the paper's citation key and the run metadata are in
the W&B config, so runs compare side by side."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger

from common.run_folder import RunFolder


def new_wandb_id() -> str:
    """A fresh run id, drawn outside the seeded generators so seeding is unaffected."""
    return secrets.token_hex(4)


def build_loggers(
    cfg, folder: RunFolder, wandb_id: str | None, config: dict[str, Any], resume_index: int = 0
) -> list[Logger]:
    """The CSV file is ``csv/metrics.csv``, and ``csv/resume-<k>/metrics.csv`` for the k-th
    resume (Lightning's CSV logger would otherwise overwrite the earlier rows)."""
    loggers: list[Logger] = []
    if cfg.logger.csv:
        version = folder.csv_version(resume_index)
        loggers.append(CSVLogger(save_dir=str(folder.path), name="csv", version=version))
    if cfg.logger.wandb is not None:
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        w = cfg.logger.wandb
        wandb_logger = WandbLogger(
            project=w.project,
            entity=w.entity,
            name=w.name,
            group=w.group,
            tags=list(w.tags),
            job_type=w.get("job_type"),
            mode=w.mode,
            id=wandb_id,
            save_dir=str(folder.path),
            config=config,
        )
        # Lightning always passes anonymous=None, which wandb 0.31 answers with a deprecation
        # warning on every run; the setting does nothing.
        wandb_logger._wandb_init.pop("anonymous", None)
        loggers.append(wandb_logger)
    return loggers


# Lightning's messages that are not the user's concern.
_NOISE = ("💡 Tip: For seamless cloud logging", "Detected KeyboardInterrupt")


def tidy_console() -> None:
    """Each message once, and none that is not the user's concern.

    The ``lightning`` package adds its own console handler and also passes its records on to the
    root logger, which Hydra gives a console handler of its own: every INFO line came twice. Where
    the root logger has handlers (under Hydra), Lightning's own is removed."""
    import logging
    import warnings

    lightning, root = logging.getLogger("lightning"), logging.getLogger()
    if root.handlers:
        for handler in list(lightning.handlers):
            lightning.removeHandler(handler)
    # filters on handlers see every record that reaches them (those on loggers do not)
    names = ("lightning", "lightning.pytorch", "lightning.fabric")
    for handler in root.handlers + [h for n in names for h in logging.getLogger(n).handlers]:
        if not any(isinstance(f, _DropNoise) for f in handler.filters):
            handler.addFilter(_DropNoise())
    # lightning 2.6 calls a deprecated torch pytree check on every fit and test
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


class _DropNoise:
    def filter(self, record) -> bool:
        return not str(record.getMessage()).lstrip().startswith(_NOISE)


def active_wandb_run() -> Any:
    """The W&B run open in this process, or None (without importing wandb when no run did)."""
    wandb = sys.modules.get("wandb")
    return None if wandb is None else wandb.run


def finish_wandb() -> None:
    """Close the W&B run, so a later run in this process cannot silently reuse it."""
    run = active_wandb_run()
    if run is not None:
        run.finish()
