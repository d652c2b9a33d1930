"""AlexNet as the paper describes it: shapes, size, groups, LRN, init, switches, augmentation."""

import pytest
import torch
from torch import nn

from papers.alexnet import augment
from papers.alexnet.model import AlexNet, FourLayerNet, LocalResponseNorm

SMALL = dict(
    num_classes=10,
    widths=(8, 16, 24, 24, 16),
    hidden=32,
    conv1_kernel=5,
    conv1_stride=1,
    input_size=28,
)


def test_paper_network_shapes_and_parameter_count():
    net = AlexNet()
    assert net(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
    assert net.features(torch.zeros(1, 3, 224, 224)).shape == (1, 256, 6, 6)
    # 60,965,224 with two groups ("60 million parameters", Section 1); one tower has more
    assert sum(p.numel() for p in net.parameters()) == 60_965_224
    assert sum(p.numel() for p in AlexNet(groups=1).parameters()) == 62_378_344


def test_grouped_layers_see_only_their_half_of_the_channels():
    net = AlexNet(**SMALL)
    convs = dict(net.named_layers())
    assert [convs[n].groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")] == [
        1,
        2,
        1,
        2,
        2,
    ]
    assert convs["conv2"].weight.shape == (16, 4, 5, 5)  # each kernel sees 8 / 2 maps
    x = torch.randn(1, 8, 12, 12)
    y = convs["conv2"](x)
    x2 = x.clone()
    x2[:, 4:] += torch.randn(1, 4, 12, 12)  # change only the second group's input maps
    y2 = convs["conv2"](x2)
    assert torch.equal(y[:, :8], y2[:, :8]) and not torch.allclose(y[:, 8:], y2[:, 8:])


def test_local_response_norm_matches_the_paper_formula():
    """b^i = a^i / (k + alpha sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} (a^j)^2)^beta, Section 3.3."""
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    a = torch.rand(2, 7, 3, 3, dtype=torch.float64) * 30
    expected = torch.empty_like(a)
    for i in range(7):
        window = a[:, max(0, i - n // 2) : min(6, i + n // 2) + 1]
        expected[:, i] = a[:, i] / (k + alpha * (window**2).sum(1)) ** beta
    torch.testing.assert_close(LocalResponseNorm()(a), expected)
    # torch's module with alpha x n is the same function (and gradient); its own alpha is not
    torch.testing.assert_close(nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)(a), expected)
    assert not torch.allclose(nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(a), expected)
    x = a.clone().requires_grad_()
    (LocalResponseNorm()(x) * a).sum().backward()
    y = a.clone().requires_grad_()
    (nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)(y) * a).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)


def test_initialisation_follows_section_5():
    torch.manual_seed(0)
    net = AlexNet()
    layers = dict(net.named_layers())
    for name, layer in layers.items():
        assert abs(layer.weight.std().item() - 0.01) < 0.0005, name
        assert abs(layer.weight.mean().item()) < 0.0005, name
        expected_bias = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        assert torch.all(layer.bias == expected_bias), name
    with pytest.raises(ValueError, match=r"bias_one=\['fc9'\]; the layers are conv1, "):
        AlexNet(**SMALL, bias_one=("fc9",))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "maps"),
    [(224, 11, 4, 2, [27, 13, 6]), (24, 5, 1, 2, [12, 6, 3])],  # the paper; the CIFAR-10 crops
)
def test_both_pooling_arms_give_equal_maps_and_weights(size, kernel, stride, padding, maps):
    """Section 3.4 compares 3/2 with 2/2 pooling at "equivalent dimensions": the 224 net's
    27/13/6 maps, and equal maps (so an equal fc6) on the 24x24 crops of the CIFAR-10 claims."""
    shape = dict(conv1_kernel=kernel, conv1_stride=stride, conv1_padding=padding, input_size=size)
    nets = {p: AlexNet(**{**SMALL, **shape}, pooling=p) for p in ("overlapping", "non_overlapping")}
    for net in nets.values():
        x, sides = torch.zeros(1, 3, size, size), []
        for layer in net.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                sides.append(x.shape[-1])
        assert sides == maps
    counts = {p: sum(w.numel() for w in net.parameters()) for p, net in nets.items()}
    assert counts["overlapping"] == counts["non_overlapping"]


