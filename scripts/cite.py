"""BibTeX for the papers: ``python scripts/cite.py [paper=]<name> ...`` (all papers when none is
named); ``paper=alexnet`` as in every other script, or plainly ``alexnet``.

``--list`` shows the papers with their citation keys instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from common import registry  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"paper=<name> or <name>: {', '.join(registry.available())}"
    )
    parser.add_argument("--list", action="store_true", help="list papers and citation keys")
    args = parser.parse_args(argv)
    args.names = [n.removeprefix("paper=") for n in args.names]
    try:
        papers = [registry.get(n) for n in args.names] if args.names else registry.all_papers()
    except registry.UnknownPaperError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.list:
        for paper in papers:
            print(f"{paper.name:10s} {paper.citation_key:28s} {paper.title} ({paper.year})")
    else:
        print("\n\n".join(paper.bibtex.strip() for paper in papers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
