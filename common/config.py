"""Hydra configuration: the ``landmarks_root`` resolver, resuming a run from its folder, and
building objects from config nodes."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"

if not OmegaConf.has_resolver("landmarks_root"):
    OmegaConf.register_new_resolver("landmarks_root", lambda: str(ROOT))


def variant_choice(variant: Any, default: str, *choices: str) -> str:
    """The top-level ``variant`` if it names one of a paper's variants (``default`` or
    ``choices``), else ``default``: ``variant=forget_gate`` both picks that network and names the
    run, while ``variant=bptt`` only names it (resolver ``landmarks_variant``)."""
    name = str(variant)
    return name if name in (default, *choices) else default


if not OmegaConf.has_resolver("landmarks_variant"):
    OmegaConf.register_new_resolver("landmarks_variant", variant_choice)


def to_container(node: DictConfig) -> dict[str, Any]:
    """A resolved plain ``dict``: what checkpoints (loaded with ``weights_only``) and W&B accept."""
    return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)


def build(node: DictConfig, **kwargs: Any) -> Any:
    """``node._target_(**node, **kwargs)`` with every value a plain python object.

    Nested nodes stay plain dicts (not instantiated): each LightningModule saves them as its
    hyperparameters and builds its parts itself, so a checkpoint is enough to rebuild it."""
    params = to_container(node)
    return get_class(params.pop("_target_"))(**params, **kwargs)


def compose(overrides: list[str], output_dir: Path) -> DictConfig:
    """The config ``scripts/train.py`` would build from ``overrides``, writing into ``output_dir``
    (for runs started from python: tests, ``scripts/reproduce.py``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=list(overrides))
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def run_dir_of(ckpt_path: str) -> Path | None:
    """The run folder a checkpoint (or a run folder) belongs to, if it is one of ours."""
    path = Path(ckpt_path)
    run_dir = path if path.is_dir() else path.parent.parent
    return run_dir if (run_dir / ".hydra" / "overrides.yaml").exists() else None


def resume_argv(argv: list[str]) -> list[str]:
    """Command-line overrides that resume a run in its own folder.

    ``ckpt_path=<run folder>`` (or a checkpoint inside it) re-applies the run's original
    overrides, points ``ckpt_path`` at its ``last.ckpt`` (or the file given), and keeps writing
    into the same folder (checkpoints, CSV log, W&B run); overrides given now come last and win,
    e.g. ``trainer.max_epochs=90`` to extend a run."""
    given = [a for a in argv if a.startswith("ckpt_path=")]
    if not given:
        return argv
    ckpt = given[-1].split("=", 1)[1]
    run_dir = run_dir_of(ckpt)
    if run_dir is None:
        return argv
    if Path(ckpt).is_dir():
        ckpt = str(run_dir / "checkpoints" / "last.ckpt")
    original = OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
    keep = [o for o in original if not o.startswith(("ckpt_path=", "hydra."))]
    now = [a for a in argv if not a.startswith("ckpt_path=")]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return [
        *keep,
        *now,
        f"ckpt_path={ckpt}",
        f"hydra.run.dir={run_dir}",
        f"hydra.output_subdir=.hydra/resume_{stamp}",
    ]
