"""The 1997 LSTM network: forward pass, constant error carousel, truncated gradient, variants."""

import math

import pytest
import torch
import torch.nn.functional as F

from papers.lstm import tasks
from papers.lstm.model import (
    MemoryCellNetwork,
    build_network,
    hidden_size_for_weights,
    squared_error,
)


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def set_parameters(network: torch.nn.Module, **values: list) -> None:
    with torch.no_grad():
        for name, value in values.items():
            getattr(network, name).copy_(torch.tensor(value, dtype=torch.float32))


def one_cell_network(gradient: str = "truncated") -> MemoryCellNetwork:
    """1 input, one block of one cell (units: cell, input gate, output gate), 1 output."""
    network = MemoryCellNetwork(1, 1, 1, 1, connectivity="full", bias="all", gradient=gradient)
    set_parameters(
        network,
        weight_input=[[0.7], [-0.4], [0.9]],
        weight_recurrent=[[0.3, -0.6, 0.5], [0.8, 0.2, -0.7], [-0.5, 0.4, 0.6]],
        bias_cells=[0.1],
        bias_gates=[[0.2], [-0.3]],
        weight_output=[[1.5]],
        bias_output=[-0.2],
    )
    return network


def step_by_step(network: MemoryCellNetwork, inputs: torch.Tensor) -> torch.Tensor:
    """Outputs of the reference loop with ``detach()`` on y(t-1) -> net(t) (Appendix A.1)."""
    drive = F.linear(inputs, network.weight_input, network._hidden_bias())
    _, hidden = network._unroll(drive, truncate=network.gradient == "truncated")
    cells = hidden[..., : network.n_blocks * network.block_size]
    return torch.sigmoid(F.linear(cells, network.weight_output, network.bias_output))


def test_forward_of_one_block_matches_hand_computation():
    # One block of two cells. Cell 1: net_c = ln 3 x, so g = 4 * 0.75 - 2 = 1 at x = 1. Cell 2 gets
    # -ln 3 x: g = -1. Input gate bias ln 3: y_in = 0.75; output gate bias 0: y_out = 0.5.
    network = MemoryCellNetwork(1, 1, 1, 2, connectivity="full", bias="all")
    log3 = math.log(3.0)
    set_parameters(
        network,
        weight_input=[[log3], [-log3], [0.0], [0.0]],
        weight_recurrent=torch.zeros(4, 4).tolist(),
        bias_cells=[0.0, 0.0],
        bias_gates=[[log3], [0.0]],
        weight_output=[[2.0, 1.0]],
        bias_output=[0.0],
    )
    run = network.run(torch.tensor([[[1.0], [0.0]]]))
    # s(1) = y_in g = +-0.75; at t = 2 the cell input is g(0) = 0, so the states are kept.
    expected_states = torch.tensor([[[0.75, -0.75]], [[0.75, -0.75]]])
    torch.testing.assert_close(run.states[0], expected_states)
    torch.testing.assert_close(run.gates[0, :, :, 0], torch.tensor([[0.75, 0.5]] * 2))
    # y_c = y_out h(s) = 0.5 (2 sig(+-0.75) - 1) = +-0.5 tanh(0.375); y_k = sig(2 y_c1 + y_c2).
    cell = 0.5 * math.tanh(0.375)
    torch.testing.assert_close(run.cell_outputs[0, 0, 0], torch.tensor([cell, -cell]))
    torch.testing.assert_close(run.outputs[0, :, 0], torch.tensor([sig(cell)] * 2))


