"""Speed of the 1997 network against ``torch.nn.LSTM`` of the same size (for ``scripts/bench.py``).

Both networks get the same batches of the adding problem (Section 5.4) and take a forward pass, the
squared error and a backward pass; the 1997 network with the paper's truncated gradient.
``torch.nn.LSTM`` gets as many hidden units as the 1997 network has memory cells.
"""

from __future__ import annotations

import time

import torch

from papers.lstm import tasks
from papers.lstm.model import build_network, squared_error


def seconds_per_update(network: torch.nn.Module, batch: tasks.Batch, repeats: int) -> float:
    """Median wall-clock seconds of one forward and backward pass over ``batch``."""
    times = []
    for _ in range(repeats + 1):  # the first pass warms up and is not counted
        start = time.perf_counter()
        network.zero_grad(set_to_none=True)
        outputs = network(batch.inputs)
        squared_error(outputs, batch.targets, batch.mask).mean().backward()
        times.append(time.perf_counter() - start)
    return float(torch.tensor(times[1:]).median())


def lstm_cell_timings(
    batch_size: int = 1, T: int = 100, repeats: int = 20, seed: int = 0
) -> dict[str, float]:
    """Seconds per update of the 1997 network (Exp. 4's 2 blocks of 2 cells, truncated gradient),
    of ``torch.nn.LSTM`` with 4 hidden units, of the same 1997 network with full BPTT and of it
    with forget gates (truncated), and their ratios to torch (above 1: slower than torch)."""
    settings = tasks.task_settings("4", T=T)
    batch = tasks.generate(settings, batch_size, torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    timings = {
        name: seconds_per_update(build_network(network, **kwargs), batch, repeats)
        for name, network, kwargs in (
            ("lstm1997_s", "1997", settings.network_kwargs()),
            ("lstm1997_full_bptt_s", "1997", {**settings.network_kwargs(), "gradient": "full"}),
            ("torch_lstm_s", "torch_lstm", settings.network_kwargs()),
            ("forget_gate_s", "forget_gate", settings.network_kwargs()),
        )
    }
    timings["ratio_1997_to_torch"] = timings["lstm1997_s"] / timings["torch_lstm_s"]
    timings["ratio_full_bptt_to_torch"] = timings["lstm1997_full_bptt_s"] / timings["torch_lstm_s"]
    timings["ratio_forget_gate_to_torch"] = timings["forget_gate_s"] / timings["torch_lstm_s"]
    return timings
