"""One weight update per batch of sequences for the 1997 network, in NumPy, without autograd.

The same update as autograd through ``MemoryCellNetwork`` with ``gradient="truncated"`` followed
by plain SGD on the summed squared error, computed in closed form. With the truncated gradient of
Appendix A.1 the error reaches the past only through the carousels (``s_c(t) = s_c(t-1) + y^in(t)
g(net_c(t))``, eq. (9)), so the error of a state is the sum of the direct errors of all later
states, a reverse cumulative sum over time:

    e_s(t) = sum_{t' >= t} y^out(t') h'(s_c(t')) sum_k w_kc e_k(t')

and every other error is local to its step: cells ``e_s y^in g'(net_c)``, input gates
``f'(net_in) sum_c e_s g(net_c)``, output gates ``f'(net_out) sum_c h(s_c) sum_k w_kc e_k``, output
units ``e_k = f'_k (t^k - y^k)`` (eq. (19)). Each weight changes by the learning rate times the sum
over the steps of its unit's error and its source's activation, with y(t-1) a constant (the
truncation). Summed over the steps this is the paper's per-step update, eqs. (19)-(28), whose
traces d s_c / d w (eqs. (25), (27)) sum the same products forward in time; it is one update per
sequence, as the paper makes where the error comes only at the sequence end (Exp. 2c-6).

Only the recurrence that produces the hidden activations y(t) runs step by step; the rest is a few
matrix products over all steps at once, where autograd would record and replay every operation.
For one sequence (online learning) the recurrence runs on Python floats (``online_trajectory``):
with 8 hidden units a NumPy call costs more than the arithmetic, and this loop takes less than half
the time of ``MemoryCellNetwork._hidden_trajectory``, which a batch uses. ``bench.py`` times the
update against autograd and ``torch.nn.LSTM``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import mul

import numpy as np
import torch
from torch import Tensor

from papers.lstm.model import NUMPY_SQUASHINGS, MemoryCellNetwork, np_logistic
from papers.lstm.realtime import (
    DERIVATIVE_FROM_VALUE,
    _descent,
    _hidden_bias,
    _output_extra,
    _views,
)

# model.py's squashing functions of one float (f of eq. (3), g and h of eqs. (4), (5)).
SCALAR_SQUASHINGS: dict[str, Callable[[float], float]] = {
    "logistic": lambda x: 0.5 + 0.5 * math.tanh(0.5 * x),
    "logistic_pm1": lambda x: math.tanh(0.5 * x),
    "logistic_pm2": lambda x: 2.0 * math.tanh(0.5 * x),
    "identity": lambda x: x,
}


def applies(network: torch.nn.Module) -> bool:
    """Whether :func:`sequence_update` can train ``network``: the 1997 network (no forget gate)
    with the truncated gradient, on the CPU."""
    return (
        isinstance(network, MemoryCellNetwork)
        and not network.forget_gate
        and network.gradient == "truncated"
        and network.weight_input.device.type == "cpu"
    )


def sequence_update(
    network: MemoryCellNetwork,
    inputs: Tensor,
    targets: Tensor,
    mask: Tensor,
    learning_rate: float,
) -> Tensor:
    """Change the weights once by ``learning_rate`` times minus the truncated gradient of the
    batch's summed error 1/2 sum (t^k - y^k)^2 (the step of SGD on ``squared_error(...).sum()``);
    returns the outputs [B, T, n_out] of the weights before the update."""
    if not applies(network):
        raise ValueError(
            "the fused update needs the 1997 network (network='1997') with the truncated "
            "gradient on the CPU"
        )
    outputs, descent = sequence_descent(network, inputs, targets, mask)
    views = _views(network)
    for name, value in descent.items():
        views[name] += learning_rate * value  # eq. (17): Delta w = -alpha dE/dw
    return torch.from_numpy(outputs)


def sequence_descent(
    network: MemoryCellNetwork, inputs: Tensor, targets: Tensor, mask: Tensor
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The outputs y^k [B, T, n_out] and -dE/dw for every parameter (by the names of
    ``realtime._views``), E the batch's summed error, with the truncated gradient."""
    w = _views(network)
    x = inputs.detach().numpy()
    batch, steps, n_in = x.shape
    blocks, size = network.n_blocks, network.block_size
    n_cells = blocks * size
    g, h = NUMPY_SQUASHINGS[network.g_name], NUMPY_SQUASHINGS[network.h_name]
    g_prime, h_prime = DERIVATIVE_FROM_VALUE[network.g_name], DERIVATIVE_FROM_VALUE[network.h_name]
    f_prime = DERIVATIVE_FROM_VALUE["logistic"]  # gates and logistic output units
    output_gate = "output" in network.gate_names
    seen = 1.0 if network.memory_enabled else 0.0  # Exp. 2a/2b before the cell is added

    # The forward pass, eqs. (6)-(9); the sources of the connections into cells and gates:
    # x(t), y(t-1) (if recurrent), 1 (bias).
    net = x @ w["input"].T + _hidden_bias(w, n_cells)
    sources = [x]
    if w["recurrent"] is not None:
        if batch == 1:
            hidden = online_trajectory(network, net[0])[None]
        else:
            hidden = network._hidden_trajectory(torch.from_numpy(net)).numpy()
        previous = np.concatenate([np.zeros_like(hidden[:, :1]), hidden[:, :-1]], axis=1)
        net = net + previous @ w["recurrent"].T  # y(t-1) as a constant: the truncation
        sources.append(previous)
    sources.append(np.ones((batch, steps, 1), x.dtype))
    y_gates = np_logistic(net[..., n_cells:])  # eqs. (7), (8)
    y_in = y_gates[..., :blocks, None]  # [B, T, blocks, 1]: each block's input gate
    y_out = y_gates[..., blocks : 2 * blocks, None] if output_gate else 1.0
    squashed = g(net[..., :n_cells]).reshape(batch, steps, blocks, size)
    states = np.cumsum(y_in * squashed, axis=1)  # eq. (9), s_c(0) = 0
    h_state = h(states)
    cells = seen * (y_out * h_state).reshape(batch, steps, n_cells)
    y_k = cells @ w["output"].T + _output_extra(w, x)
    linear_output = network.output_function is not torch.sigmoid
    if not linear_output:
        y_k = np_logistic(y_k)

    # The errors, from the output units back to the carousels and the gates.
    f_prime_k = 1.0 if linear_output else f_prime(y_k)
    e_k = f_prime_k * (targets.numpy() - y_k) * mask.numpy()[..., None]  # eq. (19)
    back = (seen * e_k @ w["output"]).reshape(batch, steps, blocks, size)  # sum_k w_kc e_k
    direct = y_out * h_prime(h_state) * back  # eq. (23)
    e_state = np.cumsum(direct[:, ::-1], axis=1)[:, ::-1]  # the carousel: errors of later states
    units = np.empty((batch, steps, network.n_hidden), x.dtype)
    units[..., :n_cells] = (e_state * y_in * g_prime(squashed)).reshape(batch, steps, n_cells)
    units[..., n_cells : n_cells + blocks] = f_prime(y_in[..., 0]) * (e_state * squashed).sum(-1)
    if output_gate:  # eq. (21)
        units[..., n_cells + blocks :] = f_prime(y_out[..., 0]) * (back * h_state).sum(-1)

    rows = batch * steps
    source = np.concatenate(sources, axis=-1).reshape(rows, -1)
    hidden_descent = units.reshape(rows, -1).T @ source  # eqs. (22), (26), (28) summed over t
    descent = _descent(
        w,
        hidden_descent,
        e_k.reshape(rows, -1),
        cells.reshape(rows, n_cells),
        x.reshape(rows, n_in),
        n_cells,
    )
    return y_k, descent