def hand_forward(x: list[float]) -> list[dict]:
    """The forward pass of eqs. (3)-(9) in scalars, for ``one_cell_network``."""
    w_x, b, w_k, b_k = [0.7, -0.4, 0.9], [0.1, 0.2, -0.3], 1.5, -0.2
    w_h = [[0.3, -0.6, 0.5], [0.8, 0.2, -0.7], [-0.5, 0.4, 0.6]]
    previous, state, steps = [0.0, 0.0, 0.0], 0.0, []
    for x_t in x:
        source = [x_t] + previous + [1.0]  # input unit, y_c, y_in, y_out at t-1, bias
        net = [
            w_x[i] * x_t + sum(w_h[i][u] * previous[u] for u in range(3)) + b[i] for i in range(3)
        ]
        y_in, y_out = sig(net[1]), sig(net[2])
        state += y_in * (4 * sig(net[0]) - 2)
        y_c = y_out * (2 * sig(state) - 1)
        y_k = sig(w_k * y_c + b_k)
        steps.append(dict(net=net, source=source, y_in=y_in, y_out=y_out, s=state, y_c=y_c, y=y_k))
        previous = [y_c, y_in, y_out]
    return steps


def test_truncated_gradient_matches_appendix_formulas_on_two_steps():
    x, target = [1.0, -0.8], 0.9
    network = one_cell_network("truncated")
    inputs = torch.tensor(x).view(1, 2, 1)
    outputs = network(inputs)
    steps = hand_forward(x)
    torch.testing.assert_close(outputs[0, :, 0], torch.tensor([s["y"] for s in steps]))

    # Error at step 2 only. Eqs. (19), (21), (23), (25), (27) with E = 1/2 (d - y)^2.
    last = steps[1]
    e_k = last["y"] * (1 - last["y"]) * (target - last["y"])
    e_out = sig(last["net"][2]) * (1 - sig(last["net"][2])) * (2 * sig(last["s"]) - 1) * 1.5 * e_k
    h_prime = 2 * sig(last["s"]) * (1 - sig(last["s"]))
    e_s = last["y_out"] * h_prime * 1.5 * e_k
    # The CEC carries ds/dw from step 1 to step 2; the sources y(t-1) are not differentiated.
    ds_dw_in = [
        sum(
            (4 * sig(s["net"][0]) - 2) * sig(s["net"][1]) * (1 - sig(s["net"][1])) * s["source"][m]
            for s in steps
        )
        for m in range(5)
    ]
    ds_dw_c = [
        sum(
            4 * sig(s["net"][0]) * (1 - sig(s["net"][0])) * s["y_in"] * s["source"][m]
            for s in steps
        )
        for m in range(5)
    ]
    # dE/dw = -(error) x (source); rows: cell, input gate, output gate; columns: input, y(t-1), bias
    expected = torch.tensor(
        [
            [-e_s * d for d in ds_dw_c],
            [-e_s * d for d in ds_dw_in],
            [-e_out * m for m in last["source"]],
        ]
    )

    mask = torch.tensor([[False, True]])
    squared_error(outputs, torch.full((1, 2, 1), target), mask).sum().backward()
    torch.testing.assert_close(network.weight_input.grad[:, 0], expected[:, 0])
    torch.testing.assert_close(network.weight_recurrent.grad, expected[:, 1:4])
    torch.testing.assert_close(network.bias_cells.grad, expected[0:1, 4])
    torch.testing.assert_close(network.bias_gates.grad[:, 0], expected[1:, 4])
    torch.testing.assert_close(network.weight_output.grad, torch.tensor([[-e_k * last["y_c"]]]))
    torch.testing.assert_close(network.bias_output.grad, torch.tensor([-e_k]))


