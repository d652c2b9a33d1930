"""Bengio, Lamblin, Popovici & Larochelle 2007, "Greedy layer-wise training of deep networks".

A deep network of sigmoid hidden layers with an output layer on top is trained by supervised
gradient descent after one of five initialisations (Table 2 rows):

    "dbn"             stacked RBMs trained greedily with CD-1 (Appendix, TrainUnsupervisedDBN)
    "autoassociator"  stacked auto-associators with tied weights and cross-entropy loss
    "supervised"      greedy supervised pre-training, one layer at a time
    "none"            random initialisation of the same deep network
    "shallow"         a network with a single hidden layer, random initialisation

Table 1 adds Gaussian visible units for continuous inputs and partially supervised training of
the first layer (Table 1 rows 4 and 6; Appendix, TrainPartiallySupervisedLayer). Every
pre-trainer offers ``step(layer, x, y, ...)`` for one minibatch and ``install(net)`` to copy its
layers into a :class:`DeepSigmoidNet`; the loops over epochs and layers belong to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.checks import check_choice
from common.rbm import BENGIO_2007, RBM, VISIBLE_TYPES, momentum_update

INITIALISATIONS = ("dbn", "autoassociator", "supervised", "none", "shallow")  # Table 2
TASKS = ("classification", "regression")
EXPERIMENT_3_TOP_UNITS = 20  # Table 2, Experiment 3: the top hidden layer has 20 units


def hidden_sizes(experiment: int, width: int = 500, depth: int = 3) -> tuple[int, ...]:
    """``depth`` hidden layers of ``width`` units (Table 2: three; Experiment 2: 500-1000 units
    chosen on validation; Table 1: two), or the same with a 20-unit top layer (Experiment 3)."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1 hidden layer; got {depth}")
    if experiment == 2:
        return (width,) * depth
    if experiment == 3:
        return (width,) * (depth - 1) + (EXPERIMENT_3_TOP_UNITS,)
    raise ValueError(f"experiment must be 2 or 3 (Table 2); got {experiment}")


def supervised_loss(prediction: Tensor, y: Tensor, task: str) -> Tensor:
    """Negative log-likelihood of the class (softmax output) or squared error (linear output)."""
    if task == "classification":
        return F.cross_entropy(prediction, y)
    return F.mse_loss(prediction.squeeze(-1) if y.dim() == 1 else prediction, y)


