"""The networks of Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", and our comparisons.

Variants (``build_network(variant, ...)``):

- ``"1997"``: the paper's network (Section 4, Appendix A.1). Memory cell blocks of S cells share one
  input gate and one output gate; each cell has a constant error carousel (self-connection 1.0, no
  forget gate, no peepholes); g squashes the cell input, h the cell output; gates and output units
  are logistic. Trained with the paper's truncated gradient, or full BPTT as a switch.
- ``"forget_gate"``: the same network with one forget gate per block, s(t) = y^phi(t) s(t-1) + ...
  (Gers, Schmidhuber & Cummins 2000). Not in the 1997 paper.
- ``"torch_lstm"``: ``torch.nn.LSTM`` (forget gates, tanh, full BPTT) with one output layer: the
  modern reference.
- ``"tanh_rnn"``: a plain tanh RNN (``torch.nn.RNN``) trained with full BPTT: the baseline.

Every network maps inputs [B, T, n_in] to outputs [B, T, n_out]; its state starts at zero for every
sequence ("net activations are reset after each processed input sequence", Section 5). Sequences of
different lengths may be padded at the end: an output depends only on earlier inputs.

Time step convention (Section 5, "three processing steps"): at step t the input units hold x(t), the
hidden units (gates and cells) compute from x(t) and the hidden activations y(t-1), and the output
units compute from the cell outputs y^c(t) of the same step.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.checks import check_choice

Connectivity = Literal["full", "layered"]
Bias = Literal["none", "gates", "hidden", "all"]
Gradient = Literal["truncated", "full"]
OutputActivation = Literal["logistic", "linear"]

VARIANTS: tuple[str, ...] = ("1997", "forget_gate", "torch_lstm", "tanh_rnn")
CONNECTIVITIES: tuple[str, ...] = ("full", "layered")
BIASES: tuple[str, ...] = ("none", "gates", "hidden", "all")
GRADIENTS: tuple[str, ...] = ("truncated", "full")
OUTPUT_ACTIVATIONS: tuple[str, ...] = ("logistic", "linear")


def logistic_pm1(x: Tensor) -> Tensor:
    """h of eq. (4): 2 / (1 + exp(-x)) - 1, range [-1, 1]."""
    return 2.0 * torch.sigmoid(x) - 1.0


def logistic_pm2(x: Tensor) -> Tensor:
    """g of eq. (5): 4 / (1 + exp(-x)) - 2, range [-2, 2]."""
    return 4.0 * torch.sigmoid(x) - 2.0


def identity(x: Tensor) -> Tensor:
    """h of Experiments 2a and 2b (Section 5.2)."""
    return x


# The squashing functions g (cell input) and h (cell output) by name. The text of Sections 4-5 and
# Appendix A.1 give g the range [-2, 2] and h the range [-1, 1]; Table 10's caption swaps them.
SQUASHINGS = {
    "logistic": torch.sigmoid,  # eq. (3), range [0, 1]: g of Experiments 2a/2b
    "logistic_pm1": logistic_pm1,
    "logistic_pm2": logistic_pm2,
    "identity": identity,
}


def np_logistic(x: np.ndarray) -> np.ndarray:
    """f of eq. (3) in NumPy, as 1/2 + tanh(x/2)/2 (no overflow for large |x|)."""
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# The same squashing functions in NumPy, for the fast recurrence on the CPU.
NUMPY_SQUASHINGS = {
    "logistic": np_logistic,
    "logistic_pm1": lambda x: np.tanh(0.5 * x),  # 2 f(x) - 1
    "logistic_pm2": lambda x: 2.0 * np.tanh(0.5 * x),  # 4 f(x) - 2
    "identity": lambda x: x,
}
OUTPUT_FUNCTIONS = {"logistic": torch.sigmoid, "linear": identity}


class Trajectory(NamedTuple):
    """Everything the 1997 network computes for a batch of sequences."""

    outputs: Tensor  # y^k(t) of the output units, [B, T, n_out]
    states: Tensor  # internal states s_c(t), [B, T, blocks, block_size]
    cell_outputs: Tensor  # y^c(t) = y^out(t) h(s_c(t)), [B, T, blocks, block_size]
    gates: Tensor  # gate activations, [B, T, gates per block, blocks]; order: input, output, forget


class MemoryCellNetwork(nn.Module):
    """Input layer, a hidden layer of memory cell blocks with their gates, logistic output units.

    Hidden units are ordered: the cells (block by block), then the input gates, the output gates (if
    any) and the forget gates (if any), one gate of each kind per block. ``connectivity``:

    - ``"full"`` (Table 10, "F"): cells and gates receive connections from the input units and from
      all cells and gates (the hidden layer is fully recurrent); output units see only the cells.
    - ``"layered"`` (Table 10, "B", Experiments 2a/2b): each layer receives connections from all
      layers below (input -> hidden, input -> output, cells -> output); no recurrence but the CEC.

    ``bias`` says which units have bias weights (Table 10, column 12): ``"none"``, ``"gates"``
    ("ga"), ``"hidden"`` (cells and gates, "b1") or ``"all"`` (all non-input units).

    ``gradient="truncated"`` is the learning algorithm of Section 4 and Appendix A.1: errors
    arriving at the net inputs net_c, net_in, net_out (and net_phi) are not propagated further back
    in time, i.e. the derivatives d net(t) / d y^u(t-1) of every cell and gate with respect to every
    hidden activation y^u(t-1) are replaced by zero. Errors flow back in time only through the
    internal states s_c (the CEC), and into the weights of the connections. We cut exactly the
    recurrent path y^u(t-1) -> net(t) (a ``detach()``); kept are the path cell output -> output
    units at the same step and the carousel s_c(t-1) -> s_c(t). The gradient then equals the
    paper's RTRL-like update, eqs. (19)-(28). ``gradient="full"`` keeps the recurrent path: BPTT.

    For speed, the truncated networks run the recurrence once without autograd to get the
    hidden activations (in NumPy on the CPU, whose per-operation cost is a fraction of PyTorch's
    on these tiny matrices), then recompute every step at once with those activations as
    constants, the states as a cumulative sum over time (eq. (9): s_c(t) = s_c(t-1) + y^in(t)
    g(net_c(t))), or with forget gates as one loop over the states alone (``LeakyCarousel``).
    This gives the same values and the same truncated gradient as a step-by-step loop
    with ``detach()`` (the tests check both), at a fraction of the cost (``bench.py`` times it).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        n_blocks: int,
        block_size: int,
        *,
        connectivity: Connectivity = "full",
        bias: Bias = "all",
        output_gate: bool = True,
        forget_gate: bool = False,
        g: str = "logistic_pm2",
        h: str = "logistic_pm1",
        gradient: Gradient = "truncated",
        output_activation: OutputActivation = "logistic",
    ) -> None:
        super().__init__()
        for name, value in (
            ("n_in", n_in),
            ("n_out", n_out),
            ("n_blocks", n_blocks),
            ("block_size", block_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value}")
        check_choice("connectivity", connectivity, CONNECTIVITIES)
        check_choice("bias", bias, BIASES)
        check_choice("g", g, SQUASHINGS)
        check_choice("h", h, SQUASHINGS)
        check_choice("gradient", gradient, GRADIENTS)
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.n_in, self.n_out = n_in, n_out
        self.n_blocks, self.block_size = n_blocks, block_size
        self.connectivity, self.bias = connectivity, bias
        self.gate_names = ("input",) + ("output",) * output_gate + ("forget",) * forget_gate
        self.g_name, self.h_name = g, h
        self.g, self.h = SQUASHINGS[g], SQUASHINGS[h]
        self.gradient = gradient
        self.output_function = OUTPUT_FUNCTIONS[output_activation]
        # Experiments 2a/2b add the memory cell only once the error stops decreasing (Section 5.2,
        # "abuse problem: solution (1)"); until then the output units ignore it.
        self.memory_enabled = True

        n_cells, n_gates = n_blocks * block_size, len(self.gate_names) * n_blocks
        self.n_hidden = n_cells + n_gates
        self.weight_input = nn.Parameter(torch.empty(self.n_hidden, n_in))
        recurrent = connectivity == "full"
        self.weight_recurrent = (
            nn.Parameter(torch.empty(self.n_hidden, self.n_hidden)) if recurrent else None
        )
        self.bias_cells = nn.Parameter(torch.empty(n_cells)) if bias in ("hidden", "all") else None
        self.bias_gates = (
            nn.Parameter(torch.empty(len(self.gate_names), n_blocks)) if bias != "none" else None
        )
        self.weight_output = nn.Parameter(torch.empty(n_out, n_cells))
        self.weight_output_input = None if recurrent else nn.Parameter(torch.empty(n_out, n_in))
        self.bias_output = nn.Parameter(torch.empty(n_out)) if bias == "all" else None
        self.init_weights(0.1)

    @property
    def forget_gate(self) -> bool:
        return "forget" in self.gate_names

    def init_weights(
        self,
        init_range: float,
        *,
        input_gate_bias: tuple[float, ...] | None = None,
        output_gate_bias: tuple[float, ...] | None = None,
        forget_gate_bias: tuple[float, ...] | None = None,
    ) -> None:
        """All weights uniform in [-init_range, init_range] (Section 5); then, if given, one bias
        per block for each kind of gate (the negative gate biases of Section 4, "abuse problem" and
        "internal state drift"; values in Table 10)."""
        if init_range <= 0:
            raise ValueError(f"init_range must be positive; got {init_range}")
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-init_range, init_range)
            for name, values in (
                ("input", input_gate_bias),
                ("output", output_gate_bias),
                ("forget", forget_gate_bias),
            ):
                if values is None:
                    continue
                if name not in self.gate_names:
                    raise ValueError(f"{name}_gate_bias given, but the network has no {name} gate")
                if self.bias_gates is None:
                    raise ValueError(
                        f"{name}_gate_bias given, but bias={self.bias!r} has no gate biases"
                    )
                if len(values) != self.n_blocks:
                    raise ValueError(
                        f"{name}_gate_bias needs one value per block ({self.n_blocks}); "
                        f"got {values}"
                    )
                self.bias_gates[self.gate_names.index(name)] = torch.tensor(values)

    def forward(self, inputs: Tensor) -> Tensor:
        """Outputs y^k(t), [B, T, n_out], for inputs [B, T, n_in]."""
        return self.run(inputs).outputs

    def run(self, inputs: Tensor) -> Trajectory:
        """The forward pass of Appendix A.1, eqs. (6)-(9), for a batch of sequences."""
        if inputs.dim() != 3 or inputs.shape[-1] != self.n_in:
            raise ValueError(
                f"inputs must have shape [batch, time, {self.n_in}]; got {tuple(inputs.shape)}"
            )
        # The part of every net input that comes from the input units (and the biases).
        drive = F.linear(inputs, self.weight_input, self._hidden_bias())
        recurrent = self.weight_recurrent is not None
        if recurrent and self.gradient == "full":
            states, hidden = self._unroll(drive, truncate=False)
        else:
            net = drive
            if recurrent:
                hidden = self._hidden_trajectory(drive)
                # y^u(t-1) enters as a constant: the truncated paths of Appendix A.1.
                net = drive + F.linear(_previous(hidden), self.weight_recurrent)
            states, hidden = self._all_steps(net)
        n_cells = self.n_blocks * self.block_size
        cells = hidden[..., :n_cells]
        # Times zero, not zeros: every parameter stays in the graph (DDP requires it).
        seen = cells if self.memory_enabled else cells * 0.0
        net_out = F.linear(seen, self.weight_output, self.bias_output)
        if self.weight_output_input is not None:
            net_out = net_out + F.linear(inputs, self.weight_output_input)
        return Trajectory(
            outputs=self.output_function(net_out),
            states=states,
            cell_outputs=cells.unflatten(-1, (self.n_blocks, self.block_size)),
            gates=hidden[..., n_cells:].unflatten(-1, (len(self.gate_names), self.n_blocks)),
        )

    def _hidden_bias(self) -> Tensor | None:
        if self.bias_gates is None:
            return None
        cells = self.bias_cells
        if cells is None:
            cells = self.bias_gates.new_zeros(self.n_blocks * self.block_size)
        return torch.cat([cells, self.bias_gates.flatten()])

    def _activate(self, net: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Net inputs of the hidden units [..., H] -> the CEC input y^in g(net_c) [..., C, S], the
        gate activations [..., gates * C] and the same by kind of gate, each [..., C]."""
        n_cells = self.n_blocks * self.block_size
        y_gates = torch.sigmoid(net[..., n_cells:])  # gates are logistic, eqs. (7), (8)
        by_kind = y_gates.unflatten(-1, (len(self.gate_names), self.n_blocks)).unbind(-2)
        gates = dict(zip(self.gate_names, by_kind, strict=True))
        squashed = self.g(net[..., :n_cells].unflatten(-1, (self.n_blocks, self.block_size)))
        return gates["input"].unsqueeze(-1) * squashed, y_gates, gates

    def _hidden_activations(
        self, states: Tensor, y_gates: Tensor, gates: dict[str, Tensor]
    ) -> Tensor:
        """y^c = y^out h(s_c), eq. (9), followed by the gate activations: all y^u, [..., H]."""
        cells = self.h(states)
        if "output" in gates:
            cells = gates["output"].unsqueeze(-1) * cells
        return torch.cat([cells.flatten(-2), y_gates], dim=-1)

    def _all_steps(self, net: Tensor) -> tuple[Tensor, Tensor]:
        """All time steps at once from all net inputs [B, T, H]: the carousel's states, then every
        hidden activation."""
        increments, y_gates, gates = self._activate(net)
        if "forget" in gates:
            # s_c(t) = y^phi(t) s_c(t-1) + y^in(t) g(net_c(t)) (Gers et al. 2000)
            states = LeakyCarousel.apply(increments, gates["forget"].unsqueeze(-1))
        else:
            # s_c(t) = s_c(t-1) + y^in(t) g(net_c(t)) with s_c(0) = 0, eq. (9)
            states = torch.cumsum(increments, dim=1)
        return states, self._hidden_activations(states, y_gates, gates)

    def _hidden_trajectory(self, drive: Tensor) -> Tensor:
        """All hidden activations y^u(t), [B, T, H], without gradient."""
        if drive.device.type != "cpu":
            with torch.no_grad():
                return self._unroll(drive, truncate=True)[1]
        g, h = NUMPY_SQUASHINGS[self.g_name], NUMPY_SQUASHINGS[self.h_name]
        drive_np = drive.detach().numpy().transpose(1, 0, 2)  # time first: steps are contiguous
        weights = self.weight_recurrent.detach().numpy().T
        steps, batch, _ = drive_np.shape
        blocks, n_cells = self.n_blocks, self.n_blocks * self.block_size
        hidden = np.zeros((steps + 1, batch, self.n_hidden), dtype=drive_np.dtype)  # y(-1) = 0
        state = np.zeros((batch, blocks, self.block_size), dtype=drive_np.dtype)
        output_gate = "output" in self.gate_names
        forget = self.gate_names.index("forget") * blocks if self.forget_gate else None
        for t in range(steps):
            net = drive_np[t] + hidden[t] @ weights
            y = hidden[t + 1]
            y[:, n_cells:] = np_logistic(net[:, n_cells:])  # the gates, eqs. (7), (8)
            y_gates = y[:, n_cells:, None]
            if forget is not None:
                state *= y_gates[:, forget : forget + blocks]
            state += y_gates[:, :blocks] * g(net[:, :n_cells]).reshape(state.shape)  # eq. (9)
            cells = h(state)  # not in place: h may be the identity
            if output_gate:
                cells = y_gates[:, blocks : 2 * blocks] * cells
            y[:, :n_cells] = cells.reshape(batch, n_cells)
        return torch.from_numpy(hidden[1:].transpose(1, 0, 2))

    def _unroll(self, drive: Tensor, truncate: bool) -> tuple[Tensor, Tensor]:
        """Step-by-step recurrence; ``truncate`` cuts y^u(t-1) -> net(t) (Appendix A.1)."""
        batch, steps, _ = drive.shape
        state = drive.new_zeros(batch, self.n_blocks, self.block_size)
        previous = drive.new_zeros(batch, self.n_hidden)
        states, hidden = [], []
        for t in range(steps):
            recurrent = previous.detach() if truncate else previous
            net = drive[:, t]
            if self.weight_recurrent is not None:
                net = net + F.linear(recurrent, self.weight_recurrent)
            increment, y_gates, gates = self._activate(net)
            if "forget" in gates:
                state = gates["forget"].unsqueeze(-1) * state
            state = state + increment
            previous = self._hidden_activations(state, y_gates, gates)
            states.append(state)
            hidden.append(previous)
        return torch.stack(states, dim=1), torch.stack(hidden, dim=1)


class LeakyCarousel(torch.autograd.Function):
    """s(t) = f(t) s(t-1) + i(t), s(-1) = 0, over dim 1 of [B, T, ...], in one loop without
    autograd; backward carries the error back through the same multiplications:
    e_s(t) = dE/ds(t) + f(t+1) e_s(t+1), dE/di(t) = e_s(t), dE/df(t) = e_s(t) s(t-1).
    The forget gate's carousel for the truncated gradient, where errors flow back in time only
    through the states (a step-by-step autograd loop costs about ten times more)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, increments: Tensor, forget: Tensor):
        ctx.forget_shape = forget.shape  # may broadcast over the last dims (a gate per block)
        forget = forget.expand_as(increments)
        states = torch.empty_like(increments)
        state = torch.zeros_like(increments[:, 0])
        for t in range(increments.shape[1]):
            state = torch.addcmul(increments[:, t], forget[:, t], state)
            states[:, t] = state
        ctx.save_for_backward(states, forget)
        return states

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad_states: Tensor):
        states, forget = ctx.saved_tensors
        errors = torch.empty_like(grad_states)  # e_s(t)
        errors[:, -1] = error = grad_states[:, -1]
        for t in range(grad_states.shape[1] - 2, -1, -1):
            error = torch.addcmul(grad_states[:, t], forget[:, t + 1], error)
            errors[:, t] = error
        return errors, (errors * _previous(states)).sum_to_size(ctx.forget_shape)


