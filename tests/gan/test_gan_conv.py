"""The convolutional CIFAR-10 networks (Figure 2d, the authors' cifar10_convolutional.yaml)."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from common.config import build, compose
from papers.gan.conv import ConvDiscriminator, DeconvGenerator, MaxoutConv
from papers.gan.module import GANModule


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def test_maxout_conv_matches_hand_computation():
    torch.manual_seed(0)
    layer = MaxoutConv(1, num_channels=2, num_pieces=2, kernel_shape=2, pad=1, pool_shape=3,
                       pool_stride=2, irange=0.5)  # fmt: skip
    x = torch.randn(1, 1, 4, 4)
    z = F.conv2d(F.pad(x, (1, 1, 1, 1)), layer.conv.weight, layer.conv.bias)  # (1, 4, 5, 5)
    units = torch.stack([torch.maximum(z[0, 0], z[0, 1]), torch.maximum(z[0, 2], z[0, 3])])
    # cuda-convnet pooling: windows at 0 and 2 (the second overhangs: rows/cols 2..4 of 0..4)
    # ceil((5 - 3) / 2) + 1 = 2 outputs per side
    expected = torch.stack(
        [
            torch.stack([units[:, r : r + 3, c : c + 3].amax((1, 2)) for c in (0, 2)], -1)
            for r in (0, 2)
        ],
        -2,
    )
    assert torch.allclose(layer(x)[0], expected)
    overhang = MaxoutConv(1, 1, 1, kernel_shape=1, pad=0, pool_shape=4, pool_stride=2)
    assert overhang(torch.zeros(1, 1, 33, 33)).shape[-1] == 16  # ceil((33 - 4) / 2) + 1


def test_recipe_builds_the_configurations_networks(tmp_path):
    cfg = compose(
        ["paper=gan", "preset=paper", "data=gan/cifar10", "recipe=gan/cifar10_convolutional"],
        tmp_path,
    )
    assert cfg.data.batch_size == 128 and cfg.model.schedule.base_lr == 0.004
    assert list(cfg.model.generator.hidden_dims) == [8000, 8000]
    cfg.model.generator.hidden_dims = [16, 8000]  # a narrow first layer: 8000^2 weights are slow
    module = build(cfg.model)
    d, g = module.discriminator, module.generator
    assert isinstance(d, ConvDiscriminator) and isinstance(g, DeconvGenerator)
    x = torch.zeros(2, 3, 32, 32)
    sizes = []
    for layer in d.convolutions:
        if isinstance(layer, MaxoutConv):
            sizes.append((layer.conv(x).shape[-1], layer(x).shape[1:]))
        x = layer(x)
    # conv outputs 33 and 15 are the configuration's partial_sum values
    assert sizes == [(33, (32, 16, 16)), (15, (32, 7, 7)), (9, (192, 5, 5))]
    assert d.head.net[1].linear.in_features == 192 * 25 and d.head.net[1].num_units == 500
    assert d(torch.zeros(4, 3072)).shape == (4,)
    assert g.sample(2).shape == (2, 3072) and g.bias.shape == (3, 32, 32)
    assert [m.out_features for m in g.mlp.net if isinstance(m, torch.nn.Linear)] == [16, 8000]
    assert isinstance(g.mlp.net[-1], torch.nn.Sigmoid)
    assert g.deconv.weight.abs().max() <= 0.05 and d.head.net[-1].weight.abs().max() <= 0.005
    assert d.convolutions[0].p == pytest.approx(0.2) and d.convolutions[2].p == 0.5


def test_deconv_generator_checks_its_shapes():
    with pytest.raises(ValueError, match="prod\\(map_shape\\) = 8000"):
        DeconvGenerator((3, 32, 32), hidden_dims=[8000, 100])
    with pytest.raises(ValueError, match="give 32x32 images; the data has \\(3, 28, 28\\)"):
        DeconvGenerator((3, 28, 28), hidden_dims=[10, 8000])
    with pytest.raises(ValueError, match="output_activation must be one of"):
        DeconvGenerator((3, 32, 32), hidden_dims=[10, 8000], output_activation="tanh")


def tiny_conv_module(**overrides) -> GANModule:
    kwargs = {
        "channels": 3,
        "image_size": 5,  # (2 - 1) * 3 + 2
        "network": "convolutional",
        "preprocess": "gcn",
        "init_output_bias_from_marginals": False,
        "generator": {"hidden_dims": [6, 16], "map_shape": [4, 2, 2], "kernel_size": 2},
        "discriminator": {
            "conv_layers": [
                {
                    "num_channels": 2,
                    "num_pieces": 2,
                    "kernel_shape": 2,
                    "pad": 1,
                    "pool_shape": 2,
                    "pool_stride": 2,
                }  # fmt: skip
            ],
            "num_units": [3],
            "num_pieces": 2,
            "irange": 0.3,
        },
        **overrides,
    }
    return GANModule(**kwargs)


def test_convolutional_gan_trains_both_players(tmp_path):
    L.seed_everything(0, verbose=False)
    module = tiny_conv_module()
    before = {k: v.clone() for k, v in module.named_parameters()}
    images = torch.randint(0, 256, (20, 3, 5, 5), dtype=torch.uint8)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=str(tmp_path))  # fmt: skip
    trainer.fit(module, train_dataloaders=DataLoader(TensorDataset(images), batch_size=10))
    changed = {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}
    assert int(module.iterations) == 2
    assert "generator.bias" in changed and "generator.deconv.weight" in changed
    assert "discriminator.convolutions.1.conv.weight" in changed


def test_convolutional_choices_are_checked():
    with pytest.raises(ValueError, match="network must be one of"):
        tiny_conv_module(network="recurrent")
    with pytest.raises(ValueError, match="set init_output_bias_from_marginals=false"):
        tiny_conv_module(init_output_bias_from_marginals=True)
