"""Check a composed config before a run creates anything: one line that names the key and what
it expects, instead of a traceback from deep inside a library.

Every argument of the data and model targets is checked against the type its ``__init__``
declares (``data.batch_size=abc`` against ``batch_size: int``); batch sizes must be positive and,
being global batches, split evenly over the processes the trainer config asks for."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from common.errors import ConfigError

_SIMPLE = (bool, int, float, str)


def validate(cfg: DictConfig) -> None:
    for section in ("data", "model"):
        check_arguments(cfg[section], section)
    check_batch_size(cfg)
    for key in ("max_epochs", "max_steps"):
        value = cfg.trainer.get(key)
        if value is not None and (not _is(value, int) or value < -1):
            raise ConfigError(f"trainer.{key}={value!r}: expected an integer, -1 for no limit")
    if cfg.get("test_checkpoint", "best") not in ("best", "last"):
        raise ConfigError(f"test_checkpoint={cfg.test_checkpoint!r}: expected best or last")


def check_arguments(node: DictConfig, prefix: str) -> None:
    """Each value of ``node`` has the simple type (bool, int, float, str, or None where allowed)
    that ``node._target_``'s ``__init__`` declares for it; other annotations are not checked."""
    target = get_class(node._target_)
    try:
        hints = typing.get_type_hints(target.__init__)
    except Exception:  # an annotation that cannot be evaluated here: nothing to check against
        return
    values = OmegaConf.to_container(node, resolve=True)
    parameters = inspect.signature(target.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for key in node:
        if key == "_target_":
            continue
        if key not in hints:
            if not accepts_any and key not in parameters:
                raise ConfigError(f"{prefix}.{key}: {target.__name__} takes no such argument")
            continue
        allowed = _simple_types(hints[key])
        value = values[key]
        if allowed and not any(_is(value, t) for t in allowed):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise ConfigError(f"{prefix}.{key}={value!r}: expected {names}")


def _simple_types(hint: Any) -> tuple[type, ...]:
    """The simple types a hint allows, or () when it allows anything else too."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    if all(t in _SIMPLE or t is type(None) for t in options):
        return tuple(options)
    return ()


def _is(value: Any, kind: type) -> bool:
    if kind is type(None):
        return value is None
    if kind is float:  # an integer is a fine float; a bool is neither
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_batch_size(cfg: DictConfig) -> None:
    batch = cfg.data.get("batch_size")
    if batch is None:
        return
    if not _is(batch, int) or batch < 1:
        raise ConfigError(f"data.batch_size={batch!r}: expected a positive integer")
    processes = planned_world_size(cfg.trainer)
    if processes and batch % processes:
        raise ConfigError(
            f"data.batch_size={batch} (the global batch) does not split evenly over the "
            f"{processes} processes the trainer asks for; use a multiple of {processes}"
        )


def planned_world_size(trainer: DictConfig) -> int | None:
    """How many processes ``trainer`` will run, where the config says it (None if unknown)."""
    devices = trainer.get("devices", 1)
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    if OmegaConf.is_list(devices):
        count = len(devices)
    elif _is(devices, int) and devices > 0:
        count = devices
    elif devices in ("auto", -1) and trainer.get("accelerator") in ("gpu", "cuda"):
        count = torch.cuda.device_count() or None
    elif devices in ("auto", -1):
        count = 1 if not torch.cuda.is_available() else None
    else:
        return None
    return count * int(trainer.get("num_nodes", 1)) if count else None
