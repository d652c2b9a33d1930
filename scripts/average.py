"""Average a Transformer run's last checkpoints (Section 6.1): ``python scripts/average.py RUN
[--last 5] [--output PATH]``.

RUN is a run folder of ``paper=transformer``; its ``snapshots/`` hold the weights written every
``model.snapshot_every`` updates. The result loads like the run's own checkpoints (it is its
``last.ckpt`` with the averaged weights), so ``scripts/translate.py PATH`` translates with it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from papers.transformer.training import average_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a Transformer run folder")
    parser.add_argument("--last", type=int, default=5, help="how many snapshots (base 5, big 20)")
    parser.add_argument("--output", help="default: RUN/checkpoints/averaged.ckpt")
    args = parser.parse_args(argv)
    if args.last < 1:
        parser.error("--last must be at least 1")
    try:
        path = average_run(args.run, args.last, args.output)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
