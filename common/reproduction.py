"""Claims as a library: run a claim's arms over its seeds, judge them with its rule, keep the
result, and write the report (``reports/<paper>/report.md``, one PNG per claim, and the table in
``papers/<paper>/README.md``). ``scripts/reproduce.py`` is the command line over it.

Each claim's result is kept in ``<folder>/results/<claim>.json`` and the report is rebuilt from
all kept results, so claims can be run one at a time. Each run's folder is
``<folder>/runs/<claim>/<arm>-s<seed>`` and its W&B run sits in the group
``<paper>-claim-<claim>`` with the arm as its job type (and tags ``claim:<id>``, ``arm:<name>``),
so the W&B UI compares the arms of a claim over their seeds. Arms of different claims with the
same overrides and seed are trained once per invocation. A claim's simple baselines are kept in
``<folder>/baselines/<claim>.json``, and ``reports/README.md`` puts every paper's claims on one
page."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
import shutil
import time
from pathlib import Path
from typing import Any

from omegaconf import open_dict

from common.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    Claim,
    Matches,
    judge,
    mean_and_error,
)
from common.config import ROOT, compose
from common.errors import MissingDataError
from common.run_folder import read_curve
from common.runinfo import git_state

MARKERS = ("<!-- claims:start -->", "<!-- claims:end -->")
BASELINES_FILE = "baselines.py"  # common/ and each paper: the simple baselines beside the claims
SHARED_CONFIGS = ("trainer", "callbacks", "logger", "paths", "hydra", "preset", "debug")
FRESHNESS_NOTES = {
    "stale": " (stale: the code it depends on has changed since; rerun it)",
    "unrecorded": " (kept before results recorded their code)",
}


def run_claim(
    claim: Claim,
    paper: str,
    seeds: tuple[int, ...],
    extra: list[str],
    folder: Path,
    trained: dict[tuple, dict] | None = None,
) -> dict[str, Any]:
    """Train every arm over the seeds; the rule's verdict on the measurements.

    ``trained`` maps the overrides of each run already made in this invocation (the seed among
    them) to its summary, so an arm shared by several claims is trained once."""
    result: dict[str, Any] = {
        "id": claim.id,
        "values": {},
        "curves": {},
        "runs": {},
        "seeds": list(seeds),
        # the code as the runs start: an edit while they train does not change what made them
        "git": git_state(),
        "code_digest": code_digest(paper),
    }
    if claim.not_run_here:
        return {**result, "verdict": NOT_RUN, "why": claim.not_run_here, "minutes": None}
    from common.train import train

    trained = {} if trained is None else trained
    start, runs = time.perf_counter(), 0
    for arm in claim.arms:
        for seed in seeds:
            candidates = []  # one run per setting of the arm's grid (one run without a grid)
            for index, setting in enumerate(arm.grid or ((),)):
                overrides = [
                    f"paper={paper}",
                    *claim.overrides,
                    *arm.overrides,
                    *setting,
                    *extra,
                    f"seed={seed}",
                ]
                key = tuple(overrides)
                if key not in trained:
                    name = f"{arm.name}-g{index}-s{seed}" if arm.grid else f"{arm.name}-s{seed}"
                    run_folder = folder / "runs" / claim.id / name
                    # an earlier invocation's run of this arm: its result is kept in results/,
                    # and a run folder holds one run, so the new run starts in a clean one
                    shutil.rmtree(run_folder, ignore_errors=True)
                    cfg = compose([*overrides, f"variant={claim.id}-{arm.name}"], run_folder)
                    if cfg.logger.wandb is not None:  # one group per claim, arms as job types
                        with open_dict(cfg):
                            cfg.logger.wandb.group = f"{paper}-claim-{claim.id}"
                            cfg.logger.wandb.job_type = arm.name
                            tags = [f"claim:{claim.id}", f"arm:{arm.name}"]
                            cfg.logger.wandb.tags.extend(tags)
                    try:
                        trained[key] = train(cfg)
                    except MissingDataError as error:
                        why = f"data missing: {error}"
                        return {**result, "verdict": NOT_RUN, "why": why, "minutes": None}
                    runs += 1
                candidates.append((trained[key], setting, overrides))
            # the setting this seed's run chose on the validation split, as the paper tuned it
            summary, setting, overrides = select(candidates, claim)
            if arm.grid:
                result.setdefault("chosen", {}).setdefault(arm.name, []).append(list(setting))
            measure = arm.measure or claim.measure
            result["values"].setdefault(arm.name, []).append(summary["metrics"][measure])
            run = {**summary["budget"], "scale": scale(summary["preset"], overrides)}
            run["parameters"], run["threads"] = summary["parameters"], summary["threads"]
            result["runs"].setdefault(arm.name, []).append(run)
            if claim.curve:
                curve = read_curve(Path(summary["csv_log"]), claim.curve)
                result["curves"].setdefault(arm.name, []).append(curve)
    verdict, why = judge(claim.rule, result["values"], result["runs"])
    minutes = (time.perf_counter() - start) / 60 / runs if runs else None
    return {**result, "verdict": verdict, "why": why, "minutes": minutes}


def select(candidates: list[tuple[dict, tuple, list[str]]], claim: Claim) -> tuple:
    """The candidate run whose ``claim.select`` metric (a validation measure) is best: lowest,
    or highest with ``claim.select_mode="max"``; the only one when the arm has no grid."""
    if len(candidates) == 1:
        return candidates[0]
    sign = -1 if claim.select_mode == "max" else 1
    return min(candidates, key=lambda c: sign * c[0]["metrics"][claim.select])


def code_files(paper: str, baselines: bool = False) -> list[Path]:
    """What a paper's results depend on: its folder's Python and that of the papers it imports,
    ``common/``, and the configs of the shared groups and of those papers (not the READMEs).
    The simple baselines' code (``baselines.py``) runs beside the claims, never in them: only
    the baselines' own digest (``baselines=True``) covers it."""
    papers, todo = set(), [paper]
    while todo:  # the paper and those it builds on (LoRA imports the Transformer)
        name = todo.pop()
        papers.add(name)
        for source in (ROOT / "papers" / name).glob("*.py"):
            for other in re.findall(r"^from papers\.(\w+)", source.read_text(), re.MULTILINE):
                if other not in papers:
                    todo.append(other)
    files = [f for name in sorted(papers) for f in (ROOT / "papers" / name).glob("*.py")]
    files += (ROOT / "common").glob("*.py")
    if not baselines:
        files = [f for f in files if f.name != BASELINES_FILE]
    for config in (ROOT / "configs").rglob("*.yaml"):  # the shared groups and the papers' own
        group, *rest = config.relative_to(ROOT / "configs").parts
        if not rest or group in SHARED_CONFIGS or any(p.startswith(tuple(papers)) for p in rest):
            files.append(config)
    return sorted(files)


