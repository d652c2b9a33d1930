"""The experiments: one file per set-up, ``configs/experiment/<paper>/<name>.yaml``.

An experiment picks the paper, its data, model and recipe (or one of the two presets), and says
what it is, which section of the paper it stands for and how many minutes it takes here
(``preset.description``, ``preset.section``, ``preset.minutes``). ``python scripts/train.py
experiment=<paper>/<name>`` runs it; ``paper=<name>`` alone runs that paper's quick experiment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.config import CONFIG_DIR, compose

EXPERIMENT_DIR = CONFIG_DIR / "experiment"


@dataclass(frozen=True)
class Experiment:
    name: str  # "<paper>/<name>", the value of ``experiment=``
    paper: str
    description: str
    section: str
    minutes: float | None  # on 2 CPU cores; None where not measured (paper scale: GPUs)


def names(paper: str | None = None) -> list[str]:
    """Every experiment's ``<paper>/<name>``, of one paper or of all, sorted."""
    root = EXPERIMENT_DIR / paper if paper else EXPERIMENT_DIR
    return sorted(str(p.relative_to(EXPERIMENT_DIR).with_suffix("")) for p in root.rglob("*.yaml"))


def describe(name: str) -> Experiment:
    """The experiment ``name`` as its composed config states it."""
    cfg = compose([f"experiment={name}"], Path("unused"))
    return Experiment(
        name=name,
        paper=cfg.paper.name,
        description=" ".join(str(cfg.preset.description).split()),
        section=cfg.preset.section or "",
        minutes=cfg.preset.minutes,
    )


def listing(paper: str | None = None) -> str:
    """One line per experiment: its name, the paper's section, minutes here, what it is."""
    lines = []
    for experiment in map(describe, names(paper)):
        minutes = "not timed" if experiment.minutes is None else f"~{experiment.minutes:g} min"
        lines.append(
            f"{experiment.name:28s} {experiment.section:38s} {minutes:10s} {experiment.description}"
        )
    return "\n".join(lines)