class DeepSigmoidNet(nn.Module):
    """Sigmoid hidden layers and an output layer: softmax for classification, linear for
    regression. PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), is the random
    initialisation [the paper does not state its own]."""

    def __init__(
        self, n_inputs: int, hidden: Sequence[int], n_outputs: int, task: str = "classification"
    ) -> None:
        super().__init__()
        check_choice("task", task, TASKS)
        if len(hidden) < 1:
            raise ValueError("hidden must list at least one hidden layer size")
        self.task = task
        sizes = (n_inputs, *hidden)
        self.hidden = nn.ModuleList(
            [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.output = nn.Linear(sizes[-1], n_outputs)

    def features(self, x: Tensor) -> Tensor:
        """Top hidden layer: the mean-field (deterministic) up-pass."""
        for layer in self.hidden:
            x = torch.sigmoid(layer(x))
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Class logits or regression predictions."""
        return self.output(self.features(x))

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        """The supervised fine-tuning criterion."""
        return supervised_loss(self(x), y, self.task)

    def error(self, x: Tensor, y: Tensor) -> Tensor:
        """Classification error rate, or mean squared error for regression (Tables 1 and 2)."""
        with torch.no_grad():
            prediction = self(x)
            if self.task == "classification":
                return (prediction.argmax(-1) != y).float().mean()
            return supervised_loss(prediction, y, self.task)


def _install_layer(net: DeepSigmoidNet, layer: int, weight: Tensor, bias: Tensor) -> None:
    """Copy (n_in, n_out) weights and n_out biases into hidden layer ``layer`` of ``net``."""
    target = net.hidden[layer]
    if target.weight.shape != weight.T.shape:
        raise ValueError(
            f"hidden layer {layer} of the network has shape "
            f"{tuple(target.weight.T.shape)}; the pre-trained layer has "
            f"{tuple(weight.shape)}"
        )
    with torch.no_grad():
        target.weight.copy_(weight.T)
        target.bias.copy_(bias)


def _sgd(parameters: Sequence[nn.Parameter], loss: Tensor, learning_rate: float) -> None:
    """Plain gradient descent on ``loss``, as in the Appendix's pseudo-code."""
    grads = torch.autograd.grad(loss, parameters)
    with torch.no_grad():
        for parameter, grad in zip(parameters, grads, strict=True):
            parameter.sub_(learning_rate * grad)


def _layer_sizes(n_inputs: int, hidden: Sequence[int]) -> list[tuple[int, int]]:
    sizes = (n_inputs, *hidden)
    return list(zip(sizes[:-1], sizes[1:], strict=True))


class StackedRBMs(nn.Module):
    """Greedy unsupervised DBN pre-training: one RBM per hidden layer, CD-1 as in RBMupdate.

    ``input_type="gaussian"`` gives the first RBM Gaussian visible units (Table 1, rows 5-6).
    ``n_outputs > 0`` turns on partially supervised training of the first layer (Table 1
    rows 4 and 6) through a temporary output layer that is discarded afterwards.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        input_type: str = "binary",
        n_outputs: int = 0,
        task: str = "classification",
    ) -> None:
        super().__init__()
        check_choice("input_type", input_type, VISIBLE_TYPES)
        check_choice("task", task, TASKS)
        self.task = task
        self.rbms = nn.ModuleList(
            [
                RBM(a, b, visible_type=input_type if i == 0 else "binary")
                for i, (a, b) in enumerate(_layer_sizes(n_inputs, hidden))
            ]
        )
        self.first_layer_output = nn.Linear(hidden[0], n_outputs) if n_outputs else None

    def layer_input(self, layer: int, x: Tensor) -> Tensor:
        """Mean-field up-pass through the RBMs below ``layer`` (Appendix)."""
        with torch.no_grad():
            for rbm in self.rbms[:layer]:
                x = rbm.hidden_probabilities(x)
        return x

    def step(
        self,
        layer: int,
        x: Tensor,
        y: Tensor | None = None,
        learning_rate: float = 0.01,
        supervised_learning_rate: float | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One RBMupdate (CD-1) of RBM ``layer``; for the first layer of a partially supervised
        stack, also one gradient step on the supervised loss of sigm(b + W x) through the
        temporary output layer (TrainPartiallySupervisedLayer), which moves W, b and that layer.
        """
        rbm = self.rbms[layer]
        v = self.layer_input(layer, x)
        result = rbm.contrastive_divergence(v, 1, BENGIO_2007, generator=generator)
        metrics = {"reconstruction_error": rbm.reconstruction_error(v, generator)}
        supervised = layer == 0 and self.first_layer_output is not None
        if supervised:
            if y is None:
                raise ValueError("partially supervised first-layer training needs targets y")
            rate = learning_rate if supervised_learning_rate is None else supervised_learning_rate
            output = self.first_layer_output
            loss = supervised_loss(output(rbm.hidden_probabilities(v)), y, self.task)
            parameters = [rbm.W, rbm.hidden_bias, output.weight, output.bias]
            grads = torch.autograd.grad(loss, parameters)
            metrics["supervised_loss"] = loss.detach()
        momentum_update(rbm, result.gradients, None, learning_rate)
        if supervised:
            with torch.no_grad():
                for parameter, grad in zip(parameters, grads, strict=True):
                    parameter.sub_(rate * grad)
        return metrics

    def install(self, net: DeepSigmoidNet) -> None:
        for layer, rbm in enumerate(self.rbms):
            _install_layer(net, layer, rbm.W, rbm.hidden_bias)


class TiedAutoAssociator(nn.Module):
    """p(x) = sigm(c + W' sigm(b + W x)) with tied weights (Bengio et al. 2007), W stored as
    (n_in, n_hidden) like the RBM's; trained on the reconstruction cross-entropy."""

    def __init__(self, n_in: int, n_hidden: int) -> None:
        super().__init__()
        bound = n_in**-0.5
        self.W = nn.Parameter(torch.empty(n_in, n_hidden).uniform_(-bound, bound))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))  # b
        self.visible_bias = nn.Parameter(torch.zeros(n_in))  # c

    def encode(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x @ self.W + self.hidden_bias)

    def reconstruct(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.encode(x) @ self.W.T + self.visible_bias)

    def loss(self, x: Tensor) -> Tensor:
        """-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)], mean over the batch; x in [0, 1]."""
        logits = self.encode(x) @ self.W.T + self.visible_bias
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


