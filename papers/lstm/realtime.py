"""Real-time learning: the weights change after every time step (Section 4, "Learning").

The paper trains with "a variant of RTRL" (Section 4) and "always" learns online (Section 5).
RTRL changes the weights at every time step, with the derivatives of the internal states with
respect to the weights carried forward in time (Appendix A.1, eqs. (14), (25), (27)): only
d s_c / d w for the weights into the cells and their input gates need to be stored. Where error
signals come only at the sequence end (Exp. 2c-6) this is the same as one update per sequence.
Where they come at every step (Exp. 1, 2a, 2b) it is not: the weights of step t+1 already carry
step t's update, and the stored derivatives mix contributions made with older weights, as in RTRL.

:func:`realtime_update` runs a batch of sequences through a 1997 network step by step and applies
eqs. (19)-(28) after every step, in NumPy on views of the network's parameters (updated in place).
A batch of B sequences runs side by side and each step applies the sum of their B updates (our
batched-mode deviation); B = 1 is the paper's online learning.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from papers.lstm.model import NUMPY_SQUASHINGS, MemoryCellNetwork, np_logistic

# Derivatives of the squashing functions, from their values (eqs. (3)-(5) and the identity).
DERIVATIVE_FROM_VALUE = {
    "logistic": lambda y: y * (1.0 - y),  # f' = f (1 - f)
    "logistic_pm1": lambda y: 0.5 * (1.0 - y * y),  # h = tanh(x / 2)
    "logistic_pm2": lambda y: 1.0 - 0.25 * y * y,  # g = 2 tanh(x / 2)
    "identity": np.ones_like,
    "linear": np.ones_like,
}


def _views(network: MemoryCellNetwork) -> dict[str, np.ndarray | None]:
    """NumPy views of the parameters: writing to them updates the network."""
    return {
        name: None if parameter is None else parameter.detach().numpy()
        for name, parameter in (
            ("input", network.weight_input),
            ("recurrent", network.weight_recurrent),
            ("bias_cells", network.bias_cells),
            ("bias_gates", network.bias_gates),
            ("output", network.weight_output),
            ("output_input", network.weight_output_input),
            ("bias_output", network.bias_output),
        )
    }


def check_realtime(network: torch.nn.Module) -> None:
    """Real-time learning is implemented for the paper's network (truncated gradient, CPU)."""
    if not isinstance(network, MemoryCellNetwork) or network.forget_gate:
        raise ValueError("real-time learning needs the 1997 network (network='1997')")
    if network.gradient != "truncated":
        raise ValueError("real-time learning uses the truncated gradient (gradient='truncated')")
    if network.weight_input.device.type != "cpu":
        raise ValueError("real-time learning runs on the CPU")


def realtime_update(
    network: MemoryCellNetwork,
    inputs: Tensor,
    targets: Tensor,
    mask: Tensor,
    learning_rate: float,
) -> Tensor:
    """Process sequences [B, T, n_in] step by step, changing the weights after every step by
    ``learning_rate`` times that step's truncated gradient of 1/2 sum (t^k - y^k)^2 (summed over
    the batch). Returns the outputs [B, T, n_out] as they were produced during learning."""
    check_realtime(network)
    views = _views(network)
    outputs = []
    for y_k, descent in step_descents(network, inputs, targets, mask):
        outputs.append(y_k)
        for name, value in descent.items():
            views[name] += learning_rate * value  # eq. (17): Delta w = -alpha dE(t)/dw
    return torch.from_numpy(np.stack(outputs, axis=1))