def code_digest(paper: str, baselines: bool = False) -> str:
    """SHA-256 over the relative paths and contents of :func:`code_files`."""
    digest = hashlib.sha256()
    for path in code_files(paper, baselines):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def freshness(kept: dict[str, Any], digest: str) -> str:
    """ "current", "stale" (the code it depends on has changed since) or "unrecorded" (kept
    before results recorded their code)."""
    recorded = kept.get("code_digest")
    if recorded is None:
        return "unrecorded"
    return "current" if recorded == digest else "stale"


def result_path(folder: Path, claim_id: str) -> Path:
    return folder / "results" / f"{claim_id}.json"


def save_result(result: dict[str, Any], folder: Path, extra: list[str]) -> None:
    """Keep a claim's result (with when and with which extra overrides; :func:`run_claim`
    recorded the commit and code it started from)."""
    stamp = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "extra_overrides": extra,
    }
    path = result_path(folder, result["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**result, **stamp}, indent=2) + "\n")


def keep(result: dict[str, Any], claim: Claim, folder: Path) -> bool:
    """Whether to keep a new result: not for claims that never run here, and a run that found
    no data does not replace a measured result (it says so instead)."""
    if claim.not_run_here:
        return False
    kept = result_path(folder, claim.id)
    if result["verdict"] == NOT_RUN and kept.is_file():
        print(f"{claim.id}: kept the measured result in {kept}")
        return False
    return True


def load_results(claims: list[Claim], folder: Path, paper: str) -> list[dict[str, Any]]:
    """The kept result of each claim, in the paper's order (an empty one if it never ran). The
    verdict is judged again by the claim's current rule from the kept measurements, so a report
    never shows a verdict of a rule that has since changed; ``freshness`` says whether the code
    that made it is the code of now."""
    digest = code_digest(paper)
    results = []
    for claim in claims:
        path = result_path(folder, claim.id)
        if claim.not_run_here:
            kept = {"values": {}, "verdict": NOT_RUN, "why": claim.not_run_here, "minutes": None}
        elif path.is_file():
            kept = json.loads(path.read_text())
            if kept["values"]:
                try:
                    runs = kept.get("runs")
                    if runs is None and isinstance(claim.rule, Matches):
                        runs = scales(claim, paper)  # kept before runs recorded their scale
                    kept["verdict"], kept["why"] = judge(claim.rule, kept["values"], runs)
                except KeyError as missing:
                    kept["verdict"] = "stale"
                    kept["why"] = f"the kept runs have no arm {missing}: run this claim again"
            kept["freshness"] = freshness(kept, digest)
        else:
            kept = {"values": {}, "verdict": "not run yet", "why": "", "minutes": None}
        results.append({**kept, "claim": claim, "baselines": kept_baselines(folder, claim)})
    return results


# Overrides that pick a set-up or where it runs, not its scale.
SCALE_NEUTRAL = ("paper=", "experiment=", "preset=", "seed=", "trainer=", "variant=", "logger")


def scale(preset: str, overrides: list[str]) -> str:
    """ "paper" for a run of the paper preset as it is, else what makes it another scale: a
    reduced preset, or the paper preset with overrides (a smaller net, fewer images)."""
    changed = [o for o in overrides if not o.startswith(SCALE_NEUTRAL)]
    if preset != "paper":
        return f"the {preset} preset"
    return f"the paper preset with {', '.join(changed)}" if changed else "paper"


def scales(claim: Claim, paper: str) -> dict[str, list[dict]]:
    """Each arm's scale, from its config, for a result kept before runs recorded their budget
    and scale (how those runs ended is not known)."""
    runs = {}
    for arm in claim.arms:
        overrides = [f"paper={paper}", *claim.overrides, *arm.overrides]
        preset = compose(overrides, ROOT / "outputs").preset.name
        runs[arm.name] = [{"stopped_by": "not recorded", "scale": scale(preset, overrides)}]
    return runs


def plot(result: dict[str, Any], path: Path) -> None:
    """Bars of each arm's mean with its standard error, one dot per seed; beside them the
    learning curves when the claim has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    claim, values, curves = result["claim"], result["values"], result.get("curves") or {}
    panels = 2 if curves else 1
    figure, axes = plt.subplots(1, panels, figsize=(1.6 + 1.2 * len(values) + 4 * (panels - 1), 3))
    bars = axes[0] if curves else axes
    for x, measured in enumerate(values.values()):
        mean, error = mean_and_error(measured)
        bars.bar(x, mean, yerr=error, capsize=4, color="#8aa8c8")
        bars.scatter([x] * len(measured), measured, color="black", s=10, zorder=3)
    bars.set_xticks(range(len(values)), list(values))
    bars.set_ylabel(claim.measure)
    bars.set_title(f"{claim.id}: {result['verdict']}", fontsize=9)
    if curves:
        for index, (arm, runs) in enumerate(curves.items()):
            for run_index, curve in enumerate(runs):
                label = arm if run_index == 0 else None
                epochs = range(1, len(curve) + 1)
                axes[1].plot(epochs, curve, color=f"C{index}", alpha=0.8, label=label)
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel(claim.curve)
        axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def ours(result: dict[str, Any]) -> str:
    """Each arm's mean ± standard error over its seeds (its values, where some are infinite),
    and for an arm with a grid the setting each seed chose on validation."""
    chosen = result.get("chosen") or {}
    cells = []
    for arm, v in result["values"].items():
        mean, error = mean_and_error(v)
        cell = f"{arm} {mean:.4g} ± {error:.2g} (n={len(v)})"
        if math.isnan(error):
            cell = f"{arm} {', '.join(f'{value:.4g}' for value in v)} (n={len(v)})"
        if arm in chosen:
            cell += f" [chose {'; '.join(' '.join(c) for c in chosen[arm])}]"
        cells.append(cell)
    return "; ".join(cells) or "—"


def table(paper: str, results: list[dict[str, Any]]) -> list[str]:
    """The report's rows: claim, where, the paper's number, ours, verdict, cost, command."""
    rows = [
        "| claim | where | paper | ours (mean ± s.e. over seeds) | simple baseline (same data) "
        "| verdict | min/run | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        claim = result["claim"]
        minutes = f"{result['minutes']:.1f}" if result["minutes"] is not None else "—"
        command = f"`python scripts/reproduce.py paper={paper} claim={claim.id}`"
        why = f": {result['why']}" if result["why"] else ""
        why += FRESHNESS_NOTES.get(result.get("freshness", "current"), "")
        rows.append(
            f"| {claim.id}: {claim.statement} | {claim.source} | {claim.paper} | {ours(result)} "
            f"| {baseline_cell(result)} | **{result['verdict']}**{why} | {minutes} | {command} |"
        )
    return rows


def write_report(paper: str, results: list[dict[str, Any]], folder: Path) -> Path:
    """``report.md`` with the table and one plot per measured claim."""
    plots = []
    for result in results:
        if result["values"]:
            plot(result, folder / f"{result['claim'].id}.png")
            plots.append(f"![{result['claim'].id}]({result['claim'].id}.png)")
    path = folder / "report.md"
    body = "\n".join(table(paper, results)) + "\n\n" + "\n".join(plots)
    path.write_text(f"# Reproduction report: {paper}\n\n{body}\n")
    return path


def update_readme(readme: Path, paper: str, results: list[dict[str, Any]]) -> bool:
    """Copy the table (with links to the plots) between the README's markers, if it has them."""
    text = readme.read_text() if readme.is_file() else ""
    if MARKERS[0] not in text or MARKERS[1] not in text:
        return False
    head, rest = text.split(MARKERS[0], 1)
    _, tail = rest.split(MARKERS[1], 1)
    report = f"../../reports/{paper}"
    links = ", ".join(
        f"[{r['claim'].id}]({report}/{r['claim'].id}.png)" for r in results if r["values"]
    )
    lines = [
        *table(paper, results),
        "",
        f"Plots: {links or '—'}. Report: [{report}/report.md]({report}/report.md).",
    ]
    readme.write_text(head + MARKERS[0] + "\n" + "\n".join(lines) + "\n" + MARKERS[1] + tail)
    return True


def baseline_path(folder: Path, claim_id: str) -> Path:
    return folder / "baselines" / f"{claim_id}.json"


def run_baselines(claim: Claim, paper: str, extra: list[str], folder: Path) -> list[dict[str, Any]]:
    """Each of the claim's simple baselines on the config of its first arm (the same data and
    splits); kept in ``<folder>/baselines/<claim>.json`` with the code that made them."""
    import importlib

    arm = claim.arms[0]
    seed = f"seed={claim.seeds[0]}"
    overrides = [f"paper={paper}", *claim.overrides, *arm.overrides, *extra, seed]
    cfg = compose(overrides, folder / "runs" / claim.id / "baselines")
    stamp = {"git": git_state(), "code_digest": code_digest(paper, baselines=True)}
    measured = []
    for target in claim.baselines:
        module, _, function = target.partition(":")
        measured.append(getattr(importlib.import_module(module), function)(cfg))
    path = baseline_path(folder, claim.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"claim": claim.id, "baselines": measured, **stamp}
    kept["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(kept, indent=2) + "\n")
    return measured


VERDICT_ORDER = (REPRODUCED, PARTLY, INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, "not run yet")
SUMMARY_MARKERS = ("<!-- verdicts:start -->", "<!-- verdicts:end -->")


def parameters(result: dict[str, Any]) -> str:
    """Each arm's trained / total parameters, as its first run recorded them."""
    counts = []
    for arm, runs in (result.get("runs") or {}).items():
        recorded = runs[0].get("parameters") if runs else None
        if recorded:
            counts.append(f"{arm} {recorded['trained']:,} / {recorded['total']:,}")
    return "; ".join(counts) or "—"


def kept_baselines(folder: Path, claim: Claim) -> list[dict[str, Any]]:
    path = baseline_path(folder, claim.id)
    return json.loads(path.read_text())["baselines"] if claim.baselines and path.is_file() else []


def baseline_cell(result: dict[str, Any]) -> str:
    """The claim's kept baselines: name, measure on the test split, parameters, seconds."""
    return (
        "; ".join(
            f"{b['name']} {b['value']:.4g} ({b['parameters']:,} parameters, {b['seconds']:.0f} s "
            f"on {b['threads']} threads)"
            for b in result.get("baselines", [])
        )
        or "—"
    )


def verdict_counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICT_ORDER, 0)
    for result in results:
        counts[result["verdict"]] = counts.get(result["verdict"], 0) + 1
    return counts


def summary_table(by_paper: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One row per paper: its claims by verdict, and how many of its kept results are stale."""
    rows = [
        f"| paper | {' | '.join(VERDICT_ORDER)} | stale |",
        "|---|" + "---|" * (len(VERDICT_ORDER) + 1),
    ]
    for paper, results in by_paper.items():
        counts = verdict_counts(results)
        stale = sum(r.get("freshness") in ("stale", "unrecorded") for r in results)
        cells = " | ".join(str(counts[v]) for v in VERDICT_ORDER)
        rows.append(f"| [{paper}](papers/{paper}/README.md) | {cells} | {stale} |")
    return rows


def overview(paper: str, results: list[dict[str, Any]], path: Path) -> bool:
    """One figure per paper where a reader would rather look than read: for each measured claim
    with a simple baseline or a paper's number in its own measure, each arm's mean (with its
    standard error), the baselines (diamonds) and the paper's number (a dashed line)."""
    shown = []
    for result in results:
        claim, values = result["claim"], result["values"]
        papers = [r for r in claim.reported if r.metric == claim.measure and not r.baseline]
        finite = all(math.isfinite(v) for arm in values.values() for v in arm)
        if values and finite and (result["baselines"] or papers):
            shown.append((result, papers))
    if not shown:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(shown), 1, figsize=(7, 0.6 + 1.1 * len(shown)), squeeze=False)
    for axis, (result, papers) in zip(axes[:, 0], shown, strict=True):
        claim = result["claim"]
        labels, means, errors = [], [], []
        for arm, measured in result["values"].items():
            mean, error = mean_and_error(measured)
            labels.append(arm)
            means.append(mean)
            errors.append(error)
        axis.barh(range(len(means)), means, xerr=errors, color="#8aa8c8", capsize=3)
        for offset, baseline in enumerate(result["baselines"], start=len(means)):
            labels.append(baseline["name"].split(" (")[0].split(" on ")[0])
            axis.scatter([baseline["value"]], [offset], marker="D", color="#c0504d", zorder=3)
        for reported in papers:
            axis.axvline(reported.value, color="black", linestyle="--", linewidth=1)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_title(f"{claim.id} ({claim.measure}): {result['verdict']}", fontsize=8)
        axis.tick_params(axis="x", labelsize=7)
    figure.suptitle(f"{paper}: ours (bars), simple baselines (diamonds), the paper (dashed)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_results_page(reports: Path) -> Path:
    """``reports/README.md``: every paper's claims on one page (the paper's number, ours, the
    simple baseline's, parameters, minutes, verdict), and the verdict counts in the top README
    between its markers."""
    from common import registry

    by_paper = {}
    for name in registry.available():
        claims = registry.claims(name)
        if claims:
            by_paper[name] = load_results(claims, reports / name, name)
    lines = [
        "# Results: every claim of every paper",
        "",
        "Rebuilt by `python scripts/reproduce.py paper=<name>` (or `--report`) from the kept",
        "results in `reports/<paper>/results/`. Verdicts: **reproduced**; **partly** (the right",
        "direction, not decided); **inconclusive at this scale** (the runs' budget, seeds or",
        "scale decided, not the method); **not reproduced** (measured, and absent); **not run",
        "here** (needs the paper's scale: the command is given). *stale*: the code the result",
        "depends on has changed since it was made.",
        "",
        *(line.replace("](papers/", "](../papers/") for line in summary_table(by_paper)),
    ]
    for name, results in by_paper.items():
        figure = reports / name / "overview.png"
        picture = [f"![{name}]({name}/overview.png)", ""] if overview(name, results, figure) else []
        lines += [
            "",
            f"## {name}",
            "",
            f"Report with plots: [{name}/report.md]({name}/report.md).",
            "",
            *picture,
            "| claim | where | paper | ours | simple baseline | parameters (trained / total) "
            "| min/run | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for result in results:
            claim = result["claim"]
            minutes = f"{result['minutes']:.1f}" if result["minutes"] is not None else "—"
            fresh = result.get("freshness", "current")
            mark = f" (*{fresh}*)" if fresh in FRESHNESS_NOTES else ""
            lines.append(
                f"| {claim.id} | {claim.source} | {claim.paper} | {ours(result)} | "
                f"{baseline_cell(result)} | {parameters(result)} | {minutes} | "
                f"**{result['verdict']}**{mark} |"
            )
    path = reports / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    readme = reports.parent / "README.md"
    text = readme.read_text() if readme.is_file() else ""
    if SUMMARY_MARKERS[0] in text and SUMMARY_MARKERS[1] in text:
        head, rest = text.split(SUMMARY_MARKERS[0], 1)
        _, tail = rest.split(SUMMARY_MARKERS[1], 1)
        body = "\n".join(summary_table(by_paper))
        readme.write_text(f"{head}{SUMMARY_MARKERS[0]}\n{body}\n{SUMMARY_MARKERS[1]}{tail}")
    return path