def _previous(values: Tensor) -> Tensor:
    """x(t-1) for every t of [B, T, ...], with x(-1) = 0 (activations and states reset at the
    sequence start)."""
    return torch.cat([torch.zeros_like(values[:, :1]), values[:, :-1]], dim=1)


class TorchRecurrent(nn.Module):
    """A ``torch.nn.LSTM`` or ``torch.nn.RNN`` layer and one output layer; full BPTT."""

    def __init__(self, recurrent: nn.RNNBase, n_out: int, output_activation: OutputActivation):
        super().__init__()
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.recurrent = recurrent
        self.readout = nn.Linear(recurrent.hidden_size, n_out)
        self.output_function = OUTPUT_FUNCTIONS[output_activation]

    def forward(self, inputs: Tensor) -> Tensor:
        hidden, _ = self.recurrent(inputs)  # zero initial state for every sequence
        return self.output_function(self.readout(hidden))


def build_network(
    variant: str = "1997",
    *,
    n_in: int,
    n_out: int,
    n_blocks: int = 2,
    block_size: int = 2,
    connectivity: Connectivity = "full",
    bias: Bias = "all",
    output_gate: bool = True,
    g: str = "logistic_pm2",
    h: str = "logistic_pm1",
    gradient: Gradient = "truncated",
    init_range: float | None = 0.1,
    input_gate_bias: tuple[float, ...] | None = None,
    output_gate_bias: tuple[float, ...] | None = None,
    forget_gate_bias: tuple[float, ...] | None = None,
    hidden_size: int | None = None,
    output_activation: OutputActivation = "logistic",
) -> nn.Module:
    """One of the networks of this module (see the module docstring for ``variant``).

    The arguments from ``connectivity`` to ``forget_gate_bias`` describe the memory cell networks
    (``"1997"``, ``"forget_gate"``) and are ignored by ``"torch_lstm"`` and ``"tanh_rnn"``, so that
    one experiment's settings (``tasks.TaskSettings.network_kwargs()``) serve every variant. Those
    two have ``hidden_size`` units (default: as many as there are memory cells) and take all their
    weights uniform in [-init_range, init_range] (``None``: PyTorch's default).
    """
    check_choice("variant", variant, VARIANTS)
    if variant in ("1997", "forget_gate"):
        network = MemoryCellNetwork(
            n_in,
            n_out,
            n_blocks,
            block_size,
            connectivity=connectivity,
            bias=bias,
            output_gate=output_gate,
            forget_gate=variant == "forget_gate",
            g=g,
            h=h,
            gradient=gradient,
            output_activation=output_activation,
        )
        network.init_weights(
            0.1 if init_range is None else init_range,
            input_gate_bias=input_gate_bias,
            output_gate_bias=output_gate_bias,
            forget_gate_bias=forget_gate_bias if variant == "forget_gate" else None,
        )
        return network
    size = n_blocks * block_size if hidden_size is None else hidden_size
    if size < 1:
        raise ValueError(f"hidden_size must be a positive integer; got {size}")
    if variant == "torch_lstm":
        recurrent: nn.RNNBase = nn.LSTM(n_in, size, batch_first=True)
    else:
        recurrent = nn.RNN(n_in, size, nonlinearity="tanh", batch_first=True)
    network = TorchRecurrent(recurrent, n_out, output_activation)
    if init_range is not None:
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.uniform_(-init_range, init_range)
    return network


