"""Train one paper: ``python scripts/train.py paper=<name> [preset=quick|paper] [overrides]``.

Resume a run exactly with ``ckpt_path=<its run folder>`` (or one of its checkpoint files)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from common.config import CONFIG_DIR, resume_argv  # noqa: E402
from common.errors import LandmarksError  # noqa: E402


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from common.train import train

    try:
        train(cfg)
    except LandmarksError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    sys.argv[1:] = resume_argv(sys.argv[1:])
    main()
