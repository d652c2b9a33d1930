"""scripts/reproduce.py as a script sees it: a claim that could not run is an exit status, not
only a line of output."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ROOT

NOTHING_RAN = 3


def reproduce(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real script in a fresh interpreter, with an empty data directory."""
    env = {
        **os.environ,
        "LANDMARKS_DATA_DIR": str(data_dir),
        "LANDMARKS_CACHE_DIR": str(data_dir / "cache"),
        "WANDB_MODE": "offline",
    }
    command = [sys.executable, str(ROOT / "scripts" / "reproduce.py"), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def report_files() -> dict[Path, bytes]:
    folder = ROOT / "reports" / "alexnet"
    files = [*folder.glob("*.md"), *folder.glob("*.png"), ROOT / "papers" / "alexnet" / "README.md"]
    return {path: path.read_bytes() for path in files}


@pytest.fixture
def empty_data_dir(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_a_claim_without_its_data_exits_non_zero_and_says_so(empty_data_dir):
    before = report_files()
    done = reproduce("paper=alexnet", "claim=lrn", data_dir=empty_data_dir)
    assert done.returncode == NOTHING_RAN, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("not run:") and "lrn" in last, done.stderr
    assert "CIFAR-10 not found" in done.stdout  # why, as before
    assert report_files() == before  # nothing ran: the kept report is left as it was

    allowed = reproduce("paper=alexnet", "claim=lrn", "--allow-not-run", data_dir=empty_data_dir)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "not run:" in allowed.stderr


def test_list_and_help_exit_zero_and_help_names_the_exit_codes(empty_data_dir):
    listed = reproduce("paper=alexnet", "--list", data_dir=empty_data_dir)
    assert listed.returncode == 0 and "lrn" in listed.stdout
    helped = reproduce("--help", data_dir=empty_data_dir)
    assert helped.returncode == 0
    assert "exit status" in helped.stdout and "--allow-not-run" in helped.stdout
    wrong = reproduce("paper=alexnet", "--no-such-flag", data_dir=empty_data_dir)
    assert wrong.returncode == 2 and "--no-such-flag" in wrong.stderr
