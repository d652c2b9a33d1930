"""Generator, maxout discriminator and the adversarial losses (Goodfellow et al. 2014).

Defaults are the authors' MNIST configuration (goodfeli/adversarial ``mnist.yaml``):
G: z (100, Gaussian) -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights U(-0.05, 0.05),
output bias initialised from the data marginals;
D: x (784) -> maxout 240x5 -> maxout 240x5 -> sigmoid, weights U(-0.005, 0.005), dropout on
the input of every layer with include probability 0.8 (first layer) and 0.5 (the others).

Losses take D's logits l, with D(x) = sigmoid(l), so that log D = logsigmoid(l) and
log(1 - D) = logsigmoid(-l) stay finite when D saturates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.checks import check_choice

NOISE = ("gaussian", "uniform")
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}
GENERATOR_OBJECTIVES = ("non_saturating", "minimax")


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1]; got {value}")


def init_uniform_(linear: nn.Linear, irange: float) -> nn.Linear:
    """Pylearn2's ``irange`` initialisation: weights U(-irange, irange), biases zero."""
    if irange <= 0:
        raise ValueError(f"irange must be positive; got {irange}")
    nn.init.uniform_(linear.weight, -irange, irange)
    nn.init.zeros_(linear.bias)
    return linear


def sigmoid_bias_from_marginals(data: Tensor, eps: float = 1e-7) -> Tensor:
    """Bias b with sigmoid(b) equal to the per-pixel mean of ``data`` (values in [0, 1]).

    As pylearn2's ``init_sigmoid_bias_from_marginals``: means clipped to [eps, 1 - eps].
    """
    data = data.flatten(1).double()
    if data.min() < 0 or data.max() > 1:
        raise ValueError("data must lie in [0, 1] to initialise a sigmoid bias from marginals")
    return torch.logit(data.mean(0).clamp(eps, 1 - eps)).float()


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): h_j = max_k (x W + b)_{j k}.

    One linear map produces num_units * num_pieces values; unit j takes the maximum over its
    own num_pieces consecutive columns (pylearn2's layout, pool stride = num_pieces).
    """

    def __init__(self, in_features: int, num_units: int, num_pieces: int, irange: float = 0.005):
        super().__init__()
        if num_units < 1 or num_pieces < 1:
            raise ValueError(
                f"num_units and num_pieces must be >= 1; got {num_units} and {num_pieces}"
            )
        self.num_units, self.num_pieces = num_units, num_pieces
        self.linear = init_uniform_(nn.Linear(in_features, num_units * num_pieces), irange)

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)
        return z.view(*z.shape[:-1], self.num_units, self.num_pieces).amax(-1)


class Generator(nn.Module):
    """G(z; theta_g): an MLP fed with noise only at its bottom layer (Section 5)."""

    def __init__(
        self,
        noise_dim: int = 100,
        hidden_dims: Sequence[int] = (1200, 1200),
        data_dim: int = 784,
        hidden_activation: str | Sequence[str] = "relu",
        output_activation: str = "sigmoid",
        irange: float = 0.05,
        output_irange: float | None = None,
        noise: str = "gaussian",
    ):
        super().__init__()
        check_choice("noise", noise, NOISE)
        check_choice("output_activation", output_activation, tuple(ACTIVATIONS))
        if isinstance(hidden_activation, str):
            hidden_activation = [hidden_activation] * len(hidden_dims)
        if len(hidden_activation) != len(hidden_dims):
            raise ValueError(
                f"hidden_activation needs one entry per hidden layer ({len(hidden_dims)}); "
                f"got {len(hidden_activation)}"
            )
        self.noise_dim, self.data_dim, self.noise = noise_dim, data_dim, noise
        self.output_activation = output_activation
        layers: list[nn.Module] = []
        width = noise_dim
        for dim, activation in zip(hidden_dims, hidden_activation, strict=True):
            check_choice("hidden_activation", activation, tuple(ACTIVATIONS))
            layers += [init_uniform_(nn.Linear(width, dim), irange), ACTIVATIONS[activation]()]
            width = dim
        output_irange = irange if output_irange is None else output_irange
        output = init_uniform_(nn.Linear(width, data_dim), output_irange)
        self.net = nn.Sequential(*layers, output, ACTIVATIONS[output_activation]())

    @property
    def output(self) -> nn.Linear:
        """The output layer (its bias is the one initialised from the data marginals)."""
        return self.net[-2]

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ p_z: N(0, I), or U(-sqrt 3, sqrt 3) (unit variance) with noise="uniform"."""
        device = self.output.weight.device
        if self.noise == "gaussian":
            return torch.randn(n, self.noise_dim, generator=generator, device=device)
        u = torch.rand(n, self.noise_dim, generator=generator, device=device)
        return (2 * u - 1) * math.sqrt(3)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self(self.sample_noise(n, generator))

    @torch.no_grad()
    def init_output_bias_from_marginals_(self, data: Tensor) -> None:
        """Set the sigmoid output bias so that G's output starts at the data's pixel means."""
        if self.output_activation != "sigmoid":
            raise ValueError(
                "init_output_bias_from_marginals_ needs output_activation='sigmoid'; "
                f"got {self.output_activation!r}"
            )
        self.output.bias.copy_(sigmoid_bias_from_marginals(data))


class Discriminator(nn.Module):
    """D(x; theta_d): maxout layers, then one sigmoid unit; forward returns its logit.

    Dropout (Section 5) acts on the input of every layer: include probability
    ``input_include_prob`` on x, ``hidden_include_prob`` on each hidden layer, with the
    survivors scaled by 1 / include_prob (1.25 and 2 in the configuration).
    """

    def __init__(
        self,
        data_dim: int = 784,
        num_units: Sequence[int] = (240, 240),
        num_pieces: int = 5,
        irange: float = 0.005,
        input_include_prob: float = 0.8,
        hidden_include_prob: float = 0.5,
    ):
        super().__init__()
        _check_probability("input_include_prob", input_include_prob)
        _check_probability("hidden_include_prob", hidden_include_prob)
        layers: list[nn.Module] = []
        width, include = data_dim, input_include_prob
        for units in num_units:
            layers += [nn.Dropout(1 - include), Maxout(width, units, num_pieces, irange)]
            width, include = units, hidden_include_prob
        layers += [nn.Dropout(1 - include), init_uniform_(nn.Linear(width, 1), irange)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Logit l(x) of D(x) = sigmoid(l(x)), shape (batch,)."""
        return self.net(x.flatten(1)).squeeze(-1)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-(1/2) [mean log D(x) + mean log(1 - D(G(z)))]: D ascends V(D, G) of Eq. (1).

    The factor 1/2 is the authors' code (``AdversaryCost2``): the mean of two cross-entropies.
    """
    return -0.5 * (F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """mean log(1 - D(G(z))), minimised by G: the game of Eq. (1) as written."""
    return F.logsigmoid(-fake_logits).mean()


def non_saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """-mean log D(G(z)): G maximises log D(G(z)) instead (Section 3), strong early gradients."""
    return -F.logsigmoid(fake_logits).mean()


def generator_loss(fake_logits: Tensor, objective: str = "non_saturating") -> Tensor:
    """G's loss for ``objective`` in GENERATOR_OBJECTIVES."""
    check_choice("objective", objective, GENERATOR_OBJECTIVES)
    if objective == "minimax":
        return minimax_generator_loss(fake_logits)
    return non_saturating_generator_loss(fake_logits)
