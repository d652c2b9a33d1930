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


def test_cite_takes_the_paper_key_form_of_the_other_scripts():
    assert cite("paper=alexnet").stdout == cite("alexnet").stdout
    assert cite("paper=gan", "dbn").stdout.count("@") == 2
    usage = cite("--help")
    assert usage.returncode == 0 and "paper=<name> or <name>: alexnet, dbn" in usage.stdout
