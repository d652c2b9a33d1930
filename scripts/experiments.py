"""The experiments of a paper (or of all): ``python scripts/experiments.py [paper=<name>]``.

One line each: ``experiment=<paper>/<name>`` for ``scripts/train.py``, the paper's section,
minutes on 2 CPU cores ("not timed": paper scale or not measured here), and what it is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from common import experiments, registry  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"papers: {', '.join(registry.available())}",
    )
    parser.add_argument("paper", nargs="?", help="paper=<name> or <name> (default: every paper)")
    args = parser.parse_args(argv)
    paper = args.paper.removeprefix("paper=") if args.paper else None
    if paper is not None:
        try:
            registry.get(paper)
        except registry.UnknownPaperError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(experiments.listing(paper))
    return 0


if __name__ == "__main__":
    sys.exit(main())
