"""One registry of papers, read by the CLI, the tests and ``scripts/cite.py``.

A paper is a package ``papers/<name>/`` whose ``paper.py`` defines ``PAPER``, a :class:`Paper`.
Adding a folder is enough for it to be found everywhere: nothing lists the papers by hand.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import papers


@dataclass(frozen=True)
class Reported:
    """A number the paper reports, with where it reports it and what it measures."""

    metric: str  # key of our own metric it compares with, e.g. "test/top1_error"
    value: float
    source: str  # "Table 2", "Section 3.3", "Figure 1"
    definition: str  # what the number is, in words: data split, protocol, units
    setting: str = ""  # what the paper ran to get it (data set, model, scale)
    # Another method's result the paper compares with (its name, e.g. "DBN"); empty for the
    # paper's own method. A run's summary never sets a baseline's number beside ours as "paper".
    baseline: str = ""


@dataclass(frozen=True)
class Paper:
    """Metadata of one paper: who, where, how to cite it, and what it reports."""

    name: str  # the folder name and the value of ``paper=<name>``
    title: str
    authors: tuple[str, ...]
    year: int
    venue: str
    citation_key: str
    bibtex: str
    url: str = ""
    doi: str = ""
    arxiv: str = ""
    reported: tuple[Reported, ...] = ()
    # Overrides that make a smoke run on tiny data that needs no download (used by the tests).
    smoke_overrides: tuple[str, ...] = field(default_factory=tuple)
    # Which reported numbers a run's summary sets beside ours, given its config (e.g. only the
    # experiment it ran); None: every number whose metric the run logged.
    select_reported: Callable[[Any], Sequence[Reported]] | None = None

    def reported_for(self, cfg: Any) -> Sequence[Reported]:
        return self.select_reported(cfg) if self.select_reported else self.reported

    def of_preset(self, preset: str) -> list[Reported]:
        """The entries whose ``setting`` starts with ``preset=<preset>;`` (papers that tag each
        number with the preset it belongs to)."""
        return [r for r in self.reported if r.setting.startswith(f"preset={preset};")]

    def one(self, metric: str, preset: str, baseline: str = "", setting: str = "") -> Reported:
        """The one entry of ``metric`` for ``preset`` and ``baseline`` (another method's row)
        whose setting contains ``setting``."""
        found = [
            r
            for r in self.of_preset(preset)
            if r.metric == metric and r.baseline == baseline and setting in r.setting
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} entries of {metric} for preset={preset} {setting!r}")
        return found[0]


class UnknownPaperError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0])


def available() -> list[str]:
    """Names of every paper package that defines ``paper.py``, sorted."""
    names = []
    for info in pkgutil.iter_modules(papers.__path__):
        if info.ispkg and importlib.util.find_spec(f"papers.{info.name}.paper") is not None:
            names.append(info.name)
    return sorted(names)


def get(name: str) -> Paper:
    """The :class:`Paper` called ``name``; an unknown name lists the available ones."""
    if name not in available():
        raise UnknownPaperError(
            f"unknown paper {name!r}; available papers: {', '.join(available())}"
        )
    paper = importlib.import_module(f"papers.{name}.paper").PAPER
    if paper.name != name:
        raise ValueError(f"papers/{name}/paper.py declares name {paper.name!r}")
    return paper


def claims(name: str) -> list:
    """The claims a paper declares in ``papers/<name>/claims.py`` (``CLAIMS``), if any."""
    get(name)
    if importlib.util.find_spec(f"papers.{name}.claims") is None:
        return []
    return list(importlib.import_module(f"papers.{name}.claims").CLAIMS)


def all_papers() -> list[Paper]:
    return [get(name) for name in available()]
