"""What a run records about itself: metadata at the start, a summary at the end."""

from __future__ import annotations

import datetime
import json
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from common.config import ROOT

# what decides a run's numbers: the framework, and the tokeniser and BLEU the Transformer reports
PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "wandb",
    "numpy",
    "tokenizers",
    "sacrebleu",
    "sacremoses",
    "num2words",
    "datasets",
)


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return {
        "commit": commit or None,
        "dirty": bool(git("status", "--porcelain")) if commit else None,
    }


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_metadata(cfg, world_size: int, wandb_id: str | None) -> dict[str, Any]:
    return {
        "paper": cfg.paper.name,
        "preset": cfg.preset.name,
        "variant": cfg.variant,
        "seed": cfg.seed,
        "command": [Path(sys.executable).name, *sys.argv],
        "git": git_state(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "world_size": world_size,
        # floating-point sums are split across threads: their count changes the last digits, and
        # over a long run the numbers (the GAN's Parzen estimate: -72.0 at 2 threads, -68.7 at 1)
        "threads": torch.get_num_threads(),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "wandb_id": wandb_id,
    }


def write_metadata(output_dir: Path, info: dict[str, Any]) -> None:
    """``run.json``: the first start, plus one entry per resume under ``resumes``."""
    path = output_dir / "run.json"
    if path.exists():
        first = json.loads(path.read_text())
        first.setdefault("resumes", []).append(info)
        info = first
    path.write_text(json.dumps(info, indent=2) + "\n")


def read_metadata(output_dir: Path) -> dict[str, Any]:
    path = output_dir / "run.json"
    return json.loads(path.read_text()) if path.exists() else {}
