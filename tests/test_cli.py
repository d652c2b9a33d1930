"""One command-line dialect: every script takes ``paper=<name>``, and its ``--help`` gives the
usage and names every paper of the registry."""

import subprocess
import sys

import pytest

from common import registry
from common.config import ROOT

SCRIPTS = ("train.py", "reproduce.py", "cite.py", "experiments.py", "bench.py")


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "scripts" / script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_gives_the_usage_and_names_every_paper(script):
    result = run(script, "--help")
    assert result.returncode == 0, result.stderr
    assert f"{script}" in result.stdout and "paper=" in result.stdout
    for paper in registry.available():
        assert paper in result.stdout, (script, paper)


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_paper_is_one_clear_error(script):
    result = run(script, "paper=nope")
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr
