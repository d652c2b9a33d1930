"""Deep sigmoid net and the five initialisations of Bengio et al. 2007 (papers/greedy/model.py)."""

import copy

import pytest
import torch
import torch.nn.functional as F

from common.rbm import BENGIO_2007
from papers.greedy.model import (
    INITIALISATIONS,
    DeepSigmoidNet,
    GreedySupervised,
    StackedAutoAssociators,
    StackedRBMs,
    TiedAutoAssociator,
    hidden_sizes,
    make_network,
    make_pretrainer,
)

N_IN, HIDDEN, N_OUT = 6, (5, 4, 3), 3


pytestmark = pytest.mark.usefixtures("one_thread")


def batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, N_IN, generator=g), torch.randint(N_OUT, (n,), generator=g)


def parameters_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def test_experiment_sizes_of_table_2() -> None:
    assert hidden_sizes(2, 500) == (500, 500, 500)
    assert hidden_sizes(3, 1000) == (1000, 1000, 20)
    with pytest.raises(ValueError, match="experiment must be 2 or 3"):
        hidden_sizes(1)


def test_networks_for_each_table_2_row() -> None:
    assert INITIALISATIONS == ("dbn", "autoassociator", "supervised", "none", "shallow")
    deep = make_network("none", N_IN, HIDDEN, N_OUT)
    assert [layer.out_features for layer in deep.hidden] == list(HIDDEN)
    assert len(make_network("shallow", N_IN, (7,), N_OUT).hidden) == 1
    with pytest.raises(ValueError, match="'shallow' has exactly one hidden layer"):
        make_network("shallow", N_IN, HIDDEN, N_OUT)
    with pytest.raises(ValueError, match="initialisation must be one of 'dbn', "):
        make_network("pca", N_IN, HIDDEN, N_OUT)
    assert isinstance(make_pretrainer("dbn", N_IN, HIDDEN, N_OUT), StackedRBMs)
    assert isinstance(
        make_pretrainer("autoassociator", N_IN, HIDDEN, N_OUT), StackedAutoAssociators
    )
    assert isinstance(make_pretrainer("supervised", N_IN, HIDDEN, N_OUT), GreedySupervised)
    assert make_pretrainer("none", N_IN, HIDDEN, N_OUT) is None
    assert make_pretrainer("shallow", N_IN, (7,), N_OUT) is None
    with pytest.raises(ValueError, match="apply to initialisation 'dbn' only"):
        make_pretrainer("autoassociator", N_IN, HIDDEN, N_OUT, input_type="gaussian")


def test_deep_net_loss_and_error() -> None:
    torch.manual_seed(0)
    x, y = batch()
    net = DeepSigmoidNet(N_IN, HIDDEN, N_OUT)
    h = x
    for layer in net.hidden:
        h = torch.sigmoid(h @ layer.weight.T + layer.bias)
    logits = h @ net.output.weight.T + net.output.bias
    torch.testing.assert_close(net.loss(x, y), F.cross_entropy(logits, y))
    torch.testing.assert_close(net.error(x, y), (logits.argmax(1) != y).float().mean())
    regression = DeepSigmoidNet(N_IN, HIDDEN, 1, task="regression")
    target = torch.randn(8)
    squared_error = ((regression(x)[:, 0] - target) ** 2).mean()
    torch.testing.assert_close(regression.loss(x, target), squared_error)
    with pytest.raises(ValueError, match="task must be one of 'classification', 'regression'"):
        DeepSigmoidNet(N_IN, HIDDEN, N_OUT, task="ranking")


def test_stacked_rbms_initialise_the_net_with_their_mean_field_up_pass() -> None:
    torch.manual_seed(0)
    stack, net, (x, _) = StackedRBMs(N_IN, HIDDEN), DeepSigmoidNet(N_IN, HIDDEN, N_OUT), batch()
    stack.install(net)
    torch.testing.assert_close(net.features(x), stack.layer_input(3, x))
    with pytest.raises(ValueError, match="hidden layer 0 of the network has shape"):
        stack.install(DeepSigmoidNet(N_IN + 1, HIDDEN, N_OUT))


@pytest.mark.parametrize("layer", [0, 2])
def test_rbm_step_is_bengio_rbmupdate(layer: int) -> None:
    torch.manual_seed(0)
    stack, (x, _) = StackedRBMs(N_IN, HIDDEN), batch()
    rbm = copy.deepcopy(stack.rbms[layer])
    expected = rbm.contrastive_divergence(
        stack.layer_input(layer, x), 1, BENGIO_2007, generator=torch.Generator().manual_seed(1)
    )
    before = parameters_of(stack)
    stack.step(layer, x, learning_rate=0.3, generator=torch.Generator().manual_seed(1))
    for name, parameter in stack.named_parameters():
        prefix = f"rbms.{layer}."
        change = parameter.detach() - before[name]
        if name.startswith(prefix):
            torch.testing.assert_close(change, 0.3 * expected.gradients[name[len(prefix) :]])
        else:
            assert torch.equal(change, torch.zeros_like(change))


