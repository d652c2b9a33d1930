"""Speed, as ratios measured in one run, at each of the thread counts given (1 and 2 by default).

``python scripts/bench.py [paper] [--threads 1,2] [--markdown]``.

Where two implementations are compared they run in turn, trial by trial, and a ratio is the
median of the per-trial ratios, "pairs" its range: a slow spell of a shared machine slows both.

1. Our AlexNet training step against ``torchvision.models.alexnet``, each normalised by its own
   FLOPs (counted by ``torch.utils.flop_counter``): the ratio of achieved FLOP/s.
2. Our Lightning training loop against a plain PyTorch loop over the same model and batches.
3. Achieved FLOP/s as a fraction of this machine's measured float32 matmul peak.
4. The 1997 LSTM (Exp. 4's network, truncated gradient) against ``torch.nn.LSTM`` of the same
   size, seconds per forward and backward pass (papers/lstm/bench.py).
5. The GAN's Lightning training (Algorithm 1, manual optimisation) against a plain loop of the
   same MNIST networks, iterations per second (papers/gan/bench.py).
6. Our RBM's CD-1 update against scikit-learn's ``BernoulliRBM`` at 784-500, batch 100
   (papers/dbn/bench.py).
7. The Transformer's training step against ``torch.nn.Transformer`` at the base configuration,
   decoding with the key/value cache against recomputing, beam 4 against greedy
   (papers/transformer/bench.py).
8. LoRA on the offline MiniLM base: the training step against PEFT's LoRA and against full
   fine-tuning, and Table 1's batch-1 latency of merged and unmerged LoRA and of Houlsby adapters
   against the base model (papers/lora/bench.py).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout too

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from common.timing import paired_ratio  # noqa: E402


def best_time(fn: Callable[[], None], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / best_time(lambda: a @ b, repeats)


def training_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    return step


def step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def compare_with_torchvision(batch: int, repeats: int) -> dict[str, float]:
    from torchvision.models import alexnet as torchvision_alexnet

    from papers.alexnet.model import AlexNet

    torch.manual_seed(0)
    x, y = torch.randn(batch, 3, 224, 224), torch.randint(0, 1000, (batch,))
    ours, theirs = AlexNet(), torchvision_alexnet()
    flops = {"ours": step_flops(ours, x, y), "torchvision": step_flops(theirs, x, y)}
    paired = paired_ratio(training_step(ours, x, y), training_step(theirs, x, y), repeats)
    # FLOP/s ours / theirs = (FLOPs ours / FLOPs theirs) / (time ours / time theirs), per pair
    flop_ratio = flops["ours"] / flops["torchvision"]
    return {
        "ours": flops["ours"] / paired["a_s"],
        "torchvision": flops["torchvision"] / paired["b_s"],
        "ours_seconds": paired["a_s"],
        "torchvision_seconds": paired["b_s"],
        "ratio": flop_ratio / paired["ratio"],
        "ratio_low": flop_ratio / paired["ratio_high"],
        "ratio_high": flop_ratio / paired["ratio_low"],
    }


def compare_with_plain_loop(steps: int, batch: int) -> dict[str, float]:
    """Seconds per step of the quick AlexNet on random 32x32 digits-sized data."""
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    from papers.alexnet.module import AlexNetModule

    net = dict(
        num_classes=10,
        widths=[24, 64, 96, 96, 64],
        hidden=512,
        conv1_kernel=5,
        conv1_stride=1,
        conv1_padding=2,
        dropout=0.0,
    )
    images = torch.randint(0, 256, (steps * batch, 1, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (steps * batch,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch)

    def fresh() -> AlexNetModule:
        torch.manual_seed(0)
        return AlexNetModule(
            net, image_size=32, channels=1, crop=28, flip=False, ten_crop=False, pca_colour=False
        )

    def sgd(module: AlexNetModule) -> torch.optim.Optimizer:  # the same optimiser in both loops
        return torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    module = fresh()
    optimizer = sgd(module)

    def plain() -> None:
        for batch_ in loader:
            optimizer.zero_grad(set_to_none=True)
            module.training_step(batch_, 0).backward()
            optimizer.step()

    module.log = lambda *args, **kwargs: None  # a plain loop has no logger
    plain()  # warm-up
    start = time.perf_counter()
    plain()
    plain_seconds = (time.perf_counter() - start) / steps

    lightning_module = fresh()
    lightning_module.configure_optimizers = lambda: sgd(lightning_module)
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(lightning_module, train_dataloaders=loader)
    lightning_seconds = (time.perf_counter() - start) / (2 * steps)  # includes its warm-up epoch
    return {"plain": plain_seconds, "lightning": lightning_seconds}


def alexnet_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    vision = compare_with_torchvision(args.batch, args.repeats)
    loop = compare_with_plain_loop(args.steps, batch=64)
    return [
        (
            "AlexNet step, ours",
            f"{vision['ours'] / 1e9:.1f} GFLOP/s",
            f"{vision['ours_seconds']:.3f} s/step, {vision['ours'] / peak:.0%} of peak",
        ),
        (
            "AlexNet step, torchvision",
            f"{vision['torchvision'] / 1e9:.1f} GFLOP/s",
            f"{vision['torchvision_seconds']:.3f} s/step, "
            f"{vision['torchvision'] / peak:.0%} of peak",
        ),
        (
            "ours / torchvision (FLOP/s)",
            f"{vision['ratio']:.2f}",
            f"pairs {vision['ratio_low']:.2f}-{vision['ratio_high']:.2f}",
        ),
        (
            "Lightning loop / plain loop (time)",
            f"{loop['lightning'] / loop['plain']:.2f}",
            f"{loop['lightning'] * 1e3:.1f} vs {loop['plain'] * 1e3:.1f} ms/step",
        ),
    ]


def lstm_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    from papers.lstm.bench import lstm_cell_timings

    lstm = {b: lstm_cell_timings(batch_size=b, T=100, repeats=10) for b in (1, 32)}
    return [
        (
            f"LSTM 1997 / torch.nn.LSTM (time, batch {b}, T=100)",
            f"{t['ratio_1997_to_torch']:.2f}",
            f"{t['lstm1997_s'] * 1e3:.1f} vs {t['torch_lstm_s'] * 1e3:.1f} ms per pass; pairs "
            f"{t['ratio_1997_to_torch_low']:.2f}-{t['ratio_1997_to_torch_high']:.2f}; "
            f"the online update of fast.py {t['ratio_1997_fused_to_torch']:.2f}, "
            f"full BPTT {t['ratio_full_bptt_to_torch']:.2f}, "
            f"forget gate {t['ratio_forget_gate_to_torch']:.2f}",
        )
        for b, t in lstm.items()
    ]


def gan_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    from papers.gan.bench import gan_loop_timings

    gan = gan_loop_timings("paper", steps=args.steps, batch=100)
    return [
        (
            "GAN (MNIST nets): Lightning / plain loop (time)",
            f"{gan['lightning_to_plain_time']:.2f}",
            f"{gan['lightning_steps_per_s']:.2f} vs {gan['plain_steps_per_s']:.2f} iterations/s",
        )
    ]


def rbm_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    from papers.dbn.bench import rbm_cd1_timings

    rbm = rbm_cd1_timings()
    return [
        (
            "RBM CD-1, ours / sklearn BernoulliRBM (time, 784-500, batch 100)",
            f"{rbm['ratio_ours_to_sklearn']:.2f}",
            f"{rbm['ours_updates_per_s']:.1f} vs {rbm['sklearn_updates_per_s']:.1f} updates/s; "
            f"pairs {rbm['ratio_low']:.2f}-{rbm['ratio_high']:.2f}",
        )
    ]


def transformer_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    from papers.transformer.bench import decoding_timings, training_step_timings

    step = training_step_timings()
    decoding = decoding_timings()
    return [
        (
            "Transformer base step, ours / torch.nn.Transformer (time, 16 x 32 tokens)",
            f"{step['ratio']:.2f}",
            f"{step['a_s']:.2f} vs {step['b_s']:.2f} s/step; pairs {step['ratio_low']:.2f}-"
            f"{step['ratio_high']:.2f}; {step['ours_parameters'] / 1e6:.1f}M vs "
            f"{step['torch_parameters'] / 1e6:.1f}M parameters",
        ),
        (
            "Transformer decoding, key/value cache / recomputing (speed, 50 tokens)",
            f"{decoding['cache_speedup']:.2f}",
            f"{decoding['cached_tokens_per_s']:.0f} vs {decoding['recompute_tokens_per_s']:.0f} "
            f"tokens/s, batch 16; pairs {decoding['cache_speedup_low']:.2f}-"
            f"{decoding['cache_speedup_high']:.2f}",
        ),
        (
            "Transformer beam 4 / greedy (time per sentence, input 20 + 50 tokens)",
            f"{decoding['beam4_to_greedy']:.2f}",
            f"{decoding['beam4_ms_per_sentence']:.0f} vs {decoding['greedy_ms_per_sentence']:.0f} "
            "ms per sentence, batch 16",
        ),
    ]


def lora_rows(args: argparse.Namespace, peak: float) -> list[tuple[str, str, str]]:
    from papers.lora.base import load_classifier
    from papers.lora.bench import latency, training_timings
    from papers.lora.lora import LoRAConfig, apply_lora

    base = load_classifier("minilm", num_labels=2)
    step = training_timings(base)
    adapted = copy.deepcopy(base)
    apply_lora(adapted, LoRAConfig(r=8, alpha=8.0, targets=("query", "value")))
    table1 = latency(base, adapted, trials=args.repeats * 10)
    return [
        (
            "LoRA step (MiniLM, r 8 on W_q, W_v), ours / PEFT (time, 16 x 32 tokens)",
            f"{step['ratio_to_peft']:.2f}",
            f"{step['ours_s'] * 1e3:.0f} vs {step['peft_s'] * 1e3:.0f} ms/step; pairs "
            f"{step['ratio_to_peft_low']:.2f}-{step['ratio_to_peft_high']:.2f}",
        ),
        (
            "LoRA step / full fine-tuning (time)",
            f"{step['ratio_to_full']:.2f}",
            f"{step['full_s'] * 1e3:.0f} ms/step full; trained state {step['ours_state_mb']:.1f} "
            f"vs {step['full_state_mb']:.0f} MB",
        ),
    ] + [
        (
            f"LoRA Table 1 latency, {name} / base (batch 1, 128 tokens)",
            f"{table1[f'latency_ratio_{name}']:.2f}",
            f"{table1[f'{name}_ms']:.1f} vs {table1['base_ms']:.1f} ms",
        )
        for name in ("merged", "unmerged", "adapter")
    ]


# Each paper's rows; the DBN and greedy layer-wise training share the RBM (common/rbm.py).
ROWS = {"alexnet": alexnet_rows, "lstm": lstm_rows, "gan": gan_rows, "dbn": rbm_rows}
ROWS["transformer"] = transformer_rows
ROWS["lora"] = lora_rows
ROWS["greedy"] = rbm_rows


def machine() -> str:
    """The CPU model, its core count and the torch build, for the table's caption."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"


