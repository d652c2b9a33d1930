"""Run a paper's claims and write its reproduction report.

    python scripts/reproduce.py paper=alexnet                  # every claim
    python scripts/reproduce.py paper=alexnet claim=lrn        # one claim (or several: a,b)
    python scripts/reproduce.py paper=alexnet --list           # what exists, what each costs
    python scripts/reproduce.py paper=alexnet seeds=0,1 trainer.max_epochs=2   # seeds, overrides
    python scripts/reproduce.py paper=alexnet --report         # rebuild the report, run nothing
    python scripts/reproduce.py paper=dbn --baselines          # the claims' simple baselines only

The pipeline is ``common/reproduction.py``: each claim's result is kept in
``reports/<paper>/results/<claim>.json``; the report ``reports/<paper>/report.md`` (one PNG per
claim) is rebuilt from all kept results, and its table is copied into ``papers/<paper>/README.md``
between the lines ``<!-- claims:start -->`` and ``<!-- claims:end -->``. ``reports/README.md``
sets every paper's claims on one page beside their simple baselines (``--baselines`` runs those of
the chosen claims: scikit-learn and LightGBM on the claim's own data) and the verdict counts go
into the top README.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from common import registry  # noqa: E402
from common.claims import NOT_RUN  # noqa: E402
from common.config import ROOT  # noqa: E402
from common.errors import LandmarksError  # noqa: E402
from common.reproduction import (  # noqa: E402
    keep,
    load_results,
    run_baselines,
    run_claim,
    save_result,
    update_readme,
    write_report,
    write_results_page,
)

EXIT_CODES = """exit status:
  0  a claim ran (its verdict is printed and kept; in a run of every claim, the claims that
     could not run here are printed as "not run here"), or --list, --report, --help
  2  a usage error: an unknown paper, claim or option
  3  nothing ran: the requested claim, or every claim of the paper, could not run here (data
     missing, or it needs the paper's scale); the last line, on stderr, is "not run: <claims>".
     The report is rebuilt only if a result was kept. --allow-not-run exits 0 instead"""

NOTHING_RAN = 3


def parse(argv: list[str]) -> tuple[argparse.Namespace, dict[str, str], list[str]]:
    """The flags; ``paper=``, ``claim=`` and ``seeds=``; the other overrides, for every run."""
    parser = argparse.ArgumentParser(
        description=__doc__,
        epilog=f"{EXIT_CODES}\n\npapers: {', '.join(registry.available())}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="paper=<name>, claim=<id>, seeds=0,1,...; any other overrides every run's config",
    )
    parser.add_argument("--list", action="store_true", help="list the claims and what each costs")
    parser.add_argument("--report", action="store_true", help="rebuild the report, run nothing")
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="run only the chosen claims' simple baselines (on their data), then rebuild",
    )
    parser.add_argument(
        "--stale",
        action="store_true",
        help="run only the claims whose kept result is stale or predates code digests",
    )
    parser.add_argument(
        "--allow-not-run",
        action="store_true",
        help=f"exit 0, not {NOTHING_RAN}, when nothing could run here",
    )
    args = parser.parse_args(argv)
    ours = ("paper=", "claim=", "seeds=")
    options = dict(a.split("=", 1) for a in args.overrides if a.startswith(ours))
    extra = [a for a in args.overrides if not a.startswith(ours)]
    return args, options, extra


def main(argv: list[str]) -> int:
    args, options, extra = parse(argv)
    try:
        paper = registry.get(options.get("paper", "alexnet"))
        every_claim = registry.claims(paper.name)
        claims = every_claim
        if "claim" in options:  # one id, or several separated by commas (they share runs)
            by_id = {c.id: c for c in every_claim}
            wanted = options["claim"].split(",")
            unknown = [w for w in wanted if w not in by_id]
            if unknown:
                known = ", ".join(by_id)
                raise LandmarksError(f"no claim {unknown[0]!r}; {paper.name} has: {known}")
            claims = [by_id[w] for w in wanted]
    except (LandmarksError, registry.UnknownPaperError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = ROOT / "reports" / paper.name
    fresh = {r["claim"].id: r.get("freshness") for r in load_results(claims, folder, paper.name)}
    if args.list:
        for c in claims:
            runs = f"{len(c.arms)} arms x {len(c.seeds)} seeds x ~{c.minutes:g} min"
            kept = f" [{fresh[c.id]}]" if fresh[c.id] else ""
            print(f"{c.id:28s} {c.source:12s} {c.not_run_here or runs}{kept}")
            print(f"{'':28s} {c.statement}")
        return 0
    if args.stale:
        claims = [c for c in claims if fresh[c.id] in ("stale", "unrecorded")]
        print(f"stale or unrecorded: {', '.join(c.id for c in claims) or 'none'}")
        if not claims:
            return 0
    not_run: list[str] = []
    saved = 0
    if args.baselines:
        for claim in [c for c in claims if c.baselines]:
            for b in run_baselines(claim, paper.name, extra, folder):
                print(f"{claim.id}: {b['name']} {b['measure']} {b['value']:.4g} ({b['setting']})")
                saved += 1
    elif not args.report:
        trained: dict[tuple, dict] = {}
        for claim in claims:
            seeds = (
                tuple(int(s) for s in options["seeds"].split(","))
                if "seeds" in options
                else claim.seeds
            )
            result = run_claim(claim, paper.name, seeds, extra, folder, trained)
            print(f"{claim.id}: {result['verdict']} ({result['why']})")
            if result["verdict"] == NOT_RUN:
                not_run.append(claim.id)
            if keep(result, claim, folder):
                save_result(result, folder, extra)
                saved += 1
                if claim.baselines and result["verdict"] != NOT_RUN:
                    run_baselines(claim, paper.name, extra, folder)
    nothing_ran = not (args.report or args.baselines) and len(not_run) == len(claims)
    if args.report or saved:
        folder.mkdir(parents=True, exist_ok=True)
        results = load_results(every_claim, folder, paper.name)
        print(f"report: {write_report(paper.name, results, folder)}")
        readme = ROOT / "papers" / paper.name / "README.md"
        if update_readme(readme, paper.name, results):
            print(f"table copied into {readme}")
        print(f"every paper's results: {write_results_page(ROOT / 'reports')}")
    if nothing_ran:
        unchanged = "" if saved else f"; {folder / 'report.md'} left as it was"
        print(f"not run: {', '.join(not_run)} (why: above){unchanged}", file=sys.stderr)
        return 0 if args.allow_not_run else NOTHING_RAN
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
