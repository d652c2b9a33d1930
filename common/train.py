"""``train(cfg)``: the one training pipeline every paper runs through.

It seeds, builds the paper's DataModule and LightningModule from the config, sets up loggers,
checkpoints and metadata in one run folder, trains (or resumes exactly), tests the best
checkpoint, and prints a summary that puts our numbers beside the paper's."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig

from common import registry
from common.callbacks import default_callbacks
from common.config import build, to_container
from common.data import SOURCES
from common.distributed import precision_for, world_size
from common.errors import (
    CheckpointError,
    ConfigError,
    DataIntegrityError,
    MissingDataError,
    RunInterrupted,
)
from common.loggers import (
    active_wandb_run,
    build_loggers,
    finish_wandb,
    new_wandb_id,
    tidy_console,
)
from common.reproducibility import seed_everything
from common.run_folder import RunFolder, is_owner_process, read_curve
from common.runinfo import read_metadata, run_metadata, write_metadata
from common.validate import validate


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train, test and summarise one run; returns the summary (also written to summary.json).

    The config is checked before anything is written. The process that owns the run holds its
    folder for as long as it runs (another run is refused there), and a run that fails with a
    user error before it trained (a bad value, missing or damaged data, a wrong checkpoint)
    leaves nothing behind: a new folder is removed, a resumed one is as it was."""
    paper = registry.get(cfg.paper.name)
    folder = RunFolder(Path(cfg.paths.output_dir))
    owner = is_owner_process()
    before = Attempt.before(folder)
    lock = None
    try:
        validate(cfg)
        ckpt_path = resolve_checkpoint(cfg.ckpt_path)
        # Resuming continues this folder's run (same W&B run); a checkpoint from elsewhere
        # starts anew.
        resuming = ckpt_path is not None and folder.owns(ckpt_path)
        if owner:
            folder.check_free(resuming)
            lock = folder.acquire()
        return _train(cfg, paper, folder, ckpt_path, resuming)
    except USER_ERRORS:
        if owner:
            before.undo()
        raise
    finally:
        if lock is not None:
            lock.close()


# Errors a user fixes by changing the command or the data: the attempt is undone.
USER_ERRORS = (ConfigError, MissingDataError, DataIntegrityError, CheckpointError)


def _train(cfg, paper, folder: RunFolder, ckpt_path: str | None, resuming: bool) -> dict:
    seed_everything(cfg.seed)
    SOURCES.clear()  # what this run reads, recorded as it ends
    previous = read_metadata(folder.path) if resuming else {}
    wandb_id = previous.get("wandb_id") or (new_wandb_id() if cfg.logger.wandb else None)
    resume_index = len(previous.get("resumes", [])) + 1 if resuming else 0
    info = run_metadata(cfg, world_size(), wandb_id)
    config = {**to_container(cfg), "citation_key": paper.citation_key, "run": info}

    datamodule = build(cfg.data)
    model = build(cfg.model)
    if cfg.compile:  # each network in place: state-dict keys, and so checkpoints, stay the same
        for network in model.children():
            network.compile()
    if ckpt_path:
        check_checkpoint(ckpt_path, cfg, model)

    tidy_console()
    interruption = Interruption()
    precision = cfg.trainer.precision
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        precision=precision_for(cfg.trainer.accelerator) if precision == "auto" else precision,
        callbacks=[*default_callbacks(cfg, folder), interruption],
        logger=build_loggers(cfg, folder, wandb_id, config, resume_index) or False,
        default_root_dir=str(folder.path),
    )
    if trainer.is_global_zero:
        write_metadata(folder.path, {**info, "world_size": trainer.world_size})
    try:
        with interruption.as_error(trainer, folder):
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
            if cfg.test:
                saved = trainer.checkpoint_callback
                chosen = saved.last_model_path if cfg.test_checkpoint == "last" else None
                chosen = chosen or saved.best_model_path or None
                for result in trainer.test(
                    model, datamodule=datamodule, ckpt_path=chosen, verbose=False
                ):
                    metrics.update({k: float(v) for k, v in result.items()})
        summary = summarise(cfg, paper, trainer, metrics, folder)
        if trainer.is_global_zero:
            record_data(folder, summary["data"])
    finally:
        finish_wandb()
    if trainer.is_global_zero:
        folder.summary.write_text(json.dumps(summary, indent=2) + "\n")
        print(format_summary(summary))
    return summary