def table(rows: list[tuple[str, ...]], markdown: bool) -> str:
    header = ("threads", "measure", "value", "detail")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in (header, *rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=f"papers: {', '.join(sorted(ROWS))}",
    )
    parser.add_argument(
        "paper", nargs="?", help="paper=<name> or <name>: only its rows (default: every paper)"
    )
    parser.add_argument("--batch", type=int, default=16, help="batch of the 224x224 comparison")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="steps of the loop comparison")
    parser.add_argument(
        "--threads", default="1,2", help="torch thread counts to measure at, comma-separated"
    )
    parser.add_argument(
        "--markdown", action="store_true", help="a Markdown table, as the READMEs' speed tables"
    )
    args = parser.parse_args()
    paper = args.paper.removeprefix("paper=") if args.paper else None
    if paper is not None and paper not in ROWS:
        parser.error(f"unknown paper {paper!r}; available papers: {', '.join(sorted(ROWS))}")
    try:
        threads = [int(n) for n in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads takes counts like 1,2; got {args.threads!r}")
    if any(n < 1 for n in threads):
        parser.error(f"--threads takes counts of at least 1; got {args.threads!r}")

    chosen = [ROWS[paper]] if paper else list(dict.fromkeys(ROWS.values()))
    rows = []
    for n in threads:
        torch.set_num_threads(n)
        peak = matmul_peak()
        rows.append((str(n), "matmul peak (float32, 2048^2)", f"{peak / 1e9:.1f} GFLOP/s", ""))
        for measure in chosen:
            rows += [(str(n), *row) for row in measure(args, peak)]
    print(f"{machine()}; batch {args.batch}, {args.repeats} repeats")
    print(table(rows, args.markdown))


if __name__ == "__main__":
    main()
