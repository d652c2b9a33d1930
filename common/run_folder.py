"""One run folder: where every file of a run lives, and who may write into it.

Every module asks a :class:`RunFolder` for its paths, so the layout is written once::

    .hydra/config.yaml, overrides.yaml   the composed config and the command-line overrides
    .hydra/resume_<stamp>/               the same, for each resume
    run.json                             code, packages, command, host; one entry per resume
    checkpoints/best.ckpt, last.ckpt
    csv/metrics.csv                      csv/resume-<k>/metrics.csv after the k-th resume
    wandb/offline-run-*                  one W&B run directory per start or resume
    summary.json                         final metrics beside the paper's
    .lock                                held (flock) by the process that writes the run

A folder belongs to one run. Its writer holds an exclusive ``flock`` on ``.lock`` for as long as
it runs, so a second process (a concurrent job pinned to the same ``hydra.run.dir``, a resume of
a run still going) is refused before it writes anything; the lock dies with its process, so a
run killed with SIGKILL can be resumed at once.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from common.errors import RunFolderError

# Set by the launchers in every process they start; all of them zero in the process that owns the
# run (Lightning's DDP children get LOCAL_RANK, torchrun RANK, srun SLURM_PROCID).
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


def is_owner_process() -> bool:
    """Whether this process is global rank zero, the one that owns and writes the run folder."""
    return all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES)


def run_token() -> str:
    """The last part of a run folder's name, unique to one launch (resolver
    ``landmarks_run_token``): two runs started in the same second never share a folder.

    The processes of one multi-process launch (srun, torchrun) share the launch's id, so they
    name one folder; anything else gets 6 random hex digits."""
    if os.environ.get("SLURM_JOB_ID"):
        step = os.environ.get("SLURM_STEP_ID")
        return f"j{os.environ['SLURM_JOB_ID']}" + (f".{step}" if step else "")
    elastic = os.environ.get("TORCHELASTIC_RUN_ID")
    if elastic and elastic != "none":
        return elastic
    return secrets.token_hex(3)


def _lock(handle: IO[str]) -> str | None:
    """Take the exclusive lock on the open lock file; if another process holds it, who that is
    (what it wrote in the file) instead."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        return handle.read().strip() or "another process"
    return None


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def of(cls, ckpt_path: str | Path) -> RunFolder | None:
        """The run folder a checkpoint (or a run folder) belongs to, if it is one of ours."""
        path = Path(ckpt_path)
        folder = cls(path if path.is_dir() else path.parent.parent)
        return folder if folder.overrides.exists() else None

    # -- paths -----------------------------------------------------------------------------------
    @property
    def hydra(self) -> Path:
        return self.path / ".hydra"

    @property
    def overrides(self) -> Path:
        return self.hydra / "overrides.yaml"

    @property
    def config(self) -> Path:
        return self.hydra / "config.yaml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.ckpt"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def owns(self, ckpt_path: str | Path) -> bool:
        """Whether ``ckpt_path`` is one of this folder's checkpoints (a resume of its run)."""
        return Path(ckpt_path).resolve().parent == self.checkpoints.resolve()

    def csv_version(self, resume_index: int) -> str:
        """The CSV logger's version folder under ``csv/``: none for the first start."""
        return f"resume-{resume_index}" if resume_index else ""

    def wandb_runs(self) -> list[Path]:
        """Every W&B run directory of this run, oldest first (one per start and resume)."""
        return sorted((self.path / "wandb").glob("*run-*"))

    def entries(self) -> set[Path]:
        """What the run has written: its top-level files and folders, and the entries of the
        folders that gain one per start or resume (``.hydra``, ``csv``, ``wandb``)."""
        if not self.path.is_dir():
            return set()
        found = set(self.path.iterdir())
        for name in (".hydra", "csv", "wandb"):
            if (self.path / name).is_dir():
                found |= set((self.path / name).iterdir())
        return found

    def remove_if_only_ours(self) -> None:
        """Remove a run folder that holds nothing but what a run writes (and leave any other)."""
        ours = {".hydra", ".lock", "run.json", "checkpoints", "csv", "wandb", "summary.json"}
        if self.path.is_dir() and all(
            p.name in ours or p.suffix == ".log" for p in self.path.iterdir()
        ):
            shutil.rmtree(self.path, ignore_errors=True)

    # -- state -----------------------------------------------------------------------------------
    def holds_run(self) -> bool:
        """Whether a run has started in this folder (it wrote ``run.json``)."""
        return self.run_json.exists()

    def read_summary(self) -> dict | None:
        return json.loads(self.summary.read_text()) if self.summary.exists() else None

    # -- ownership -------------------------------------------------------------------------------
    def holder(self) -> str | None:
        """Who holds the folder's lock now ("pid 123 on host"), or None if nobody does."""
        if not self.lock_file.exists():
            return None
        with open(self.lock_file, "a+") as probe:
            holder = _lock(probe)
            if holder is None:
                fcntl.flock(probe, fcntl.LOCK_UN)
            return holder

    def acquire(self) -> IO[str]:
        """Take the folder for this process; the returned file holds the lock until closed."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_file, "a+")  # noqa: SIM115 (held open for the whole run)
        holder = _lock(handle)
        if holder is not None:
            handle.close()
            raise self._busy(holder)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        return handle

    def check_free(self, resuming: bool) -> None:
        """Refuse, before anything is written, a folder that another run owns: one whose run is
        still going, or (unless this is its resume) one that already holds a run."""
        holder = self.holder()
        if holder:
            raise self._busy(holder)
        if not resuming and self.holds_run():
            raise RunFolderError(
                f"{self.path} already holds a run; resume it with ckpt_path={self.path}, "
                "or give this run another hydra.run.dir"
            )

    def _busy(self, holder: str) -> RunFolderError:
        return RunFolderError(
            f"{self.path} is in use by a run that is still going ({holder}); "
            "wait for it to end, or give this run another hydra.run.dir"
        )


def read_curve(csv_log: Path, metric: str) -> list[float]:
    """The logged values of ``metric`` from a run's CSV log, in order (one per evaluation)."""
    with open(csv_log, newline="") as file:
        return [float(row[metric]) for row in csv.DictReader(file) if row.get(metric)]
