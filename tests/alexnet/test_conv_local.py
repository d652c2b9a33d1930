"""Section 3.3's CIFAR-10 net, cuda-convnet's layers-conv-local-11pct (papers/alexnet/model.py:
ConvLocalNet): layer order, map sizes, unshared filters, its LRN constants, its initialisation,
and the per-layer training rule of its layer-params file."""

import pytest
import torch
from torch import nn

from common import registry
from common.config import build
from papers.alexnet.claims import CLAIMS
from papers.alexnet.model import ConvLocalNet, LocallyConnected2d, LocalResponseNorm


def test_layers_come_in_the_cuda_convnet_files_order_and_sizes():
    """conv1 -> ReLU -> pool -> LRN; conv2 -> ReLU -> LRN -> pool; 24 -> 12 -> 6; two
    unshared 3x3 layers of 64 and 32 maps at 6x6; fc10 from 32 x 6 x 6."""
    net = ConvLocalNet()
    assert [n for n, _ in net.conv1.named_children()] == ["conv", "act", "pool", "lrn"]
    assert [n for n, _ in net.conv2.named_children()] == ["conv", "act", "lrn", "pool"]
    x = torch.zeros(2, 3, 24, 24)
    assert net.conv1(x).shape == (2, 64, 12, 12)
    assert net.conv2(net.conv1(x)).shape == (2, 64, 6, 6)
    assert net.local3.weight.shape == (36, 64 * 9, 64) and net.local3.bias.shape == (64, 6, 6)
    assert net.local4.weight.shape == (36, 64 * 9, 32)
    assert net.fc10.in_features == 32 * 6 * 6 and net(x).shape == (2, 10)
    kernels = [
        (c.in_channels, c.out_channels, c.kernel_size) for c in (net.conv1.conv, net.conv2.conv)
    ]
    assert kernels == [(3, 64, (5, 5)), (64, 64, (5, 5))]
    with pytest.raises(ValueError, match="widths must list conv1, conv2, local3, local4"):
        ConvLocalNet(widths=(8, 8))


def test_without_lrn_only_the_two_normalisation_layers_go():
    with_lrn, without = ConvLocalNet(lrn=True), ConvLocalNet(lrn=False)
    norms = [m for m in with_lrn.modules() if isinstance(m, LocalResponseNorm)]
    assert len(norms) == 2 and not any(isinstance(m, LocalResponseNorm) for m in without.modules())
    assert [p.shape for p in with_lrn.parameters()] == [p.shape for p in without.parameters()]
    # cuda-convnet's cmrnorm, size 9, scale 0.001 (divided by the window), pow 0.75, minDiv 1
    assert {(m.size, m.alpha, m.beta, m.k) for m in norms} == {(9, 0.001 / 9, 0.75, 1.0)}


def test_initial_weights_are_the_files_initw_and_biases_zero():
    torch.manual_seed(0)
    net = ConvLocalNet()
    for name, layer in net.named_layers():
        std = float(layer.weight.detach().std())
        assert std == pytest.approx(ConvLocalNet.INIT_STD[name], rel=0.05), name
        assert not layer.bias.any(), name
    assert ConvLocalNet.INIT_STD == {
        "conv1": 1e-4, "conv2": 0.01, "local3": 0.04, "local4": 0.04, "fc10": 0.01
    }  # fmt: skip


def test_a_locally_connected_layer_with_one_filter_everywhere_is_a_convolution():
    torch.manual_seed(0)
    conv, local = nn.Conv2d(4, 5, 3, padding=1), LocallyConnected2d(4, 5, 3, 1, 6)
    with torch.no_grad():
        local.weight.copy_(conv.weight.reshape(5, -1).t().expand(36, -1, -1))
        local.bias.copy_(conv.bias[:, None, None].expand(5, 6, 6))
    x = torch.randn(3, 4, 6, 6)
    torch.testing.assert_close(local(x), conv(x))


def test_each_position_of_a_locally_connected_layer_has_its_own_filters():
    """Changing the filters of one output position changes that position's outputs only."""
    torch.manual_seed(0)
    local = LocallyConnected2d(2, 3, 3, 1, 4)
    nn.init.normal_(local.weight)
    x = torch.randn(1, 2, 4, 4)
    before = local(x)
    with torch.no_grad():
        local.weight[5] += 1.0  # position 5: row 1, column 1
    changed = (local(x) - before).abs().sum(1)[0] > 0
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[1, 1] = True
    assert torch.equal(changed, expected)


def test_the_recipe_trains_as_the_layer_params_file(make_config):
    """Pixels 0-255 minus the mean, 24x24 crops and flips, ten test views; SGD at 0.001,
    momentum 0.9; biases at 0.002 without decay; wc 0 on conv1-2, 0.004 on local3-4, 0.01 on
    fc10."""
    cfg = make_config("experiment=alexnet/conv_local", "data.channels=3")
    hp = cfg.model
    assert (hp.network, hp.input_scale, hp.crop, hp.flip, hp.ten_crop) == (
        "conv_local", 255.0, 24, True, True
    )  # fmt: skip
    assert not hp.pca_colour and hp.subtract_mean and cfg.data.batch_size == 128
    module = build(hp)
    assert isinstance(module.net, ConvLocalNet) and module.net.conv1.lrn is not None
    groups = module.configure_optimizers()["optimizer"].param_groups
    layers = dict(module.net.named_layers())
    decay_of = {id(p): (g["weight_decay"], g["lr"]) for g in groups for p in g["params"]}
    expected = {"conv1": 0.0, "conv2": 0.0, "local3": 0.004, "local4": 0.004, "fc10": 0.01}
    for name, decay in expected.items():
        assert decay_of[id(layers[name].weight)] == (decay, 0.001), name
        assert decay_of[id(layers[name].bias)] == (0.0, 0.002), name
    assert all(g["momentum"] == 0.9 for g in groups)
    [reported] = registry.get("alexnet").reported_for(cfg)
    assert (reported.value, reported.source) == (0.11, "Section 3.3")
    no_lrn = make_config("experiment=alexnet/conv_local", "model.conv_local.lrn=false")
    assert [r.value for r in registry.get("alexnet").reported_for(no_lrn)] == [0.13]


def test_an_unknown_layer_in_the_per_layer_decay_is_refused(make_config):
    cfg = make_config("experiment=alexnet/conv_local", "+model.layer_weight_decay.fc8=0.1")
    with pytest.raises(ValueError, match=r"layer_weight_decay names \['fc8'\]; .* local3"):
        build(cfg.model)


def test_the_lrn_claim_switches_only_the_normalisation_of_this_net(make_config):
    [claim] = [c for c in CLAIMS if c.id == "lrn"]
    configs = [make_config("paper=alexnet", *claim.overrides, *a.overrides) for a in claim.arms]
    assert [c.model.network for c in configs] == ["conv_local", "conv_local"]
    assert [c.model.conv_local.lrn for c in configs] == [True, False]
    configs[1].model.conv_local.lrn = True
    assert configs[0] == configs[1]
