"""Train one paper: ``python scripts/train.py paper=<name> [preset=quick|paper] [overrides]``, or
one of its experiments: ``python scripts/train.py experiment=<paper>/<name> [overrides]``
(``scripts/experiments.py`` lists them).

Resume a run exactly with ``ckpt_path=<its run folder>`` (or one of its checkpoint files).

Exit status: 0 done; 2 a user error (bad value, missing or damaged data, wrong checkpoint, a
run folder another run owns), printed as one line with nothing left behind; 130 stopped by
Ctrl-C and 143 by SIGTERM, each with the command that resumes the run."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from common import registry  # noqa: E402
from common.config import CONFIG_DIR, check_run_folder, resume_argv  # noqa: E402
from common.errors import LandmarksError, RunInterrupted  # noqa: E402


def fail(error: Exception) -> None:
    if isinstance(error, RunInterrupted):
        print(f"interrupted: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from common.train import train

    try:
        train(cfg)
    except LandmarksError as error:
        fail(error)


if __name__ == "__main__":
    try:
        for name in [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("paper=")]:
            registry.get(name)  # an unknown paper: one line that lists the papers
        sys.argv[1:] = resume_argv(sys.argv[1:])
        check_run_folder(sys.argv[1:])
        main()
    except (LandmarksError, registry.UnknownPaperError) as error:
        fail(error)
    except KeyboardInterrupt:  # before or after training (Lightning handles it during)
        print("interrupted: stopped by Ctrl-C", file=sys.stderr)
        sys.exit(130)