def online_trajectory(network: MemoryCellNetwork, drive: np.ndarray) -> np.ndarray:
    """The hidden activations y^u(t) [T, H] of one sequence, without gradient, from the parts of
    the net inputs [T, H] that come from the input units and the biases: eqs. (6)-(9) step by
    step on Python floats, the cells block by block, then the gates (the order of
    ``MemoryCellNetwork``'s hidden units)."""
    rows = network.weight_recurrent.detach().numpy().tolist()
    f = SCALAR_SQUASHINGS["logistic"]
    g, h = SCALAR_SQUASHINGS[network.g_name], SCALAR_SQUASHINGS[network.h_name]
    blocks, size = network.n_blocks, network.block_size
    n_cells = blocks * size
    output_gate = "output" in network.gate_names
    previous = [0.0] * network.n_hidden  # y(-1) = 0
    states = [0.0] * n_cells
    hidden = []
    for drive_t in drive.tolist():
        net = [d + sum(map(mul, row, previous)) for d, row in zip(drive_t, rows, strict=True)]
        gates = [f(value) for value in net[n_cells:]]  # eqs. (7), (8)
        cells = []
        for c in range(n_cells):
            block = c // size
            states[c] += gates[block] * g(net[c])  # eq. (9)
            cell = h(states[c])
            cells.append(gates[blocks + block] * cell if output_gate else cell)
        previous = cells + gates
        hidden.append(previous)
    return np.array(hidden, dtype=drive.dtype)
