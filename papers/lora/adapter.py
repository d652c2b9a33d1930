"""The adapter LoRA is compared with in Table 1: Houlsby et al. 2019's bottleneck layers.

Each adapted sub-layer's output passes through a small residual MLP, h + W_up f(W_down h), with
W_down (m x d) and W_up (d x m) and m much smaller than d; W_up starts at zero so that the model
starts as the pretrained one. Houlsby et al. put one after the attention's output projection and
one after the feed-forward block, before each residual sum; here the wrapped layer is named by
pattern, as LoRA's targets are (``attention.output.dense`` and ``output.dense`` in a BERT).

Unlike LoRA's update, the bottleneck is non-linear and sits in sequence with the layer, so it
cannot be merged into a weight: the extra depth is paid at every forward pass (Table 1)."""

from __future__ import annotations

from torch import Tensor, nn

from papers.lora.lora import matches


class HoulsbyAdapter(nn.Module):
    """``layer`` followed by h + W_up GELU(W_down h)."""

    def __init__(self, layer: nn.Linear, bottleneck: int) -> None:
        super().__init__()
        self.layer = layer
        self.down = nn.Linear(layer.out_features, bottleneck)
        self.up = nn.Linear(bottleneck, layer.out_features)
        self.activation = nn.GELU()
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.layer(x)
        return h + self.up(self.activation(self.down(h)))


def apply_adapters(model: nn.Module, targets: tuple[str, ...], bottleneck: int) -> list[str]:
    """Follow every Linear whose name matches a target by an adapter (in place); their names."""
    chosen = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and any(matches(name, p) for p in targets)
    ]
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, HoulsbyAdapter(getattr(parent, child), bottleneck))
    return chosen