@dataclass
class Attempt:
    """What a run folder held before this attempt, so that a failed start can be undone."""

    folder: RunFolder
    fresh: bool
    run_json: str | None
    entries: set[Path]

    @classmethod
    def before(cls, folder: RunFolder) -> Attempt:
        this_config = hydra_output_subdir(folder)  # Hydra wrote it for this attempt already
        return cls(
            folder=folder,
            fresh=not folder.holds_run() and not folder.checkpoints.exists(),
            run_json=folder.run_json.read_text() if folder.holds_run() else None,
            entries=folder.entries() - {this_config},
        )

    def undo(self) -> None:
        """Remove what this attempt added to the folder (and the folder, if it made it)."""
        if self.run_json is not None:
            self.folder.run_json.write_text(self.run_json)
        for path in self.folder.entries() - self.entries:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if self.fresh:
            self.folder.remove_if_only_ours()


def hydra_output_subdir(folder: RunFolder) -> Path | None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or not HydraConfig.get().output_subdir:
        return None
    return folder.path / HydraConfig.get().output_subdir


class Interruption(L.Callback):
    """Turns a stop by SIGTERM or Ctrl-C into :class:`RunInterrupted`, with the exit status a
    scheduler expects (143, 130) and the command that resumes the run.

    Lightning ends a run on SIGTERM with ``SystemExit`` of status 0 (a scheduler would record
    the job as succeeded) and on Ctrl-C with status 1."""

    def __init__(self) -> None:
        self.exception: BaseException | None = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.exception = exception

    @contextlib.contextmanager
    def as_error(self, trainer: L.Trainer, folder: RunFolder) -> Iterator[None]:
        try:
            yield
        except SystemExit as stop:
            if isinstance(stop, SIGTERMException):
                name, code = "SIGTERM", 143
            elif isinstance(self.exception, KeyboardInterrupt):
                name, code = "Ctrl-C", 130
            else:
                raise
            last = folder.last_checkpoint
            kept = f"last checkpoint {last}" if last.exists() else "no checkpoint yet"
            raise RunInterrupted(
                f"stopped by {name} at epoch {trainer.current_epoch}, step {trainer.global_step} "
                f"({kept}); resume with: python scripts/train.py ckpt_path={folder.path}",
                code,
            ) from None


def resolve_checkpoint(ckpt_path: str | None) -> str | None:
    """A run folder stands for its last checkpoint."""
    if not ckpt_path:
        return None
    path = Path(ckpt_path)
    if path.is_dir():
        path = RunFolder(path).last_checkpoint
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return str(path)


def check_checkpoint(path: str, cfg: DictConfig, model: L.LightningModule) -> None:
    """Refuse a checkpoint that is unreadable or made by another paper, preset or network."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = checkpoint["state_dict"]
    except Exception as error:  # torch raises several types for damaged files
        raise CheckpointError(f"{path} is not a readable checkpoint ({error})") from None
    stamp = checkpoint.get("landmarks", {})
    expected = {"paper": cfg.paper.name, "preset": cfg.preset.name}
    if stamp and stamp != expected:
        raise CheckpointError(f"{path} was written by {stamp}, this run is {expected}")
    ours = model.state_dict()
    wrong = sorted(
        k
        for k in ours.keys() | state.keys()
        if k not in state or k not in ours or state[k].shape != ours[k].shape
    )
    if wrong:
        raise CheckpointError(
            f"{path} does not match this network: {len(wrong)} parameters differ in name or "
            f"shape (first: {', '.join(wrong[:3])}); was it made with other model settings?"
        )


def summarise(cfg, paper, trainer, metrics: dict[str, float], folder: RunFolder) -> dict[str, Any]:
    # every start and resume of the run made one W&B directory: all of them upload together
    wandb_dirs = folder.wandb_runs() if cfg.logger.wandb else []
    data = data_identity(cfg)
    # the paper's numbers sit beside ours only on the paper's data set
    reported = [r for r in paper.reported_for(cfg) if r.metric in metrics and data["paper_data"]]
    comparisons = [
        {
            "metric": r.metric,
            "paper": r.value,
            "ours": metrics.get(r.metric),
            "source": r.source,
            "definition": r.definition,
            "setting": r.setting,
        }
        for r in reported
        if not r.baseline
    ]
    # other methods' numbers in the same table: context, not the paper's result
    baselines = [
        {"metric": r.metric, "method": r.baseline, "value": r.value, "source": r.source}
        for r in reported
        if r.baseline
    ]
    checkpoint = trainer.checkpoint_callback
    csv_log = next(
        (str(Path(g.log_dir) / "metrics.csv") for g in trainer.loggers if isinstance(g, CSVLogger)),
        None,
    )
    return {
        "paper": f"{paper.title} ({', '.join(a.split()[-1] for a in paper.authors)}, {paper.year})",
        "citation_key": paper.citation_key,
        "preset": cfg.preset.name,
        "preset_description": cfg.preset.description,
        "variant": cfg.variant,
        "seed": cfg.seed,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
        "metrics": metrics,
        "threads": torch.get_num_threads(),
        "paper_vs_ours": comparisons,
        "baselines_in_paper": baselines,
        "output_dir": str(folder.path),
        "best_checkpoint": checkpoint.best_model_path or None,
        "last_checkpoint": str(folder.last_checkpoint),
        "csv_log": csv_log,
        "budget": budget(cfg, trainer, csv_log),
        "parameters": {
            "total": sum(p.numel() for p in trainer.lightning_module.parameters()),
            "trained": sum(
                p.numel() for p in trainer.lightning_module.parameters() if p.requires_grad
            ),
        },
        "data": data,
        "wandb_runs": [str(d) for d in wandb_dirs],
        "wandb_mode": cfg.logger.wandb.mode if cfg.logger.wandb else None,
    }


def data_identity(cfg: DictConfig) -> dict[str, Any]:
    """Which data the run read: the resolved data directory, each file it hashed with its SHA-256
    (and packaged data sets by version), and whether it is the paper's data set: not when
    ``data.verify_checksums=false`` let files that differ from the official release in (another
    data set in MNIST's IDX format, say)."""
    unchecked = cfg.data.get("verify_checksums") is False
    return {
        "data_dir": str(Path(cfg.paths.data_dir).resolve()),
        "files": dict(sorted(SOURCES.items())),
        "paper_data": not unchecked,
        "note": "data.verify_checksums=false: not known to be the paper's data set, so the "
        "paper's numbers are not set beside these"
        if unchecked
        else "",
    }


def record_data(folder: RunFolder, data: dict[str, Any]) -> None:
    """The data identity in ``run.json`` (for this start: the latest resume's entry, if any)
    and in the W&B run's config."""
    meta = read_metadata(folder.path)
    (meta.get("resumes") or [meta])[-1]["data"] = data
    folder.run_json.write_text(json.dumps(meta, indent=2) + "\n")
    run = active_wandb_run()
    if run is not None:
        run.config.update({"data": data}, allow_val_change=True)


def budget(cfg: DictConfig, trainer: L.Trainer, csv_log: str | None) -> dict[str, Any]:
    """How the run ended, for a verdict to know when a budget decided it: ``stopped_by`` is
    "budget" when it reached ``trainer.max_epochs`` or ``max_steps``, "stopping rule" when
    something stopped it before (early stopping, the paper's own criterion); ``still_improving``
    whether the monitored metric's best came in its last quarter of evaluations (None with
    fewer than two)."""
    epochs, steps = trainer.max_epochs, trainer.max_steps
    reached = (epochs is not None and epochs >= 0 and trainer.current_epoch >= epochs) or (
        steps is not None and steps >= 0 and trainer.global_step >= steps
    )
    monitor = cfg.callbacks.monitor
    curve = read_curve(Path(csv_log), monitor) if csv_log and Path(csv_log).is_file() else []
    return {
        "stopped_by": "budget" if reached else "stopping rule",
        "monitor": monitor,
        "evaluations": len(curve),
        "still_improving": improving(curve, cfg.callbacks.mode),
        "preset": cfg.preset.name,
    }


def improving(curve: list[float], mode: str) -> bool | None:
    """Whether the first best value of ``curve`` (``mode`` "min" or "max") lies in its last
    quarter (the last value, for short curves); None for fewer than two values."""
    if len(curve) < 2:
        return None
    best = min(curve) if mode == "min" else max(curve)
    return curve.index(best) >= len(curve) - max(1, len(curve) // 4)


def metric_lines(metrics: dict[str, float], width: int = 100) -> list[str]:
    """``metrics`` grouped by split (``train: loss=..., error=...``), wrapped at ``width``."""
    groups: dict[str, list[str]] = {}
    for key, value in sorted(metrics.items()):
        if key.endswith(("_epoch", "_step")) and key.rpartition("_")[0] in metrics:
            continue  # Lightning's per-step and per-epoch copies of a logged metric
        split, _, name = key.rpartition("/")
        groups.setdefault(split or "metrics", []).append(f"{name}={value:.4g}")
    return [
        line
        for split, items in groups.items()
        for line in textwrap.wrap(
            ", ".join(items), width, initial_indent=f"{split}: ", subsequent_indent="    "
        )
    ]


def format_summary(s: dict[str, Any]) -> str:
    lines = [
        "",
        f"== {s['paper']}",
        f"preset: {s['preset']} ({s['preset_description']})",
        f"variant: {s['variant']}  seed: {s['seed']}  epochs: {s['epochs']}  steps: {s['steps']}",
        *metric_lines(s["metrics"]),
    ]
    for c in s["paper_vs_ours"]:
        lines.append(
            f"paper vs ours: {c['metric']} paper {c['paper']:g} ({c['source']}: {c['setting']}) "
            f"| ours {c['ours']:.4f} ({s['preset']} preset)"
        )
    by_metric: dict[str, list[dict]] = {}
    for b in s["baselines_in_paper"]:
        by_metric.setdefault(b["metric"], []).append(b)
    for metric, rows in by_metric.items():
        others = ", ".join(f"{b['method']} {b['value']:g}" for b in rows)
        lines.append(f"other methods in the paper ({rows[0]['source']}), {metric}: {others}")
    if s["preset"] != "paper" and s["paper_vs_ours"]:
        lines.append("note: the paper's number is at paper scale; this preset is reduced scale.")
    if s["data"]["note"]:
        lines.append(f"note: {s['data']['note']} (data: {s['data']['data_dir']}).")
    lines += [
        f"run folder: {s['output_dir']}",
        f"checkpoints: best {s['best_checkpoint']}, last {s['last_checkpoint']}",
        f"CSV log: {s['csv_log']}",
    ]
    if s["wandb_runs"]:
        lines.append(f"W&B run ({s['wandb_mode']}): {', '.join(s['wandb_runs'])}")
        if s["wandb_mode"] == "offline":
            lines.append(f"upload: wandb sync {' '.join(s['wandb_runs'])}")
    return "\n".join(lines)
