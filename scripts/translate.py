"""Translate with a trained Transformer: ``python scripts/translate.py RUN_OR_CKPT [SENTENCE ...]
[--beam 4] [--alpha 0.6] [--max-extra 50] [--batch 32]``.

RUN_OR_CKPT is a run folder (its best checkpoint) or a checkpoint file (e.g. the one
``scripts/average.py`` writes). The vocabulary comes from the checkpoint. Sentences come from the
command line, or one per line from standard input; translations go to standard output in the
same order, one per line, a progress bar to standard error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too


def checkpoint_path(given: str) -> Path:
    path = Path(given)
    if path.is_dir():
        for name in ("best.ckpt", "last.ckpt"):
            if (path / "checkpoints" / name).is_file():
                return path / "checkpoints" / name
        raise FileNotFoundError(f"{path} holds no checkpoints/best.ckpt or checkpoints/last.ckpt")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def translate(
    path: Path, sentences: list[str], beam: int, alpha: float, max_extra: int, batch: int
) -> list[str]:
    import torch
    from rich.console import Console
    from rich.progress import track

    from papers.transformer.data import pad
    from papers.transformer.decoding import beam_search
    from papers.transformer.module import TransformerModule

    module = TransformerModule.load_from_checkpoint(path, map_location="cpu")
    if module.tokenizer is None:
        raise ValueError(f"{path} holds no vocabulary (was it written by papers/transformer?)")
    module.eval()
    encoded = [[*module.tokenizer.encode(s).ids, module.eos_id] for s in sentences]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # less padding
    out: dict[int, str] = {}
    chunks = [order[i : i + batch] for i in range(0, len(order), batch)]
    for chunk in track(chunks, "translating", transient=True, console=Console(stderr=True)):
        source = pad([encoded[i] for i in chunk], module.pad_id)
        with torch.no_grad():
            found = beam_search(
                module.net, source, module.bos_id, module.eos_id, beam, alpha, max_extra
            )
        for i, (ids, _) in zip(chunk, found, strict=True):
            out[i] = module.decode_text(ids)
    return [out[i] for i in range(len(sentences))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a Transformer run folder or checkpoint file")
    parser.add_argument("sentences", nargs="*", help="default: one per line from standard input")
    parser.add_argument("--beam", type=int, default=4, help="beam size (1: greedy)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent")
    parser.add_argument("--max-extra", type=int, default=50, help="output <= input + this")
    parser.add_argument("--batch", type=int, default=32, help="sentences decoded together")
    args = parser.parse_args(argv)
    if args.beam < 1 or args.batch < 1:
        parser.error("--beam and --batch must be at least 1")
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    try:
        path = checkpoint_path(args.checkpoint)
        lines = translate(path, sentences, args.beam, args.alpha, args.max_extra, args.batch)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
