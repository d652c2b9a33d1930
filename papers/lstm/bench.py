"""Speed of the 1997 network against ``torch.nn.LSTM`` of the same size (for ``scripts/bench.py``).

Both networks get the same batches of the adding problem (Section 5.4) and take a forward pass, the
squared error and a backward pass; the 1997 network with the paper's truncated gradient, and the
same network's whole update in closed form (``fast.sequence_update``, what online training runs).
``torch.nn.LSTM`` gets as many hidden units as the 1997 network has memory cells.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from common.timing import interleaved_times, ratio_to
from papers.lstm import tasks
from papers.lstm.fast import sequence_update
from papers.lstm.model import MemoryCellNetwork, build_network, squared_error


def update(network: torch.nn.Module, batch: tasks.Batch) -> Callable[[], None]:
    """One forward pass, the squared error and a backward pass over ``batch``."""

    def step() -> None:
        network.zero_grad(set_to_none=True)
        outputs = network(batch.inputs)
        squared_error(outputs, batch.targets, batch.mask).mean().backward()

    return step


def fused_update(
    network: MemoryCellNetwork, batch: tasks.Batch, learning_rate: float
) -> Callable[[], None]:
    """The same forward and backward pass in closed form, and the weight change."""

    def step() -> None:
        sequence_update(network, batch.inputs, batch.targets, batch.mask, learning_rate)

    return step


def lstm_cell_timings(
    batch_size: int = 1, T: int = 100, repeats: int = 20, seed: int = 0
) -> dict[str, float]:
    """Seconds per update (medians) of the 1997 network (Exp. 4's 2 blocks of 2 cells,
    truncated gradient) by autograd and in closed form (``fused``, the weight change included),
    of ``torch.nn.LSTM`` with 4 hidden units, of the same 1997 network with full BPTT and of it
    with forget gates (truncated), called in turn trial by trial; each one's median per-trial
    time ratio to torch with its spread (above 1: slower than torch)."""
    settings = tasks.task_settings("4", T=T)
    batch = tasks.generate(settings, batch_size, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    steps = {
        name: update(build_network(network, **kwargs), batch)
        for name, network, kwargs in (
            ("lstm1997", "1997", settings.network_kwargs()),
            ("lstm1997_full_bptt", "1997", {**settings.network_kwargs(), "gradient": "full"}),
            ("torch_lstm", "torch_lstm", settings.network_kwargs()),
            ("forget_gate", "forget_gate", settings.network_kwargs()),
        )
    }
    steps["lstm1997_fused"] = fused_update(
        build_network("1997", **settings.network_kwargs()), batch, settings.learning_rate
    )
    times = interleaved_times(steps, repeats)
    timings = {f"{name}_s": statistics.median(t) for name, t in times.items()}
    for name, key in (
        ("lstm1997", "1997"),
        ("lstm1997_fused", "1997_fused"),
        ("lstm1997_full_bptt", "full_bptt"),
        ("forget_gate", "forget_gate"),
    ):
        ratio = ratio_to(times, name, "torch_lstm")
        timings[f"ratio_{key}_to_torch"] = ratio["ratio"]
        timings[f"ratio_{key}_to_torch_low"] = ratio["ratio_low"]
        timings[f"ratio_{key}_to_torch_high"] = ratio["ratio_high"]
    return timings
