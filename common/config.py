"""Hydra configuration: the ``landmarks_root`` resolver, resuming a run from its folder, and
building objects from config nodes."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from hydra.utils import get_class, get_method
from omegaconf import DictConfig, OmegaConf, open_dict

from common.errors import RunFolderError
from common.run_folder import RunFolder, is_owner_process, run_token

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"

if not OmegaConf.has_resolver("landmarks_root"):
    OmegaConf.register_new_resolver("landmarks_root", lambda: str(ROOT))


def call(target: str, *args: Any) -> Any:
    """``target(*args)`` for a function of a paper's package (resolver ``landmarks_call``), e.g.
    ``${landmarks_call:papers.lstm.tasks.table_10,${task},${task_options}}``: a value the code
    computes, shown in the config (``--cfg job --resolve``) and recorded with the run."""
    if not target.startswith("papers."):
        raise ValueError(f"landmarks_call: {target!r} is not a function of a paper's package")
    plain = [OmegaConf.to_container(a) if OmegaConf.is_config(a) else a for a in args]
    value = get_method(target)(*plain)
    return OmegaConf.create(value) if isinstance(value, dict | list) else value


if not OmegaConf.has_resolver("landmarks_call"):
    OmegaConf.register_new_resolver("landmarks_call", call)
if not OmegaConf.has_resolver("landmarks_run_token"):
    OmegaConf.register_new_resolver("landmarks_run_token", run_token, use_cache=True)


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


def resume_argv(argv: list[str]) -> list[str]:
    """Command-line overrides that resume a run in its own folder.

    ``ckpt_path=<run folder>`` (or a checkpoint inside it) re-applies the run's original
    overrides, points ``ckpt_path`` at its ``last.ckpt`` (or the file given), and keeps writing
    into the same folder (checkpoints, CSV log, W&B run); overrides given now come last and win,
    e.g. ``trainer.max_epochs=90`` to extend a run. A run that has finished (its
    ``summary.json`` is written) is resumed only to train further: a raised
    ``trainer.max_epochs`` or ``trainer.max_steps``."""
    given = [a for a in argv if a.startswith("ckpt_path=")]
    if not given:
        return argv
    ckpt = given[-1].split("=", 1)[1]
    folder = RunFolder.of(ckpt)
    if folder is None:
        return argv
    if Path(ckpt).is_dir():
        ckpt = str(folder.last_checkpoint)
    now = [a for a in argv if not a.startswith("ckpt_path=")]
    check_unfinished(folder, now)
    original = OmegaConf.load(folder.overrides)
    keep = [o for o in original if not o.startswith(("ckpt_path=", "hydra."))]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return [
        *keep,
        *now,
        f"ckpt_path={ckpt}",
        f"hydra.run.dir={folder.path}",
        f"hydra.output_subdir=.hydra/resume_{stamp}",
    ]


def check_unfinished(folder: RunFolder, overrides: list[str]) -> None:
    """Refuse to resume a finished run with the limits it finished at: that would only test it
    again and overwrite its summary."""
    summary = folder.read_summary()
    if summary is None or not folder.config.exists():
        return
    trainer = OmegaConf.load(folder.config).get("trainer", {})
    for key in ("max_epochs", "max_steps"):
        given = [o.split("=", 1)[1] for o in overrides if o.startswith(f"trainer.{key}=")]
        old = trainer.get(key)
        if given and isinstance(old, int) and given[-1].lstrip("-").isdigit():
            new = int(given[-1])
            if new == -1 or (old != -1 and new > old):
                return
    raise RunFolderError(
        f"{folder.path} has finished ({summary.get('epochs')} epochs, {summary.get('steps')} "
        f"steps; its summary is {folder.summary}). To train it further, resume with a larger "
        f"trainer.max_epochs (it ran with {trainer.get('max_epochs')}) or trainer.max_steps "
        f"({trainer.get('max_steps')})."
    )


def check_run_folder(argv: list[str]) -> None:
    """Before Hydra writes into a pinned ``hydra.run.dir``: refuse a folder another run owns (a
    run still going there, or a finished one this command does not resume)."""
    pinned = [a.split("=", 1)[1] for a in argv if a.startswith("hydra.run.dir=")]
    if not pinned or not is_owner_process():
        return  # an automatic folder name is unique; other ranks write into their owner's folder
    folder = RunFolder(Path(pinned[-1]))
    ckpts = [a.split("=", 1)[1] for a in argv if a.startswith("ckpt_path=")]
    resuming = bool(ckpts) and ckpts[-1] not in ("", "null") and folder.owns(ckpts[-1])
    folder.check_free(resuming)