def test_ablation_switches():
    types = lambda net: {type(m) for m in net.modules()}  # noqa: E731
    assert nn.Tanh in types(AlexNet(**SMALL, activation="tanh"))
    assert nn.ReLU not in types(AlexNet(**SMALL, activation="tanh"))
    assert LocalResponseNorm not in types(AlexNet(**SMALL, lrn=False))
    assert LocalResponseNorm in types(AlexNet(**SMALL, lrn=True))
    pools = [
        m
        for m in AlexNet(**SMALL, pooling="non_overlapping").modules()
        if isinstance(m, nn.MaxPool2d)
    ]
    assert [(p.kernel_size, p.stride) for p in pools] == [(2, 2)] * 3
    for removed in (3, 4):
        net = AlexNet(**SMALL, remove_conv=removed)
        assert f"conv{removed}" not in dict(net.named_layers())
        assert net(torch.zeros(1, 3, 28, 28)).shape == (1, 10)
    net = AlexNet(**SMALL, dropout=0.0).train()
    x = torch.randn(2, 3, 28, 28)
    assert torch.equal(net(x), net.eval()(x))
    with pytest.raises(ValueError, match="activation must be one of 'relu', 'tanh'; got 'sigmoid'"):
        AlexNet(activation="sigmoid")
    with pytest.raises(ValueError, match="remove_conv=1"):
        AlexNet(remove_conv=1)


def test_pca_colour_adds_the_papers_shift():
    eigenvalues = torch.tensor([0.2, 0.02, 0.005])
    eigenvectors = torch.linalg.qr(torch.randn(3, 3))[0]
    x = torch.zeros(4, 3, 5, 5)
    torch.manual_seed(1)
    out = augment.pca_colour(x, eigenvalues, eigenvectors, std=0.1)
    torch.manual_seed(1)
    alphas = torch.randn(4, 3) * 0.1
    for n in range(4):  # [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T, the same for every pixel
        shift = eigenvectors @ (alphas[n] * eigenvalues)
        torch.testing.assert_close(out[n], shift[:, None, None].expand(3, 5, 5))


def test_pixel_pca_recovers_a_known_covariance():
    torch.manual_seed(0)
    mixing = torch.tensor([[40.0, 0, 0], [30, 10, 0], [0, 0, 5]])
    pixels = (torch.randn(20000, 3) @ mixing.T + 128).clamp(0, 255).round()
    images = pixels.to(torch.uint8).T.reshape(3, 200, 100).permute(1, 0, 2)[:, :, :, None]
    eigenvalues, eigenvectors = augment.pixel_pca(images)
    unit = pixels / 255
    expected = torch.linalg.eigvalsh(torch.cov(unit.T))
    torch.testing.assert_close(eigenvalues, expected.float(), rtol=1e-3, atol=1e-6)
    assert torch.allclose(eigenvectors.T @ eigenvectors, torch.eye(3), atol=1e-5)


def test_crops_and_test_views():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    crops = augment.random_crop_flip(x, 6, flip=False)
    for image, crop in zip(x, crops, strict=True):  # every crop is a window of its own image
        windows = image.unfold(1, 6, 1).unfold(2, 6, 1).reshape(1, 9, 6, 6).transpose(0, 1)
        assert any(torch.equal(crop, w) for w in windows)
    views = augment.test_views(x, 6, ten_crop=True)
    assert views.shape == (2, 10, 1, 6, 6)
    assert torch.equal(views[:, 4], x[:, :, 1:7, 1:7])  # the centre patch
    # the mirror images: view 5 is the top-left patch of the mirrored image
    assert torch.equal(views[:, 5], x[:, :, :6, 2:].flip(-1))
    assert torch.equal(augment.test_views(x, 6, ten_crop=False)[:, 0], x[:, :, 1:7, 1:7])
    assert torch.equal(
        augment.mean_image(torch.full((3, 1, 2, 2), 255, dtype=torch.uint8)), torch.ones(1, 2, 2)
    )