class StackedAutoAssociators(nn.Module):
    """Greedy pre-training with one tied auto-associator per hidden layer (Table 2, row 2)."""

    def __init__(self, n_inputs: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [TiedAutoAssociator(a, b) for a, b in _layer_sizes(n_inputs, hidden)]
        )

    def layer_input(self, layer: int, x: Tensor) -> Tensor:
        with torch.no_grad():
            for below in self.layers[:layer]:
                x = below.encode(x)
        return x

    def step(
        self, layer: int, x: Tensor, y: Tensor | None = None, learning_rate: float = 0.01
    ) -> dict[str, Tensor]:
        """One gradient step on the reconstruction cross-entropy of auto-associator ``layer``."""
        aa = self.layers[layer]
        loss = aa.loss(self.layer_input(layer, x))
        _sgd(list(aa.parameters()), loss, learning_rate)
        return {"reconstruction_cross_entropy": loss.detach()}

    def install(self, net: DeepSigmoidNet) -> None:
        for layer, aa in enumerate(self.layers):
            _install_layer(net, layer, aa.W, aa.hidden_bias)


class GreedySupervised(nn.Module):
    """Greedy supervised pre-training (Table 2, row 3): hidden layer ``l`` is trained as the only
    hidden layer of a supervised net whose input is the output of the (fixed) layers below;
    its temporary output layer is then thrown away."""

    def __init__(
        self, n_inputs: int, hidden: Sequence[int], n_outputs: int, task: str = "classification"
    ) -> None:
        super().__init__()
        check_choice("task", task, TASKS)
        self.task = task
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in _layer_sizes(n_inputs, hidden)])
        self.outputs = nn.ModuleList([nn.Linear(b, n_outputs) for b in hidden])

    def layer_input(self, layer: int, x: Tensor) -> Tensor:
        with torch.no_grad():
            for below in self.hidden[:layer]:
                x = torch.sigmoid(below(x))
        return x

    def step(
        self, layer: int, x: Tensor, y: Tensor, learning_rate: float = 0.01
    ) -> dict[str, Tensor]:
        """One gradient step on the supervised loss of the one-hidden-layer net at ``layer``."""
        hidden, output = self.hidden[layer], self.outputs[layer]
        prediction = output(torch.sigmoid(hidden(self.layer_input(layer, x))))
        loss = supervised_loss(prediction, y, self.task)
        _sgd([*hidden.parameters(), *output.parameters()], loss, learning_rate)
        return {"supervised_loss": loss.detach()}

    def install(self, net: DeepSigmoidNet) -> None:
        for layer, linear in enumerate(self.hidden):
            _install_layer(net, layer, linear.weight.T, linear.bias)


Pretrainer = StackedRBMs | StackedAutoAssociators | GreedySupervised


def make_network(
    initialisation: str,
    n_inputs: int,
    hidden: Sequence[int],
    n_outputs: int,
    task: str = "classification",
) -> DeepSigmoidNet:
    """The network to fine-tune for a Table 2 row; "shallow" must have one hidden layer."""
    check_choice("initialisation", initialisation, INITIALISATIONS)
    if initialisation == "shallow" and len(hidden) != 1:
        raise ValueError(
            f"initialisation 'shallow' has exactly one hidden layer; got {tuple(hidden)}"
        )
    return DeepSigmoidNet(n_inputs, hidden, n_outputs, task)


def make_pretrainer(
    initialisation: str,
    n_inputs: int,
    hidden: Sequence[int],
    n_outputs: int,
    task: str = "classification",
    input_type: str = "binary",
    partially_supervised: bool = False,
) -> Pretrainer | None:
    """The layer-wise pre-trainer of a Table 2 row (None for "none" and "shallow").

    ``input_type`` and ``partially_supervised`` apply to "dbn" only (Table 1 rows 3-6).
    """
    check_choice("initialisation", initialisation, INITIALISATIONS)
    if initialisation != "dbn" and (input_type != "binary" or partially_supervised):
        raise ValueError(
            "input_type and partially_supervised apply to initialisation 'dbn' "
            f"only; got initialisation {initialisation!r}"
        )
    if initialisation == "dbn":
        return StackedRBMs(
            n_inputs, hidden, input_type, n_outputs if partially_supervised else 0, task
        )
    if initialisation == "autoassociator":
        return StackedAutoAssociators(n_inputs, hidden)
    if initialisation == "supervised":
        return GreedySupervised(n_inputs, hidden, n_outputs, task)
    return None