def test_partially_supervised_first_layer_adds_the_supervised_gradient() -> None:
    torch.manual_seed(0)
    stack, (x, y) = StackedRBMs(N_IN, HIDDEN, n_outputs=N_OUT), batch()
    rbm, output = copy.deepcopy(stack.rbms[0]), copy.deepcopy(stack.first_layer_output)
    cd = rbm.contrastive_divergence(x, 1, BENGIO_2007, generator=torch.Generator().manual_seed(2))
    loss = F.cross_entropy(output(torch.sigmoid(x @ rbm.W + rbm.hidden_bias)), y)
    supervised = torch.autograd.grad(loss, [rbm.W, rbm.hidden_bias, output.weight, output.bias])
    lr, supervised_lr = 0.01, 0.2
    before = parameters_of(stack)
    metrics = stack.step(0, x, y, lr, supervised_lr, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(metrics["supervised_loss"], loss.detach())
    change = {name: p.detach() - before[name] for name, p in stack.named_parameters()}
    torch.testing.assert_close(
        change["rbms.0.W"], lr * cd.gradients["W"] - supervised_lr * supervised[0]
    )
    torch.testing.assert_close(
        change["rbms.0.hidden_bias"],
        lr * cd.gradients["hidden_bias"] - supervised_lr * supervised[1],
    )
    torch.testing.assert_close(change["rbms.0.visible_bias"], lr * cd.gradients["visible_bias"])
    torch.testing.assert_close(change["first_layer_output.weight"], -supervised_lr * supervised[2])
    with pytest.raises(ValueError, match="needs targets y"):
        stack.step(0, x)


def test_gaussian_input_rbm_learns_d_and_accepts_real_inputs() -> None:
    torch.manual_seed(0)
    stack = make_pretrainer(
        "dbn",
        N_IN,
        HIDDEN[:2],
        1,
        task="regression",
        input_type="gaussian",
        partially_supervised=True,
    )
    assert stack.rbms[0].visible_type == "gaussian" and stack.rbms[1].visible_type == "binary"
    x, target = 3 * torch.randn(8, N_IN), torch.randn(8)
    d_before = stack.rbms[0].d.detach().clone()
    with torch.no_grad():  # squared error of the temporary linear output layer
        loss = F.mse_loss(
            stack.first_layer_output(stack.rbms[0].hidden_probabilities(x))[:, 0], target
        )
    metrics = stack.step(0, x, target, 0.01, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(stack.rbms[0].d.detach(), d_before)
    torch.testing.assert_close(metrics["supervised_loss"], loss)


def test_tied_autoassociator_reconstruction_and_loss() -> None:
    torch.manual_seed(0)
    aa, (x, _) = TiedAutoAssociator(N_IN, 4), batch()
    assert [name for name, _ in aa.named_parameters()] == ["W", "hidden_bias", "visible_bias"]
    p = torch.sigmoid(aa.visible_bias + torch.sigmoid(aa.hidden_bias + x @ aa.W) @ aa.W.T)
    torch.testing.assert_close(aa.reconstruct(x), p)
    cross_entropy = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1).mean()
    torch.testing.assert_close(aa.loss(x), cross_entropy)


def test_autoassociator_step_lowers_reconstruction_and_installs() -> None:
    torch.manual_seed(0)
    stack, (x, _) = StackedAutoAssociators(N_IN, HIDDEN), batch(32)
    before = parameters_of(stack)
    losses = [
        stack.step(1, x, learning_rate=0.05)["reconstruction_cross_entropy"] for _ in range(30)
    ]
    assert losses[-1] < losses[0]
    for name, parameter in stack.named_parameters():  # only auto-associator 1 moved
        assert torch.equal(parameter.detach(), before[name]) != name.startswith("layers.1.")
    net = DeepSigmoidNet(N_IN, HIDDEN, N_OUT)
    stack.install(net)
    torch.testing.assert_close(net.features(x), stack.layer_input(3, x))


def test_greedy_supervised_step_trains_one_layer_and_its_temporary_output() -> None:
    torch.manual_seed(0)
    pretrainer, (x, y) = GreedySupervised(N_IN, HIDDEN, N_OUT), batch()
    before = parameters_of(pretrainer)
    hidden, output = copy.deepcopy(pretrainer.hidden[1]), copy.deepcopy(pretrainer.outputs[1])
    loss = F.cross_entropy(output(torch.sigmoid(hidden(pretrainer.layer_input(1, x)))), y)
    expected = torch.autograd.grad(loss, [hidden.weight])[0]
    pretrainer.step(1, x, y, learning_rate=0.5)
    changed = {
        name
        for name, p in pretrainer.named_parameters()
        if not torch.equal(p.detach(), before[name])
    }
    assert changed == {"hidden.1.weight", "hidden.1.bias", "outputs.1.weight", "outputs.1.bias"}
    torch.testing.assert_close(
        pretrainer.hidden[1].weight.detach() - before["hidden.1.weight"], -0.5 * expected
    )
    net = DeepSigmoidNet(N_IN, HIDDEN, N_OUT)
    pretrainer.install(net)
    torch.testing.assert_close(net.features(x), pretrainer.layer_input(3, x))