def gradients(network: torch.nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    network.zero_grad()
    network(inputs)[:, -1].sum().backward()
    return {name: p.grad.clone() for name, p in network.named_parameters()}


def test_full_bptt_differs_from_truncated_only_through_recurrent_paths():
    inputs = torch.tensor([[[1.0], [-0.8]]])
    truncated = gradients(one_cell_network("truncated"), inputs)
    full = gradients(one_cell_network("full"), inputs)
    # Full BPTT also follows y(1) -> net(2) back to the weights that made y(1): the input weights
    # and biases of cells and gates. The recurrent weights did not act on y(1) (y(0) = 0), and
    # nothing is cut between the cells and the output units: there both gradients agree.
    for name in ("weight_input", "bias_cells", "bias_gates"):
        assert (truncated[name] - full[name]).abs().min() > 1e-5, name
    for name in ("weight_recurrent", "weight_output", "bias_output"):
        torch.testing.assert_close(truncated[name], full[name])
    # With one step, or without recurrent weights, nothing is cut and both agree.
    one_step = inputs[:, :1]
    for a, b in zip(
        gradients(one_cell_network("truncated"), one_step).values(),
        gradients(one_cell_network("full"), one_step).values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
    networks = one_cell_network("truncated"), one_cell_network("full")
    for network in networks:
        set_parameters(network, weight_recurrent=torch.zeros(3, 3).tolist())
    for a, b in zip(*(gradients(n, inputs).values() for n in networks), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    ("variant", "forget_gate_bias"), [("1997", None), ("forget_gate", (1.0, -0.5))]
)
def test_fast_truncated_pass_equals_step_by_step_detach(variant, forget_gate_bias):
    # The forget gate's carousel (LeakyCarousel) has a hand-written backward; the 1997 one is a
    # cumulative sum. Both must give the loop's values and truncated gradient.
    torch.manual_seed(0)
    network = build_network(
        variant,
        n_in=3,
        n_out=2,
        n_blocks=2,
        block_size=2,
        init_range=0.5,
        forget_gate_bias=forget_gate_bias,
    )
    inputs = torch.randn(4, 30, 3)
    fast = network(inputs)
    loop = step_by_step(network, inputs)
    torch.testing.assert_close(fast, loop)
    fast_grads = torch.autograd.grad(fast.sum(), list(network.parameters()))
    loop_grads = torch.autograd.grad(loop.sum(), list(network.parameters()))
    for a, b in zip(fast_grads, loop_grads, strict=True):
        torch.testing.assert_close(a, b)
    # Full BPTT computes the same values.
    network.gradient = "full"
    torch.testing.assert_close(network(inputs), fast)


@pytest.mark.parametrize("gradient", ["truncated", "full"])
def test_carousel_keeps_the_state_exactly_without_input(gradient):
    torch.manual_seed(1)
    network = build_network(
        "1997", n_in=2, n_out=1, n_blocks=2, block_size=2, init_range=0.5, gradient=gradient
    )
    with torch.no_grad():  # cells see only the input units (and no bias): g(0) = 0 without input
        network.weight_recurrent[:4] = 0.0
        network.bias_cells.zero_()
    inputs = torch.zeros(2, 1000, 2)
    inputs[:, 0] = torch.tensor([[1.0, -0.5], [0.3, 0.8]])
    states = network.run(inputs).states
    assert states[:, 0].abs().min() > 0.01
    assert torch.equal(states, states[:, :1].expand_as(states))


def test_error_flows_back_through_the_carousel_unscaled():
    # The derivative of s(T) with respect to a weight that acted at step 1 is the same for T = 1000
    # as for T = 1: constant error flow through the CEC (Appendix A.2, eq. (35)).
    torch.manual_seed(2)
    network = build_network("1997", n_in=1, n_out=1, n_blocks=1, block_size=1, init_range=0.5)
    with torch.no_grad():
        network.weight_recurrent[0] = 0.0
        network.bias_cells.zero_()
    inputs = torch.zeros(1, 1000, 1)
    inputs[0, 0, 0] = 1.0
    states = network.run(inputs).states[0, :, 0, 0]
    first = torch.autograd.grad(states[0], network.weight_input, retain_graph=True)[0]
    last = torch.autograd.grad(states[-1], network.weight_input)[0]
    assert first[0, 0] != 0
    torch.testing.assert_close(last, first)


def test_batched_padded_sequences_equal_one_at_a_time():
    torch.manual_seed(3)
    network = build_network("1997", n_in=2, n_out=1, n_blocks=2, block_size=2, init_range=0.5)
    long, short = torch.randn(1, 12, 2), torch.randn(1, 7, 2)
    batch = torch.cat([long, F.pad(short, (0, 0, 0, 5))])
    targets = torch.rand(2, 12, 1)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0, 11], mask[1, 6] = True, True
    outputs = network(batch)
    torch.testing.assert_close(outputs[0], network(long)[0])
    torch.testing.assert_close(outputs[1, :7], network(short)[0])
    together = torch.autograd.grad(
        squared_error(outputs, targets, mask).sum(), list(network.parameters())
    )
    alone = [
        torch.autograd.grad(
            squared_error(
                network(x), targets[i : i + 1, : x.shape[1]], mask[i : i + 1, : x.shape[1]]
            ).sum(),
            list(network.parameters()),
        )
        for i, x in enumerate([long, short])
    ]
    for total, a, b in zip(together, *alone, strict=True):
        torch.testing.assert_close(total, a + b)


TABLE_10_WEIGHTS = [  # task, variation, "w" of Table 10
    ("1", {"n_blocks": 4, "block_size": 1}, 264),
    ("1", {}, 276),
    ("2a", {}, 10504),
    ("2b", {}, 10504),
    ("2c", {"q": 50, "p": 50}, 364),
    ("2c", {}, 664),
    ("2c", {"q": 1000, "p": 1000}, 6064),
    ("2c", {"q": 1000, "p": 500}, 3064),
    ("3a", {}, 102),
    ("3c", {}, 102),
    ("4", {"T": 1000}, 93),
    ("5", {}, 93),
    ("6a", {}, 156),
    ("6b", {}, 308),
]


@pytest.mark.parametrize("task,variation,weights", TABLE_10_WEIGHTS)
def test_networks_have_the_weight_counts_of_table_10(task, variation, weights):
    settings = tasks.task_settings(task, **variation)
    network = build_network("1997", **settings.network_kwargs())
    assert sum(p.numel() for p in network.parameters()) == weights


def test_initial_weights_and_gate_biases_follow_the_settings():
    settings = tasks.SETTINGS["3a"]
    network = build_network("1997", **settings.network_kwargs())
    torch.testing.assert_close(
        network.bias_gates, torch.tensor([[-1.0, -3.0, -5.0], [-2.0, -4.0, -6.0]])
    )
    others = [p for name, p in network.named_parameters() if name != "bias_gates"]
    assert all(p.abs().max() <= 0.1 for p in others)
    assert max(p.abs().max() for p in others) > 0.05


def test_layered_network_without_memory_sees_only_the_inputs():
    settings = tasks.task_settings("2a", p=5)
    network = build_network("1997", **settings.network_kwargs())
    assert network.gate_names == ("input",)
    inputs = torch.eye(6)[torch.tensor([[5, 0, 1, 2, 3]])]
    network.memory_enabled = False
    expected = torch.sigmoid(inputs @ network.weight_output_input.T)
    torch.testing.assert_close(network(inputs), expected)
    network.memory_enabled = True
    # h is the identity and there is no output gate: y_c = s, and g is the logistic function.
    run = network.run(inputs)
    torch.testing.assert_close(run.cell_outputs, run.states)
    drive = inputs @ network.weight_input.T
    increments = torch.sigmoid(drive[..., 1]) * torch.sigmoid(drive[..., 0])
    torch.testing.assert_close(run.states[..., 0, 0], increments.cumsum(1))


def test_forget_gate_variant_reduces_to_1997_when_the_forget_gates_stay_open():
    torch.manual_seed(4)
    original = build_network("1997", n_in=2, n_out=1, n_blocks=2, block_size=1, init_range=0.3)
    forgetting = build_network(
        "forget_gate",
        n_in=2,
        n_out=1,
        n_blocks=2,
        block_size=1,
        init_range=0.3,
        forget_gate_bias=(40.0, 40.0),
    )
    assert forgetting.gate_names == ("input", "output", "forget")
    with torch.no_grad():
        h = original.n_hidden  # the forget gates come last, as units and as sources
        forgetting.weight_input[:h] = original.weight_input
        forgetting.weight_recurrent[:h, :h] = original.weight_recurrent
        forgetting.weight_recurrent[:, h:] = 0.0
        forgetting.bias_cells.copy_(original.bias_cells)
        forgetting.bias_gates[:2] = original.bias_gates
        for name in ("weight_output", "bias_output"):
            getattr(forgetting, name).copy_(getattr(original, name))
    inputs = torch.randn(3, 20, 2)
    torch.testing.assert_close(forgetting(inputs), original(inputs))
    # Closed forget gates: a state stored at step 1 is gone at step 2 (the 1997 cell keeps it).
    with torch.no_grad():
        forgetting.bias_gates[2] = -40.0
        forgetting.weight_recurrent[:2] = 0.0  # the two cells see only the input units
        forgetting.bias_cells.zero_()
    inputs = torch.zeros(1, 5, 2)
    inputs[0, 0] = torch.tensor([1.0, -1.0])
    states = forgetting.run(inputs).states[0]
    assert states[0].abs().min() > 0.01
    assert states[1:].abs().max() < 1e-6


@pytest.mark.parametrize("variant", ["torch_lstm", "tanh_rnn"])
def test_modern_variants_are_causal_and_start_from_zero(variant):
    torch.manual_seed(5)
    network = build_network(variant, n_in=3, n_out=2, hidden_size=5, init_range=0.3)
    inputs = torch.randn(2, 10, 3)
    outputs = network(inputs)
    assert outputs.shape == (2, 10, 2) and outputs.min() > 0 and outputs.max() < 1
    changed = inputs.clone()
    changed[:, 6:] = torch.randn(2, 4, 3)
    torch.testing.assert_close(network(changed)[:, :6], outputs[:, :6])
    # Each sequence starts from the zero state, whatever came before.
    torch.testing.assert_close(network(inputs[1:])[0], outputs[1])
    linear = build_network(variant, n_in=3, n_out=2, output_activation="linear")
    assert linear.recurrent.hidden_size == 4  # default: n_blocks * block_size memory cells


@pytest.mark.parametrize("variant", ["torch_lstm", "tanh_rnn"])
def test_hidden_size_for_weights_gives_the_largest_network_within_the_budget(variant):
    size = hidden_size_for_weights(variant, n_in=2, n_out=1, n_weights=93)

    def count(hidden: int) -> int:
        net = build_network(variant, n_in=2, n_out=1, hidden_size=hidden)
        return sum(p.numel() for p in net.parameters())

    assert count(size) <= 93 < count(size + 1)
    with pytest.raises(ValueError, match="n_weights"):
        hidden_size_for_weights(variant, n_in=2, n_out=1, n_weights=5)


def test_squared_error_is_half_the_masked_sum():
    outputs = torch.tensor([[[0.2, 0.6], [0.5, 0.5]], [[1.0, 0.0], [0.3, 0.9]]])
    targets = torch.tensor([[[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    mask = torch.tensor([[True, False], [True, True]])
    expected = torch.tensor([0.5 * (0.04 + 0.16), 0.5 * (0.09 + 0.01)])
    torch.testing.assert_close(squared_error(outputs, targets, mask), expected)
    with pytest.raises(ValueError, match="mask"):
        squared_error(outputs, targets, mask[:, :1])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"variant": "gru"}, "variant must be one of '1997', 'forget_gate'"),
        ({"connectivity": "sparse"}, "connectivity must be one of 'full', 'layered'"),
        ({"bias": "some"}, "bias must be one of"),
        ({"g": "tanh"}, "g must be one of 'logistic'"),
        ({"gradient": "rtrl"}, "gradient must be one of 'truncated', 'full'"),
        ({"input_gate_bias": (-1.0,)}, r"one value per block \(2\)"),
        ({"bias": "none", "input_gate_bias": (-1.0, -2.0)}, "has no gate biases"),
        ({"output_gate": False, "output_gate_bias": (-1.0, -2.0)}, "no output gate"),
        ({"n_blocks": 0}, "n_blocks must be a positive integer"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    kwargs = {"variant": "1997", "n_in": 2, "n_out": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        build_network(**kwargs)


def test_inputs_of_the_wrong_shape_are_rejected():
    network = build_network("1997", n_in=2, n_out=1)
    with pytest.raises(ValueError, match=r"\[batch, time, 2\]"):
        network(torch.zeros(3, 2))
