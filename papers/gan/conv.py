"""The convolutional CIFAR-10 networks of Figure 2d (the authors' ``cifar10_convolutional.yaml``).

D: three maxout convolution layers (pylearn2's ``MaxoutConvC01B``: zero padding, maxout over
each unit's consecutive pieces, then cuda-convnet max pooling), a maxout layer and a sigmoid unit,
with dropout on the input of every layer. G: an MLP (z -> 8000 ReLU -> 8000 sigmoid) whose output
is read as 80 maps of 10x10 and turned into the 3x32x32 image by one transposed convolution
(``adversarial.deconv.Deconv``: kernel 5, stride 3, a bias per output pixel, linear output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from common.checks import check_choice
from papers.gan.model import ACTIVATIONS, Discriminator, Generator, init_uniform_


class MaxoutConv(nn.Module):
    """Convolution to num_channels * num_pieces maps (weights U(-irange, irange), one bias per
    map), maxout over each unit's num_pieces consecutive maps, then max pooling whose windows
    start at 0 and whose last window may overhang the edge, as cuda-convnet's
    (output ceil((n - pool) / stride) + 1)."""

    def __init__(
        self,
        in_channels: int,
        num_channels: int,
        num_pieces: int,
        kernel_shape: int,
        pad: int,
        pool_shape: int,
        pool_stride: int,
        irange: float = 0.005,
    ) -> None:
        super().__init__()
        self.num_channels, self.num_pieces = num_channels, num_pieces
        self.conv = nn.Conv2d(in_channels, num_channels * num_pieces, kernel_shape, padding=pad)
        init_uniform_(self.conv, irange)
        self.pool = nn.MaxPool2d(pool_shape, pool_stride, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        z = self.conv(x)
        n, _, h, w = z.shape
        return self.pool(z.view(n, self.num_channels, self.num_pieces, h, w).amax(2))


class ConvDiscriminator(nn.Module):
    """D of Figure 2d; forward takes flattened images (N, C*H*W) and returns logits (N,).

    ``conv_layers``: keyword arguments of :class:`MaxoutConv` (without in_channels and irange)
    for each convolution layer; then the maxout layers ``num_units`` x ``num_pieces`` and the
    sigmoid unit of :class:`papers.gan.model.Discriminator`. Dropout keeps each input of the first
    layer with probability ``input_include_prob`` and of every later one with
    ``hidden_include_prob``.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        conv_layers: Sequence[dict[str, Any]],
        num_units: Sequence[int] = (500,),
        num_pieces: int = 5,
        irange: float = 0.005,
        input_include_prob: float = 0.8,
        hidden_include_prob: float = 0.5,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = []
        channels, include = self.image_shape[0], input_include_prob
        for spec in conv_layers:
            layers += [nn.Dropout(1 - include), MaxoutConv(channels, irange=irange, **spec)]
            channels, include = spec["num_channels"], hidden_include_prob
        self.convolutions = nn.Sequential(*layers)
        with torch.no_grad():
            features = self.convolutions(torch.zeros(1, *self.image_shape)).numel()
        self.head = Discriminator(
            features, num_units, num_pieces, irange, hidden_include_prob, hidden_include_prob
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.convolutions(x.view(-1, *self.image_shape)))


class DeconvGenerator(nn.Module):
    """G of Figure 2d: an MLP (``hidden_dims``, ``hidden_activation``, weights U(-irange,
    irange)) whose last layer is read as ``map_shape`` (channels, height, width), then a
    transposed convolution to the image (weights U(-output_irange, output_irange), no shared
    bias, one bias per output value) and ``output_activation``. Output flattened (N, C*H*W).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        map_shape: Sequence[int] = (80, 10, 10),
        kernel_size: int = 5,
        stride: int = 3,
        noise_dim: int = 100,
        hidden_dims: Sequence[int] = (8000, 8000),
        hidden_activation: str | Sequence[str] = ("relu", "sigmoid"),
        output_activation: str = "linear",
        irange: float = 0.05,
        output_irange: float | None = None,
        noise: str = "gaussian",
    ) -> None:
        super().__init__()
        check_choice("output_activation", output_activation, tuple(ACTIVATIONS))
        if isinstance(hidden_activation, str):
            hidden_activation = [hidden_activation] * len(hidden_dims)
        if not hidden_dims or hidden_dims[-1] != math.prod(map_shape):
            raise ValueError(
                f"the last hidden layer must have prod(map_shape) = {math.prod(map_shape)} "
                f"units to be read as maps of shape {tuple(map_shape)}; got {list(hidden_dims)}"
            )
        channels, height, _ = map_shape
        out_size = (height - 1) * stride + kernel_size
        if tuple(image_shape)[1:] != (out_size, out_size):
            raise ValueError(
                f"maps of {height}x{height} with kernel {kernel_size} and stride {stride} give "
                f"{out_size}x{out_size} images; the data has {tuple(image_shape)}"
            )
        self.mlp = Generator(  # z -> hidden layers, the last one read as maps
            noise_dim=noise_dim,
            hidden_dims=hidden_dims[:-1],
            data_dim=hidden_dims[-1],
            hidden_activation=hidden_activation[:-1],
            output_activation=hidden_activation[-1],
            irange=irange,
            noise=noise,
        )
        self.map_shape = tuple(map_shape)
        self.deconv = nn.ConvTranspose2d(
            channels, image_shape[0], kernel_size, stride=stride, bias=False
        )
        nn.init.uniform_(self.deconv.weight, -(output_irange or irange), output_irange or irange)
        self.bias = nn.Parameter(torch.zeros(*image_shape))  # untied: one per output value
        self.activation = ACTIVATIONS[output_activation]()

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.mlp.sample_noise(n, generator)

    def forward(self, z: Tensor) -> Tensor:
        maps = self.mlp(z).view(-1, *self.map_shape)
        return self.activation(self.deconv(maps) + self.bias).flatten(1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self(self.sample_noise(n, generator))