def test_compiling_in_place_keeps_checkpoint_keys():
    """``compile=true`` compiles each network in place, so its checkpoints load uncompiled."""
    net = AlexNet(**SMALL)
    keys = list(net.state_dict())
    net.compile()
    assert list(net.state_dict()) == keys


def test_four_layer_net_follows_its_layout():
    net = FourLayerNet(input_size=32)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [
        (32, (5, 5)),
        (32, (5, 5)),
        (64, (5, 5)),
    ]
    # 32 -> 16 -> 8 -> 4 with 3/2 pooling keeping the border (ceil), then one softmax layer
    assert net.classifier.fc4.in_features == 64 * 4 * 4
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert sum(isinstance(m, LocalResponseNorm) for m in FourLayerNet(lrn=True).modules()) == 2
    assert nn.Tanh in {type(m) for m in FourLayerNet(activation="tanh").modules()}
    # cuda-convnet's layers-18pct: max pooling after conv1, average after conv2 and conv3
    pools = [type(m) for m in net.features if isinstance(m, nn.MaxPool2d | nn.AvgPool2d)]
    assert pools == [nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d]
    torch.manual_seed(0)
    stds = [float(layer.weight.detach().std()) for _, layer in FourLayerNet().named_layers()]
    assert stds == pytest.approx([1e-4, 0.01, 0.01, 0.01], rel=0.1)  # the file's initW
    with pytest.raises(ValueError, match="widths and pool_kinds list the 3 convolutional"):
        FourLayerNet(widths=(8, 8))
    with pytest.raises(ValueError, match="pool_kinds"):
        FourLayerNet(pool_kinds=("max", "avg", "median"))


FOUR_LAYER = (
    "model.network=four_layer",
    "model.crop=8",
    "model.flip=false",
    "trainer.max_epochs=3",
    "logger=none",
)


@pytest.mark.parametrize(("target", "reached", "epochs"), [(0.95, 1.0, 1.0), (0.0, 0.0, 3.0)])
def test_epochs_to_target_training_error(make_config, target, reached, epochs):
    """Figure 1's measure: the first epoch whose training error reaches the target (and the run
    stops there with stop_at_target); the epochs run so far while it has not."""
    from common.train import train

    summary = train(
        make_config(*FOUR_LAYER, f"model.target_train_error={target}", "model.stop_at_target=true")
    )
    metrics = summary["metrics"]
    assert metrics["train/target_reached"] == reached
    assert metrics["train/epochs_to_target"] == epochs
    assert summary["epochs"] == epochs
    assert metrics["train/steps_to_target"] == summary["steps"]


def test_clean_training_error_and_gap(make_config):
    from common.train import train

    summary = train(
        make_config(*FOUR_LAYER, "model.clean_train_images=300", "trainer.max_epochs=1")
    )
    metrics = summary["metrics"]
    assert 0.0 <= metrics["test/train_error"] <= 1.0
    assert metrics["test/gap"] == pytest.approx(metrics["test/error"] - metrics["test/train_error"])
    assert round(metrics["test/train_error"] * 300) == pytest.approx(
        metrics["test/train_error"] * 300, abs=1e-4
    )


def test_centre_crop_without_translations():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    assert torch.equal(
        augment.random_crop_flip(x, 6, flip=False, translate=False), x[:, :, 1:7, 1:7]
    )