def hidden_size_for_weights(variant: str, n_in: int, n_out: int, n_weights: int) -> int:
    """The largest ``hidden_size`` of ``"torch_lstm"``/``"tanh_rnn"`` with at most ``n_weights``
    weights: baselines with the weight count of the paper's network (e.g. Table 10's "w")."""
    check_choice("variant", variant, ("torch_lstm", "tanh_rnn"))
    gates = 4 if variant == "torch_lstm" else 1

    def count(size: int) -> int:  # PyTorch's recurrent layers have two bias vectors
        return gates * size * (n_in + size + 2) + n_out * (size + 1)

    if count(1) > n_weights:
        raise ValueError(f"n_weights={n_weights} is below the smallest {variant} ({count(1)})")
    size = 1
    while count(size + 1) <= n_weights:
        size += 1
    return size


def squared_error(outputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Each sequence's error: 1/2 sum over target steps and output units of (t^k - y^k)^2, [B].

    Eq. (16) defines E(t) without the 1/2, but eq. (19) takes e_k = f'_k (t^k - y^k) as the error
    signal, i.e. the gradient of the halved error: with plain SGD at the paper's learning rates,
    minimise this sum (one sequence per update, "each weight's total update is the sum of the
    contributions of all time steps"). Averaging it over a batch is our batched-mode deviation.
    """
    if outputs.shape != targets.shape or mask.shape != outputs.shape[:2]:
        raise ValueError(
            f"outputs {tuple(outputs.shape)}, targets {tuple(targets.shape)} and mask "
            f"{tuple(mask.shape)} must be [B, T, n_out], [B, T, n_out] and [B, T]"
        )
    return 0.5 * ((targets - outputs) ** 2 * mask.unsqueeze(-1)).sum(dim=(1, 2))
