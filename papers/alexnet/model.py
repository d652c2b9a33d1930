"""AlexNet as in Section 3 and Figure 2 of Krizhevsky, Sutskever & Hinton (2012). Pure PyTorch.

    conv1  96 @ 11x11 stride 4 -> ReLU -> LRN -> max-pool 3/2
    conv2 256 @ 5x5, two groups   -> ReLU -> LRN -> max-pool 3/2
    conv3 384 @ 3x3 (sees both groups) -> ReLU
    conv4 384 @ 3x3, two groups   -> ReLU
    conv5 256 @ 3x3, two groups   -> ReLU -> max-pool 3/2
    fc6 4096 -> ReLU -> dropout 0.5; fc7 4096 -> ReLU -> dropout 0.5; fc8 1000 (softmax in the loss)

"Two groups" is the paper's split over two GPUs (Section 3.2): conv2, conv4 and conv5 only see the
kernel maps on their own GPU. Every ablation the paper measured is a constructor argument.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from common.checks import check_choice

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}  # Section 3.1 compares the two (Figure 1)
POOLING = {"overlapping": (3, 2), "non_overlapping": (2, 2)}  # Section 3.4: z=3, s=2 vs z=s=2
POOL_KINDS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")  # Section 5: these biases start at 1


def weighted_layers(*blocks: nn.Sequential) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    """The convolutional and fully connected layers of ``blocks``, by name, in order."""
    children = [child for block in blocks for child in block.named_children()]
    return [(n, m) for n, m in children if isinstance(m, nn.Conv2d | nn.Linear)]


class LocalResponseNorm(nn.Module):
    """Section 3.3: b^i = a^i / (k + alpha sum_{j=i-n/2}^{i+n/2} (a^j)^2)^beta over n adjacent maps.

    The paper's alpha (``torch.nn.LocalResponseNorm`` divides it by n). The window sums are n
    shifted slices added up, about twice as fast on a CPU as torch's module."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        maps = a.shape[1]
        # zero maps beyond the edges: n/2 before, n/2 after
        squares = nn.functional.pad(a.square(), (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))
        window = sum(squares[:, i : i + maps] for i in range(self.size))
        return a / (self.k + self.alpha * window).pow(self.beta)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class AlexNet(nn.Module):
    """The paper's network, with switches for its ablations.

    Args:
        num_classes: 1000 for ILSVRC.
        in_channels: 3 (RGB); 1 for grey digits.
        widths: kernels of conv1..conv5, (96, 256, 384, 384, 256) in the paper.
        hidden: units of fc6 and fc7 (4096).
        conv1_kernel, conv1_stride, conv1_padding: 11, 4 and 2 for 224x224 inputs (the paper's
            224 only gives conv1's 55x55 maps with 2 pixels of padding; 227 would need none).
        input_size: the side of the (square) input crop, to size fc6.
        groups: 2 as on the paper's two GPUs, 1 for one tower with full connections.
        activation: "relu" (the paper) or "tanh" (Figure 1's comparison).
        lrn: local response normalisation after conv1 and conv2 (Section 3.3).
        pooling: "overlapping" (3/2, the paper) or "non_overlapping" (2/2, Section 3.4).
        dropout: drop probability of fc6 and fc7 outputs (0.5; 0 turns it off, Section 4.2).
        remove_conv: 3 or 4 drops that middle convolutional layer (Section 5's depth ablation);
            the next layer then takes the previous layer's maps.
        init_std: standard deviation of the initial weights (0.01 in Section 5); None scales it
            to each layer's fan-in instead (He et al. 2015), a deviation for narrow nets.
        bias_one: the layers whose biases start at 1 (Section 5); the others start at 0.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        widths: tuple[int, ...] = (96, 256, 384, 384, 256),
        hidden: int = 4096,
        conv1_kernel: int = 11,
        conv1_stride: int = 4,
        conv1_padding: int = 2,
        input_size: int = 224,
        groups: int = 2,
        activation: str = "relu",
        lrn: bool = True,
        pooling: str = "overlapping",
        dropout: float = 0.5,
        remove_conv: int | None = None,
        init_std: float | None = 0.01,
        bias_one: tuple[str, ...] = BIAS_ONE,
    ) -> None:
        super().__init__()
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("pooling", pooling, POOLING)
        if len(widths) != 5:
            raise ValueError(f"widths must list the 5 convolutional layers, got {list(widths)}")
        if remove_conv not in (None, 3, 4):
            raise ValueError(f"remove_conv={remove_conv}; the middle layers are 3 and 4, or None")
        act, (pool_size, pool_stride) = ACTIVATIONS[activation], POOLING[pooling]

        def pool() -> nn.Module:
            # Overlapping pooling counts its outputs as cuda-convnet does, keeping the border
            # (ceil); non-overlapping pooling does not (floor). At the paper's 55/27/13 maps both
            # give 27/13/6, the "output of equivalent dimensions" of Section 3.4; on the even
            # maps of smaller crops (24: 24/12/6) both give 12/6/3, so the two arms keep equal
            # map sizes and weight counts at every scale.
            return nn.MaxPool2d(pool_size, pool_stride, ceil_mode=pooling == "overlapping")

        # (name, out channels, kernel, stride, padding, groups, followed by LRN + pool / pool)
        plan = [
            ("conv1", widths[0], conv1_kernel, conv1_stride, conv1_padding, 1, "lrn_pool"),
            ("conv2", widths[1], 5, 1, 2, groups, "lrn_pool"),
            ("conv3", widths[2], 3, 1, 1, 1, ""),
            ("conv4", widths[3], 3, 1, 1, groups, ""),
            ("conv5", widths[4], 3, 1, 1, groups, "pool"),
        ]
        layers: list[tuple[str, nn.Module]] = []
        channels = in_channels
        for index, (name, out, kernel, stride, padding, g, after) in enumerate(plan, start=1):
            if index == remove_conv:
                continue
            layers.append((name, nn.Conv2d(channels, out, kernel, stride, padding, groups=g)))
            layers.append((f"act{index}", act()))
            if "lrn" in after and lrn:
                layers.append((f"lrn{index}", LocalResponseNorm()))
            if "pool" in after:
                layers.append((f"pool{index}", pool()))
            channels = out
        self.features = nn.Sequential(OrderedDict(layers))
        flat = self.features(torch.zeros(1, in_channels, input_size, input_size)).numel()
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(flat, hidden)),
                    ("act6", act()),
                    ("drop6", nn.Dropout(dropout)),
                    ("fc7", nn.Linear(hidden, hidden)),
                    ("act7", act()),
                    ("drop7", nn.Dropout(dropout)),
                    ("fc8", nn.Linear(hidden, num_classes)),
                ]
            )
        )
        self.reset_parameters(init_std, bias_one)

    def reset_parameters(
        self, std: float | None = 0.01, bias_one: tuple[str, ...] = BIAS_ONE
    ) -> None:
        """Section 5: weights from N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7, else 0
        (the ones "accelerate the early stages of learning by providing the ReLUs with positive
        inputs")."""
        unknown = set(bias_one) - set(LAYER_NAMES)
        if unknown:
            raise ValueError(f"bias_one={sorted(unknown)}; the layers are {', '.join(LAYER_NAMES)}")
        for name, layer in self.named_layers():
            if std is None:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            else:
                nn.init.normal_(layer.weight, mean=0.0, std=std)
            nn.init.constant_(layer.bias, 1.0 if name in bias_one else 0.0)

    def named_layers(self) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
        """conv1..conv5 and fc6..fc8 (without a removed layer), by their names in the paper."""
        return weighted_layers(self.features, self.classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class FourLayerNet(nn.Module):
    """The four-layer convolutional net of Figure 1.

    The paper gives no layout. We use that of Krizhevsky's public cuda-convnet example net for
    CIFAR-10 (``layers-18pct``): three 5x5 convolutional layers of 32, 32 and 64 maps, each
    followed by 3/2 pooling (max after conv1, average after conv2 and conv3: ``pool_kinds``),
    then one fully connected softmax layer; weights from N(0, std^2) with the file's initW per
    layer (``init_std``: conv1, conv2, conv3, fc4), biases 0. The file's within-map response
    normalisation is left out (Figure 1: "no regularization of any kind"); ``lrn`` puts the
    paper's cross-map LRN after the first two layers. ``activation`` switches ReLU / tanh
    (Figure 1), ``pooling`` Section 3.4's overlap.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int = 32,
        widths: tuple[int, ...] = (32, 32, 64),
        activation: str = "relu",
        lrn: bool = False,
        pooling: str = "overlapping",
        pool_kinds: tuple[str, ...] = ("max", "avg", "avg"),
        init_std: tuple[float, ...] = (1e-4, 0.01, 0.01, 0.01),
    ) -> None:
        super().__init__()
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("pooling", pooling, POOLING)
        if len(widths) != 3 or len(pool_kinds) != 3 or len(init_std) != 4:
            raise ValueError(
                "widths and pool_kinds list the 3 convolutional layers and init_std the 4 layers, "
                f"got {list(widths)}, {list(pool_kinds)}, {list(init_std)}"
            )
        for kind in pool_kinds:
            check_choice("pool_kinds", kind, POOL_KINDS)
        layers: list[tuple[str, nn.Module]] = []
        channels = in_channels
        for index, (out, kind) in enumerate(zip(widths, pool_kinds, strict=True), start=1):
            layers.append((f"conv{index}", nn.Conv2d(channels, out, 5, padding=2)))
            layers.append((f"act{index}", ACTIVATIONS[activation]()))
            if lrn and index < 3:
                layers.append((f"lrn{index}", LocalResponseNorm()))
            # ceil_mode keeps the border rows of 3/2 pooling, as cuda-convnet's pooling does
            pool = POOL_KINDS[kind](*POOLING[pooling], ceil_mode=True)
            layers.append((f"pool{index}", pool))
            channels = out
        self.features = nn.Sequential(OrderedDict(layers))
        flat = self.features(torch.zeros(1, in_channels, input_size, input_size)).numel()
        self.classifier = nn.Sequential(OrderedDict([("fc4", nn.Linear(flat, num_classes))]))
        for (_, layer), std in zip(self.named_layers(), init_std, strict=True):
            nn.init.normal_(layer.weight, mean=0.0, std=std)
            nn.init.zeros_(layer.bias)

    def named_layers(self) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
        """conv1..conv3 and fc4."""
        return weighted_layers(self.features, self.classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class LocallyConnected2d(nn.Module):
    """A convolution whose filters are not shared: every output position has its own
    ``in_channels x kernel x kernel`` weights for each of ``out_channels`` maps, and its own bias
    (cuda-convnet's ``type=local`` layer, which has no shared biases). Square input of side
    ``input_size``, stride 1."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, padding: int, input_size: int
    ) -> None:
        super().__init__()
        self.kernel, self.padding = kernel, padding
        self.output_size = input_size + 2 * padding - kernel + 1
        positions = self.output_size**2
        # weight[l, (c, i, j), o]: position l's filter o on input map c at offset (i, j)
        self.weight = nn.Parameter(torch.empty(positions, in_channels * kernel**2, out_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels, self.output_size, self.output_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = nn.functional.unfold(x, self.kernel, padding=self.padding)  # (N, C k k, L)
        out = torch.bmm(patches.permute(2, 0, 1), self.weight)  # (L, N, O)
        side = self.output_size
        return out.permute(1, 2, 0).reshape(len(x), -1, side, side) + self.bias

    def extra_repr(self) -> str:
        positions, fan_in, out = self.weight.shape
        return f"{fan_in // self.kernel**2}, {out}, kernel={self.kernel}, positions={positions}"


class ConvLocalNet(nn.Module):
    """Section 3.3's CIFAR-10 net: the paper's "four-layer CNN" (13% test error without
    normalisation, 11% with) is Krizhevsky's cuda-convnet example ``layers-conv-local-11pct``
    (and ``-13pct`` without normalisation), on 24x24 crops:

        conv1  64 @ 5x5 pad 2 -> ReLU -> max-pool 3/2 -> [LRN]     24 -> 12
        conv2  64 @ 5x5 pad 2 -> ReLU -> [LRN] -> max-pool 3/2     12 -> 6
        local3 64 @ 3x3 pad 1, unshared -> ReLU                     6
        local4 32 @ 3x3 pad 1, unshared -> ReLU                     6
        fc10   10 (softmax in the loss)

    Its LRN is cuda-convnet's ``cmrnorm`` with size 9, scale 0.001, pow 0.75: in the paper's
    formula n = 9, k = 1 (cuda-convnet's default minDiv), alpha = 0.001 / 9 (cuda-convnet
    divides the scale by the window), beta = 0.75; it acts on pixel values 0-255 minus the
    mean. Weights start from N(0, initW^2) with the files' initW per layer, biases at 0.
    ``lrn=False`` drops both normalisation layers and nothing else, so the two arms differ only
    in Section 3.3's switch (the -13pct file also narrows local3 to 32 maps; see the README).
    """

    INIT_STD = {"conv1": 1e-4, "conv2": 0.01, "local3": 0.04, "local4": 0.04, "fc10": 0.01}

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: int = 24,
        lrn: bool = True,
        widths: tuple[int, ...] = (64, 64, 64, 32),
    ) -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"widths must list conv1, conv2, local3, local4, got {list(widths)}")

        def norm() -> list[tuple[str, nn.Module]]:
            return [("lrn", LocalResponseNorm(size=9, alpha=0.001 / 9, beta=0.75, k=1.0))]

        def pool() -> nn.MaxPool2d:
            return nn.MaxPool2d(3, 2, ceil_mode=True)  # cuda-convnet's outputsX=0: 24 -> 12 -> 6

        block1 = [("conv", nn.Conv2d(in_channels, widths[0], 5, padding=2)), ("act", nn.ReLU())]
        block1 += [("pool", pool())] + (norm() if lrn else [])
        block2 = [("conv", nn.Conv2d(widths[0], widths[1], 5, padding=2)), ("act", nn.ReLU())]
        block2 += (norm() if lrn else []) + [("pool", pool())]
        self.conv1 = nn.Sequential(OrderedDict(block1))
        self.conv2 = nn.Sequential(OrderedDict(block2))
        side = self.conv2(self.conv1(torch.zeros(1, in_channels, input_size, input_size))).shape[-1]
        self.local3 = LocallyConnected2d(widths[1], widths[2], 3, 1, side)
        self.local4 = LocallyConnected2d(widths[2], widths[3], 3, 1, side)
        self.fc10 = nn.Linear(widths[3] * side**2, num_classes)
        for name, layer in self.named_layers():
            nn.init.normal_(layer.weight, mean=0.0, std=self.INIT_STD[name])
            nn.init.zeros_(layer.bias)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """conv1, conv2, local3, local4, fc10: the layers with weights, by the files' names."""
        return [
            ("conv1", self.conv1.conv),
            ("conv2", self.conv2.conv),
            ("local3", self.local3),
            ("local4", self.local4),
            ("fc10", self.fc10),
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x))  # (N, 64, 6, 6)
        x = self.local4(self.local3(x).relu()).relu()  # (N, 32, 6, 6)
        return self.fc10(x.flatten(1))
