"""Run a paper's claims and write its reproduction report.

    python scripts/reproduce.py paper=alexnet                  # every claim
    python scripts/reproduce.py paper=alexnet claim=lrn        # one claim
    python scripts/reproduce.py paper=alexnet --list           # what exists, what each costs
    python scripts/reproduce.py paper=alexnet seeds=0,1 trainer.max_epochs=2   # seeds, overrides

The report goes to ``reports/<paper>/report.md`` with one PNG per claim; each run's folder is
under ``reports/<paper>/runs/<claim>/<arm>-s<seed>`` and its W&B run in the group
``<paper>-claim-<claim>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from omegaconf import open_dict  # noqa: E402

from common import registry  # noqa: E402
from common.claims import NOT_RUN, Claim, mean_and_error  # noqa: E402
from common.config import ROOT, compose  # noqa: E402
from common.errors import LandmarksError, MissingDataError  # noqa: E402


def run_claim(claim: Claim, paper: str, seeds: tuple[int, ...], extra: list[str], folder: Path):
    """Train every arm over the seeds; the rule's verdict on the measurements."""
    result: dict[str, Any] = {"claim": claim, "values": {}, "seeds": seeds}
    if claim.not_run_here:
        return {**result, "verdict": NOT_RUN, "why": claim.not_run_here, "minutes": None}
    from common.train import train

    start, runs = time.perf_counter(), 0
    for arm in claim.arms:
        for seed in seeds:
            overrides = [
                f"paper={paper}",
                *claim.overrides,
                *arm.overrides,
                *extra,
                f"seed={seed}",
                f"variant={claim.id}-{arm.name}",
            ]
            cfg = compose(overrides, folder / "runs" / claim.id / f"{arm.name}-s{seed}")
            if cfg.logger.wandb is not None:
                with open_dict(cfg):
                    cfg.logger.wandb.group = f"{paper}-claim-{claim.id}"
            try:
                summary = train(cfg)
            except MissingDataError as error:
                return {
                    **result,
                    "verdict": NOT_RUN,
                    "why": f"data missing: {error}",
                    "minutes": None,
                }
            result["values"].setdefault(arm.name, []).append(summary["metrics"][claim.measure])
            runs += 1
    verdict, why = claim.rule.judge(result["values"])
    minutes = (time.perf_counter() - start) / 60 / runs
    return {**result, "verdict": verdict, "why": why, "minutes": minutes}


def plot(result: dict[str, Any], path: Path) -> None:
    """Bars of each arm's mean with its standard error, one dot per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    claim, values = result["claim"], result["values"]
    figure, axes = plt.subplots(figsize=(1.6 + 1.2 * len(values), 3))
    for x, measured in enumerate(values.values()):
        mean, error = mean_and_error(measured)
        axes.bar(x, mean, yerr=error, capsize=4, color="#8aa8c8")
        axes.scatter([x] * len(measured), measured, color="black", s=10, zorder=3)
    axes.set_xticks(range(len(values)), list(values))
    axes.set_ylabel(claim.measure)
    axes.set_title(f"{claim.id}: {result['verdict']}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(paper: str, results: list[dict[str, Any]], folder: Path) -> Path:
    header = (
        "| claim | where | paper | ours (mean ± s.e. over seeds) | verdict | min/run | command |"
    )
    rows = [header, "|---|---|---|---|---|---|---|"]
    for result in results:
        claim = result["claim"]
        ours = (
            "; ".join(
                f"{arm} {mean:.4g} ± {error:.2g} (n={len(v)})"
                for arm, v in result["values"].items()
                for mean, error in [mean_and_error(v)]
            )
            or "—"
        )
        minutes = f"{result['minutes']:.1f}" if result["minutes"] is not None else "—"
        command = f"`python scripts/reproduce.py paper={paper} claim={claim.id}`"
        rows.append(
            f"| {claim.id}: {claim.statement} | {claim.source} | {claim.paper} | {ours} "
            f"| **{result['verdict']}**: {result['why']} | {minutes} | {command} |"
        )
        if result["values"]:
            plot(result, folder / f"{claim.id}.png")
            rows.append(f"| ![{claim.id}]({claim.id}.png) | | | | | | |")
    path = folder / "report.md"
    path.write_text(f"# Reproduction report: {paper}\n\n" + "\n".join(rows) + "\n")
    return path


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv if a.startswith(("paper=", "claim=", "seeds=")))
    extra = [a for a in argv if not a.startswith(("paper=", "claim=", "seeds=", "--"))]
    try:
        paper = registry.get(options.get("paper", "alexnet"))
        claims = registry.claims(paper.name)
        if "claim" in options:
            claims = [c for c in claims if c.id == options["claim"]]
            if not claims:
                known = ", ".join(c.id for c in registry.claims(paper.name))
                raise LandmarksError(f"no claim {options['claim']!r}; {paper.name} has: {known}")
    except (LandmarksError, registry.UnknownPaperError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if "--list" in argv:
        for c in claims:
            cost = (
                c.not_run_here or f"{len(c.arms)} arms x {len(c.seeds)} seeds x ~{c.minutes:g} min"
            )
            print(f"{c.id:16s} {c.source:14s} {cost}\n{'':16s} {c.statement}")
        return 0
    folder = ROOT / "reports" / paper.name
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for claim in claims:
        seeds = (
            tuple(int(s) for s in options["seeds"].split(","))
            if "seeds" in options
            else claim.seeds
        )
        results.append(run_claim(claim, paper.name, seeds, extra, folder))
        print(f"{claim.id}: {results[-1]['verdict']} ({results[-1]['why']})")
    print(f"report: {write_report(paper.name, results, folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
