"""scripts/cite.py prints the registry's BibTeX."""

import subprocess
import sys

from common import registry
from common.config import ROOT


def cite(*args: str) -> subprocess.CompletedProcess:
    script = str(ROOT / "scripts" / "cite.py")
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True)


def test_cite_one_all_and_unknown():
    one = cite("alexnet")
    assert one.returncode == 0
    assert one.stdout.strip() == registry.get("alexnet").bibtex.strip()
    every = cite()
    assert every.stdout.count("@") == len(registry.available())
    listing = cite("--list")
    assert "krizhevsky2012imagenet" in listing.stdout
    unknown = cite("nope")
    assert unknown.returncode == 2
    assert "unknown paper 'nope'; available papers: " in unknown.stderr
    assert "Traceback" not in unknown.stderr
