"""``train(cfg)``: the one training pipeline every paper runs through.

It seeds, builds the paper's DataModule and LightningModule from the config, sets up loggers,
checkpoints and metadata in one run folder, trains (or resumes exactly), tests the best
checkpoint, and prints a summary that puts our numbers beside the paper's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig

from common import registry
from common.callbacks import default_callbacks
from common.config import build, to_container
from common.distributed import precision_for, world_size
from common.errors import CheckpointError
from common.loggers import build_loggers, finish_wandb, new_wandb_id
from common.reproducibility import seed_everything
from common.runinfo import read_metadata, run_metadata, write_metadata


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train, test and summarise one run; returns the summary (also written to summary.json)."""
    paper = registry.get(cfg.paper.name)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)

    ckpt_path = resolve_checkpoint(cfg.ckpt_path)
    # Resuming continues this folder's run (same W&B run); a checkpoint from elsewhere starts anew.
    resuming = (
        ckpt_path is not None and Path(ckpt_path).resolve().parents[1] == output_dir.resolve()
    )
    previous = read_metadata(output_dir) if resuming else {}
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

    precision = cfg.trainer.precision
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        precision=precision_for(cfg.trainer.accelerator) if precision == "auto" else precision,
        callbacks=default_callbacks(cfg, output_dir),
        logger=build_loggers(cfg, output_dir, wandb_id, config, resume_index) or False,
        default_root_dir=str(output_dir),
    )
    if trainer.is_global_zero:
        write_metadata(output_dir, {**info, "world_size": trainer.world_size})
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        if cfg.test:
            best = trainer.checkpoint_callback.best_model_path or None
            for result in trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False):
                metrics.update({k: float(v) for k, v in result.items()})
        summary = summarise(cfg, paper, trainer, metrics, output_dir)
    finally:
        finish_wandb()
    if trainer.is_global_zero:
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(format_summary(summary))
    return summary


def resolve_checkpoint(ckpt_path: str | None) -> str | None:
    """A run folder stands for its last checkpoint."""
    if not ckpt_path:
        return None
    path = Path(ckpt_path)
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
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


def summarise(cfg, paper, trainer, metrics: dict[str, float], output_dir: Path) -> dict[str, Any]:
    wandb_dirs = sorted((output_dir / "wandb").glob("*run-*")) if cfg.logger.wandb else []
    comparisons = [
        {
            "metric": r.metric,
            "paper": r.value,
            "ours": metrics.get(r.metric),
            "source": r.source,
            "definition": r.definition,
            "setting": r.setting,
        }
        for r in paper.reported_for(cfg)
        if r.metric in metrics
    ]
    checkpoint = trainer.checkpoint_callback
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
        "paper_vs_ours": comparisons,
        "output_dir": str(output_dir),
        "best_checkpoint": checkpoint.best_model_path or None,
        "last_checkpoint": str(Path(checkpoint.dirpath) / "last.ckpt"),
        "csv_log": next(
            (
                str(Path(lg.log_dir) / "metrics.csv")
                for lg in trainer.loggers
                if isinstance(lg, CSVLogger)
            ),
            None,
        ),
        "wandb_run": str(wandb_dirs[-1]) if wandb_dirs else None,
        "wandb_mode": cfg.logger.wandb.mode if cfg.logger.wandb else None,
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = [
        "",
        f"== {s['paper']}",
        f"preset: {s['preset']} ({s['preset_description']})",
        f"variant: {s['variant']}  seed: {s['seed']}  epochs: {s['epochs']}  steps: {s['steps']}",
        "metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(s["metrics"].items())),
    ]
    for c in s["paper_vs_ours"]:
        lines.append(
            f"paper vs ours: {c['metric']} paper {c['paper']:g} ({c['source']}: {c['setting']}) "
            f"| ours {c['ours']:.4f} ({s['preset']} preset)"
        )
    if s["preset"] != "paper" and s["paper_vs_ours"]:
        lines.append("note: the paper's number is at paper scale; this preset is reduced scale.")
    lines += [
        f"run folder: {s['output_dir']}",
        f"checkpoints: best {s['best_checkpoint']}, last {s['last_checkpoint']}",
        f"CSV log: {s['csv_log']}",
    ]
    if s["wandb_run"]:
        upload = f" (upload: wandb sync {s['wandb_run']})" if s["wandb_mode"] == "offline" else ""
        lines.append(f"W&B run ({s['wandb_mode']}): {s['wandb_run']}{upload}")
    return "\n".join(lines)