def test_only_section_3_3s_net_is_compared_with_its_cifar_10_numbers(make_config):
    """Figure 1's four-layer net has no number of its own; the ImageNet nets have Tables 1-2
    (the conv-local net's 13% / 11%: tests/alexnet/test_conv_local.py)."""
    from common import registry

    alexnet = registry.get("alexnet")
    four_layer = make_config("data=alexnet/cifar10", "recipe=alexnet/four_layer")
    assert not alexnet.reported_for(four_layer)
    assert {r.source for r in alexnet.reported_for(make_config())} == {"Table 1", "Table 2"}


def test_layers_come_in_the_papers_order():
    """Section 3.5: LRN after the ReLU of conv1 and conv2, max-pooling after both LRNs and after
    conv5; ReLU after every layer but fc8; dropout after fc6 and fc7."""
    net = AlexNet(**SMALL)
    assert [name for name, _ in net.features.named_children()] == [
        "conv1", "act1", "lrn1", "pool1",
        "conv2", "act2", "lrn2", "pool2",
        "conv3", "act3", "conv4", "act4",
        "conv5", "act5", "pool5",
    ]  # fmt: skip
    kinds = {"conv": nn.Conv2d, "act": nn.ReLU, "lrn": LocalResponseNorm, "pool": nn.MaxPool2d}
    for name, layer in net.features.named_children():
        assert isinstance(layer, kinds[name.rstrip("0123456789")]), name
    assert [name for name, _ in net.classifier.named_children()] == [
        "fc6", "act6", "drop6", "fc7", "act7", "drop7", "fc8",
    ]  # fmt: skip
    assert net.classifier.drop6.p == net.classifier.drop7.p == 0.5


def small_module(**switches):
    from papers.alexnet.module import AlexNetModule

    net = {k: v for k, v in SMALL.items() if k != "input_size"}  # the module sizes it by crop
    return AlexNetModule(net, image_size=32, channels=1, crop=28, pca_colour=False, **switches)


def test_the_test_prediction_averages_the_softmax_of_the_ten_patches():
    """Section 4.1: the softmax averaged over the four corner patches, the centre patch and their
    mirror images, each patch cut here by hand from the centred 32x32 image."""
    torch.manual_seed(0)
    module = small_module(input_scale=1.0).eval()  # at 255 these weights saturate the softmax
    module.net.reset_parameters(std=None)  # weights large enough for the patches to disagree
    module.mean_image.copy_(torch.linspace(0, 1, 32).expand(1, 32, 32))  # a ramp, left to right
    image = torch.arange(32 * 32).remainder(251).view(1, 1, 32, 32).to(torch.uint8)
    centred = image.float() / 255 - module.mean_image
    corners = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]  # 28x28 patches of 32x32, and the centre
    patches = [centred[..., i : i + 28, j : j + 28] for i, j in corners]
    patches += [patch.flip(-1) for patch in patches]
    with torch.no_grad():
        each = torch.cat([module.net(patch).softmax(-1) for patch in patches])
        prediction = module(image)[0]
    torch.testing.assert_close(prediction, each.mean(0))
    for patch in each:  # the patches disagree: no one of them gives the average
        assert (patch - prediction).abs().max() > 1e-4
    module.hparams.ten_crop = False  # the reduced presets' centre patch alone
    with torch.no_grad():
        torch.testing.assert_close(module(image)[0], each[4])


