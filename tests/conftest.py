"""Shared fixtures: offline settings, composing the real configs into a temporary run folder."""

import os

# Read when these libraries are first imported: set before anything imports them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ["WANDB_ERROR_REPORTING"] = "false"
# Tests never depend on ../shared/data; only the opt-in slow reproductions may read it.
SHARED_DATA_DIR = os.environ.pop("LANDMARKS_DATA_DIR", None)

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

from common.config import compose  # noqa: E402

# Quiet, fast trainer settings for in-process runs.
FAST = [
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.num_sanity_val_steps=0",
    "trainer.log_every_n_steps=1",
]


def compose_config(overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The real configs, composed as ``scripts/train.py`` would, writing into ``output_dir``."""
    cfg = compose(overrides, output_dir)
    with open_dict(cfg):
        cfg.paths.cache_dir = str(cache_dir)
    return cfg


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., DictConfig]:
    cache_dir = tmp_path / "cache"

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_config([*FAST, *overrides], tmp_path / run, cache_dir)

    return make


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """For test files of tiny tensors: extra threads only contend for the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _isolate_global_state() -> Iterator[None]:
    """Undo what a training run leaves behind in the process."""
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)
    from common.loggers import finish_wandb

    finish_wandb()


@pytest.fixture
def shared_data_dir() -> str | None:
    """The data directory LANDMARKS_DATA_DIR named when pytest started (None if it named none)."""
    return SHARED_DATA_DIR