def step_descents(
    network: MemoryCellNetwork, inputs: Tensor, targets: Tensor, mask: Tensor
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """For each time step: the outputs y^k(t) [B, n_out] and -dE(t)/dw for every parameter (by
    the names of ``_views``; truncated, eqs. (19)-(28)), summed over the batch. The forward pass
    of step t reads the parameters when it runs, so a caller that changes them in between gets
    real-time learning."""
    check_realtime(network)
    w = _views(network)
    x_all = inputs.detach().numpy().astype(np.float32)
    t_all = targets.detach().numpy().astype(np.float32)
    m_all = mask.detach().numpy().astype(np.float32)
    batch, steps, n_in = x_all.shape
    blocks, size = network.n_blocks, network.block_size
    n_cells, n_hidden = blocks * size, network.n_hidden
    g, h = NUMPY_SQUASHINGS[network.g_name], NUMPY_SQUASHINGS[network.h_name]
    g_prime, h_prime = DERIVATIVE_FROM_VALUE[network.g_name], DERIVATIVE_FROM_VALUE[network.h_name]
    f_prime = DERIVATIVE_FROM_VALUE["logistic"]  # gates and logistic output units
    linear_output = network.output_function is not torch.sigmoid
    output_gate = "output" in network.gate_names
    recurrent = w["recurrent"] is not None
    seen = 1.0 if network.memory_enabled else 0.0  # Exp. 2a/2b before the cell is added
    ones = np.ones((batch, 1), np.float32)

    # Sources m of the connections into cells and gates: x(t), y(t-1) (if recurrent), 1 (bias).
    n_src = n_in + (n_hidden if recurrent else 0) + 1
    state = np.zeros((batch, n_cells), np.float32)
    previous = np.zeros((batch, n_hidden), np.float32)
    trace_cell = np.zeros((batch, n_cells, n_src), np.float32)  # d s_c / d w_{c m}, eq. (27)
    trace_in = np.zeros((batch, n_cells, n_src), np.float32)  # d s_c / d w_{in m}, eq. (25)
    for t in range(steps):
        x = x_all[:, t]
        source = np.concatenate([x, previous, ones] if recurrent else [x, ones], axis=1)
        net = x @ w["input"].T + _hidden_bias(w, n_cells)
        if recurrent:
            net = net + previous @ w["recurrent"].T  # y(t-1) as a constant: the truncation
        y_gates = np_logistic(net[:, n_cells:])  # eqs. (7), (8)
        y_in = np.repeat(y_gates[:, :blocks], size, axis=1)  # each cell's input gate
        y_out = np.repeat(y_gates[:, blocks : 2 * blocks], size, axis=1) if output_gate else 1.0
        squashed = g(net[:, :n_cells])
        state = state + y_in * squashed  # eq. (9)
        h_state = h(state)
        cells = y_out * h_state
        # eqs. (25), (27): the stored derivatives, carried over from t-1 unchanged (the CEC)
        trace_cell += (y_in * g_prime(squashed))[:, :, None] * source[:, None, :]
        trace_in += (f_prime(y_in) * squashed)[:, :, None] * source[:, None, :]
        y_k = seen * cells @ w["output"].T + _output_extra(w, x)
        if not linear_output:
            y_k = np_logistic(y_k)
        # eq. (19): e_k = f'_k (t^k - y^k); steps without a target give no error
        e_k = (1.0 if linear_output else f_prime(y_k)) * (t_all[:, t] - y_k) * m_all[:, t, None]
        back = seen * e_k @ w["output"]  # sum_k w_{k c} e_k, per cell
        e_state = y_out * h_prime(h_state) * back  # eq. (23)
        hidden = np.zeros((n_hidden, n_src), np.float32)  # -dE(t)/dw of cells and gates
        hidden[:n_cells] = np.einsum("bc,bcm->cm", e_state, trace_cell)  # eq. (28)
        into_gates = np.einsum("bc,bcm->cm", e_state, trace_in)  # eq. (26), summed over the block
        hidden[n_cells : n_cells + blocks] = into_gates.reshape(blocks, size, -1).sum(1)
        if output_gate:  # eq. (21)
            summed = (h_state * back).reshape(batch, blocks, size).sum(-1)
            hidden[n_cells + blocks :] = (
                f_prime(y_gates[:, blocks : 2 * blocks]) * summed
            ).T @ source
        yield y_k, _descent(w, hidden, e_k, seen * cells, x, n_cells)
        previous = np.concatenate([cells, y_gates], axis=1)


def _hidden_bias(w: dict[str, np.ndarray | None], n_cells: int) -> np.ndarray | float:
    if w["bias_gates"] is None:
        return 0.0
    cells = w["bias_cells"] if w["bias_cells"] is not None else np.zeros(n_cells, np.float32)
    return np.concatenate([cells, w["bias_gates"].reshape(-1)])


def _output_extra(w: dict[str, np.ndarray | None], x: np.ndarray) -> np.ndarray | float:
    """Input -> output connections (layered nets) and output biases."""
    extra = 0.0
    if w["output_input"] is not None:
        extra = extra + x @ w["output_input"].T
    if w["bias_output"] is not None:
        extra = extra + w["bias_output"]
    return extra


def _descent(
    w: dict[str, np.ndarray | None],
    hidden: np.ndarray,
    e_k: np.ndarray,
    cells: np.ndarray,
    x: np.ndarray,
    n_cells: int,
) -> dict[str, np.ndarray]:
    """-dE(t)/dw by parameter: e_l y^m (eq. (22)) for the output units, and the rows of
    ``hidden`` [units, sources] split into input, recurrent and bias weights."""
    n_in = x.shape[1]
    descent = {"input": hidden[:, :n_in], "output": e_k.T @ cells}
    if w["recurrent"] is not None:
        descent["recurrent"] = hidden[:, n_in:-1]
    if w["bias_cells"] is not None:
        descent["bias_cells"] = hidden[:n_cells, -1]
    if w["bias_gates"] is not None:
        descent["bias_gates"] = hidden[n_cells:, -1].reshape(w["bias_gates"].shape)
    if w["output_input"] is not None:
        descent["output_input"] = e_k.T @ x
    if w["bias_output"] is not None:
        descent["bias_output"] = e_k.sum(0)
    return descent