def test_the_mean_image_is_subtracted_before_the_crop():
    """Section 2: the mean of the 256x256 training images is subtracted, then 224 patches are
    cut. An image equal to a mean image that varies across it is zero after the subtraction, so
    every patch, at whatever offset, is zero; a patch cut before the subtraction, or with the
    mean not subtracted, is not."""
    torch.manual_seed(0)
    module = small_module(flip=False)
    ramp = torch.arange(32) * 4  # 0, 4, ..., 124
    image = (ramp[:, None] + ramp[None, :]).to(torch.uint8)  # a diagonal ramp, 0 to 248
    module.mean_image.copy_(image / 255)
    images = image.expand(16, 1, 32, 32)
    seen = []
    module.net.forward = lambda x: seen.append(x) or torch.zeros(len(x), 10, requires_grad=True)
    module.log_errors = lambda *args: None
    module.training_step((images, torch.zeros(16, dtype=torch.long)), 0)
    [patches] = seen
    assert patches.shape == (16, 1, 28, 28)
    assert patches.abs().max() < 1e-3, patches.abs().max()


def test_the_optimiser_and_schedule_are_section_5s(make_config):
    """SGD with momentum 0.9 (plain, no Nesterov or dampening), weight decay 0.0005 and a rate
    of 0.01 for the weights (the biases: twice the rate, no decay, as cuda-convnet trains them),
    divided by 10 when the validation error stops improving."""
    from common.config import build

    small = ("model.net.widths=[8,16,24,24,16]", "model.net.hidden=32")  # Section 5 is the same
    paper = build(make_config("paper=alexnet", "preset=paper", *small).model)
    scheduled = paper.configure_optimizers()
    optimizer, schedule = scheduled["optimizer"], scheduled["lr_scheduler"]
    assert type(optimizer) is torch.optim.SGD
    weights, biases = optimizer.param_groups
    assert all(p.ndim > 1 for p in weights["params"]) and len(weights["params"]) == 8
    assert all(p.ndim == 1 for p in biases["params"]) and len(biases["params"]) == 8
    for group, (lr, decay) in ((weights, (0.01, 0.0005)), (biases, (0.02, 0.0))):
        assert (group["lr"], group["momentum"], group["weight_decay"]) == (lr, 0.9, decay)
        assert (group["nesterov"], group["dampening"]) == (False, 0)
    # the reduced presets: the weights' rule for every parameter
    for group in (
        build(make_config("paper=alexnet").model).configure_optimizers()["optimizer"].param_groups
    ):
        assert (group["momentum"], group["weight_decay"]) == (0.9, 0.0005)
    assert (schedule["monitor"], schedule["interval"]) == ("val/error", "epoch")
    scheduler = schedule["scheduler"]
    assert type(scheduler) is torch.optim.lr_scheduler.ReduceLROnPlateau
    patience = paper.hparams.lr_patience
    scheduler.step(0.5)  # the first validation error
    for _ in range(patience):  # as many epochs without improvement: the rate holds
        scheduler.step(0.5)
        assert weights["lr"] == 0.01
    scheduler.step(0.5)  # one more: divided by 10
    assert (weights["lr"], biases["lr"]) == pytest.approx((0.001, 0.002))
    scheduler.step(0.4)  # an improvement: no division
    assert weights["lr"] == pytest.approx(0.001)
    cfg = make_config("paper=alexnet", "preset=paper").model
    assert (cfg.crop, cfg.flip, cfg.ten_crop, cfg.subtract_mean) == (224, True, True, True)


@pytest.mark.parametrize(("scale", "acts"), [(1.0, False), (255.0, True)])
def test_local_response_norm_acts_only_at_cuda_convnets_input_scale(scale, acts):
    """With the paper's k = 2 and alpha = 1e-4, LRN after conv1 is in effect the constant
    2^-0.75 on inputs in [0, 1]; on 0-255 inputs, as cuda-convnet fed them, it normalises."""
    torch.manual_seed(0)
    module = small_module(input_scale=scale)
    module.mean_image.copy_(torch.full((1, 32, 32), 0.5))
    images = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    features = module.net.features
    with torch.no_grad():
        before = features.act1(features.conv1(module.centred(images)))
        ratio = features.lrn1(before)[before > 0] / before[before > 0]
    spread = float((ratio / 2**-0.75).log().abs().max())  # 0: a constant factor
    assert (spread > 1e-3) is acts, spread
