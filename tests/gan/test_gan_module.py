"""GANModule (papers/gan/module.py) and the GAN DataModules (papers/gan/data.py): Algorithm 1's
updates, the schedules, the evaluation, the figure, the splits and the configs."""

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from common.data import ImageDataModule, SplitDataModule, load_digits_images
from common.errors import MissingDataError
from common.train import train
from papers.gan.data import TFDDataModule
from papers.gan.module import GANModule, global_contrast_normalize
from papers.gan.parzen import parzen_evaluation

torch.set_num_threads(1)

SIDE = 4  # 4x4 images: 16 pixels


class TinyImages(SplitDataModule):
    """Random uint8 images (N, 1, 4, 4) in three splits, served in a fixed order."""

    def __init__(self, n: int = 40, batch_size: int = 10) -> None:
        super().__init__()
        self.save_hyperparameters(
            {"batch_size": batch_size, "seed": 0, "num_workers": 0, "shuffle": False}
        )
        generator = torch.Generator().manual_seed(0)
        self.images = {
            split: torch.randint(0, 256, (n, 1, SIDE, SIDE), generator=generator, dtype=torch.uint8)
            for split in ("train", "val", "test")
        }
        self.splits = {k: TensorDataset(x, torch.zeros(n)) for k, x in self.images.items()}

    def train_images(self) -> torch.Tensor:
        return self.images["train"]


def tiny_module(**overrides) -> GANModule:
    kwargs = {
        "channels": 1,
        "image_size": SIDE,
        "generator": {"noise_dim": 3, "hidden_dims": [8]},
        "discriminator": {"num_units": [6], "num_pieces": 2, "irange": 0.3},
        "parzen": {"num_samples": 50, "num_valid": 15, "batch_size": 7},
        "figure": {"rows": 2, "cols": 3},
        "init_output_bias_from_marginals": False,  # so that only SGD moves G's parameters
        **overrides,
    }
    return GANModule(**kwargs)


def fit(module: GANModule, tmp_path: Path, batches: int = 1, epochs: int = 1, seed: int = 0):
    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(
        max_epochs=epochs,
        limit_train_batches=batches,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        deterministic=True,
    )
    trainer.fit(module, datamodule=TinyImages())
    return trainer


def parameters(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def changed(before: dict[str, torch.Tensor], net: torch.nn.Module) -> set[str]:
    return {k for k, v in net.named_parameters() if not torch.equal(before[k], v)}


# --------------------------------------------------------------------------- Algorithm 1


def test_discriminator_step_changes_only_the_discriminator(tmp_path):
    torch.manual_seed(0)
    module = tiny_module(k=2, updates="alternating")  # the first batch: a D step, no G step
    g, d = parameters(module.generator), parameters(module.discriminator)
    fit(module, tmp_path)
    assert changed(g, module.generator) == set()
    assert changed(d, module.discriminator) == set(d)
    assert (int(module.discriminator_updates), int(module.iterations)) == (1, 0)


NO_DROPOUT = {  # a tiny D whose outputs the tests can recompute exactly
    "num_units": [6],
    "num_pieces": 2,
    "irange": 0.3,
    "input_include_prob": 1.0,
    "hidden_include_prob": 1.0,
}


def record_noise(module: GANModule) -> list[torch.Tensor]:
    """The noise batches G draws from now on, in order."""
    noise: list[torch.Tensor] = []
    sample_noise = module.generator.sample_noise

    def recorded(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        noise.append(sample_noise(n, generator))
        return noise[-1]

    module.generator.sample_noise = recorded
    return noise


@pytest.mark.parametrize("objective", ["non_saturating", "minimax"])
def test_generator_step_is_one_sgd_step_on_its_objective_and_leaves_d_alone(tmp_path, objective):
    """k = 1: after D's step, G takes lr_0 * grad of its loss on fresh noise through the updated,
    fixed D; D's parameters are exactly those of a run that made the D step alone."""
    torch.manual_seed(0)
    alone = tiny_module(k=2, updates="alternating", discriminator=NO_DROPOUT)
    fit(alone, tmp_path)

    torch.manual_seed(0)
    module = tiny_module(
        k=1, updates="alternating", discriminator=NO_DROPOUT, generator_objective=objective
    )
    noise = record_noise(module)
    g_before = parameters(module.generator)
    fit(module, tmp_path)

    d_alone = alone.discriminator.state_dict()
    assert all(torch.equal(v, d_alone[k]) for k, v in module.discriminator.state_dict().items())
    reference = tiny_module(k=1, discriminator=NO_DROPOUT)
    reference.generator.load_state_dict(g_before)
    reference.discriminator.load_state_dict(module.discriminator.state_dict())
    logits = reference.discriminator(reference.generator(noise[1]))  # noise[0]: D's fake batch
    if objective == "non_saturating":
        loss = -F.logsigmoid(logits).mean()  # G maximises log D(G(z))
    else:
        loss = F.logsigmoid(-logits).mean()  # G minimises log(1 - D(G(z)))
    loss.backward()
    lr = module.schedule.learning_rate(0)
    for name, p in reference.generator.named_parameters():
        expected = g_before[name] - lr * p.grad
        assert torch.allclose(module.generator.get_parameter(name), expected, atol=1e-7), name
    assert (int(module.discriminator_updates), int(module.iterations)) == (1, 1)


@pytest.mark.parametrize("objective", ["non_saturating", "minimax"])
def test_simultaneous_updates_take_both_gradients_at_the_same_parameters(tmp_path, objective):
    """The authors' AdversaryCost2: one batch of samples S = G(z); D's gradient of its loss on
    D(x) and D(S), G's gradient of its loss on the same D(S), both at the parameters before the
    update, then one SGD step each (G does not see the updated D)."""
    torch.manual_seed(0)
    module = tiny_module(discriminator=NO_DROPOUT, generator_objective=objective)
    assert module.hparams.updates == "simultaneous"  # the default, as the authors' code
    noise = record_noise(module)
    reference = tiny_module(discriminator=NO_DROPOUT)
    reference.load_state_dict(module.state_dict())
    fit(module, tmp_path)
    assert len(noise) == 1 and (int(module.discriminator_updates), int(module.iterations)) == (1, 1)

    real = module.preprocess(TinyImages().images["train"][:10])  # the first batch, unshuffled
    fake_logits = reference.discriminator(reference.generator(noise[0]))
    real_logits = reference.discriminator(real)
    loss_d = -0.5 * (F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())
    if objective == "non_saturating":
        loss_g = -F.logsigmoid(fake_logits).mean()
    else:
        loss_g = F.logsigmoid(-fake_logits).mean()
    d_params, g_params = (
        dict(reference.discriminator.named_parameters()),
        dict(reference.generator.named_parameters()),
    )
    d_grads = torch.autograd.grad(loss_d, list(d_params.values()), retain_graph=True)
    g_grads = torch.autograd.grad(loss_g, list(g_params.values()))
    lr = module.schedule.learning_rate(0)
    for net, params, grads in (
        (module.discriminator, d_params, d_grads),
        (module.generator, g_params, g_grads),
    ):
        for (name, p), grad in zip(params.items(), grads, strict=True):
            expected = p.detach() - lr * grad
            assert torch.allclose(net.get_parameter(name), expected, atol=1e-7), name


def test_simultaneous_updates_take_one_step_of_each_player():
    with pytest.raises(ValueError, match="simultaneous updates take one step of each player"):
        tiny_module(k=2, updates="simultaneous")
    with pytest.raises(ValueError, match="updates"):
        tiny_module(updates="interleaved")


def test_k_discriminator_steps_per_generator_step(tmp_path):
    torch.manual_seed(0)
    module = tiny_module(k=3, updates="alternating")
    fit(module, tmp_path, batches=4)  # D D D G, D
    assert (int(module.discriminator_updates), int(module.iterations)) == (4, 1)


def test_schedules_are_applied_per_update_and_per_epoch(tmp_path):
    schedule = {"base_lr": 0.1, "decay_factor": 2.0, "min_lr": 0.01, "momentum_saturate": 2}
    torch.manual_seed(0)
    module = tiny_module(schedule=schedule)
    trainer = fit(module, tmp_path, batches=3, epochs=2)  # iterations 0..5, epochs 0 and 1
    for optimizer in trainer.optimizers:
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(max(0.1 / 2**5, 0.01))  # the last update's
        assert group["momentum"] == pytest.approx(0.7)  # epoch 1 = saturate - start
    assert module.schedule.learning_rate(2) == pytest.approx(0.025)
    assert module.schedule.momentum(0) == 0.5


def test_same_seed_same_weights(tmp_path):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        module = tiny_module()
        fit(module, tmp_path, batches=3)
        runs.append(module.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    torch.manual_seed(0)
    other = tiny_module()
    fit(other, tmp_path, batches=3, seed=1)
    assert not torch.equal(other.generator.output.weight, runs[0]["generator.net.2.weight"])


def test_output_bias_starts_at_the_training_pixel_means(tmp_path):
    torch.manual_seed(0)
    module = tiny_module(init_output_bias_from_marginals=True)
    trainer = fit(module, tmp_path, batches=0)
    means = TinyImages().train_images().flatten(1).float().mean(0) / 255
    assert torch.allclose(torch.sigmoid(module.generator.output.bias), means, atol=1e-5)
    assert bool(module.output_bias_ready)
    with torch.no_grad():
        module.generator.output.bias.zero_()
    module.setup("test")  # not redone at test time (it would overwrite trained weights)
    assert trainer.datamodule is not None and torch.all(module.generator.output.bias == 0)


# --------------------------------------------------------------------------- evaluation


def test_test_metrics_follow_the_parzen_protocol_and_figure_2_is_written(tmp_path):
    torch.manual_seed(0)
    module = tiny_module(
        parzen={"num_samples": 50, "num_valid": 15, "batch_size": 7, "metric": "parzen_ll_tiny"}
    )
    trainer = fit(module, tmp_path, batches=2)
    [result] = trainer.test(module, datamodule=trainer.datamodule, verbose=False)
    data = TinyImages()
    expected = parzen_evaluation(
        module.samples(50),
        data.images["val"][:15].flatten(1).float() / 255,
        data.images["test"].flatten(1).float() / 255,
    )
    assert result["test/parzen_ll_tiny"] == pytest.approx(expected.mean, rel=1e-6)
    assert result["test/parzen_ll_tiny_se"] == pytest.approx(expected.standard_error, rel=1e-6)
    assert result["test/parzen_ll_tiny_sigma"] == pytest.approx(expected.sigma)
    assert torch.equal(module.samples(50), module.samples(50))  # fixed evaluation noise
    png = plt_imread(tmp_path / "figure2.png")
    assert png.shape[1] / png.shape[0] == pytest.approx((3 + 1) / 2, rel=0.05)  # 2 x (3 + 1)


def plt_imread(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(path)


def test_validation_logs_the_best_sigma_mean(tmp_path):
    torch.manual_seed(0)
    module = tiny_module()
    fit(module, tmp_path, batches=1)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    [result] = trainer.validate(module, datamodule=TinyImages(), verbose=False)
    valid = TinyImages().images["val"][:15].flatten(1).float() / 255
    expected = parzen_evaluation(module.samples(50), valid, valid)
    assert result["val/parzen_ll"] == pytest.approx(expected.mean, rel=1e-5)
    assert result["val/parzen_sigma"] == pytest.approx(expected.sigma)


# --------------------------------------------------------------------------- inputs


def test_global_contrast_normalisation():
    x = torch.rand(5, 12) * 255
    y = global_contrast_normalize(x, scale=55.0)
    assert torch.allclose(y.mean(1), torch.zeros(5), atol=1e-5)
    assert torch.allclose(y.norm(dim=1), torch.full((5,), 55.0))
    assert torch.equal(global_contrast_normalize(torch.ones(2, 4)), torch.zeros(2, 4))


def test_gcn_images_are_drawn_in_unit_range():
    module = tiny_module(channels=3, preprocess="gcn")
    images = torch.randint(0, 256, (6, 3, SIDE, SIDE), dtype=torch.uint8)
    shown = module.for_display(module.preprocess(images))
    assert shown.shape == (6, SIDE * SIDE * 3) and shown.min() >= 0 and shown.max() <= 1
    assert torch.allclose((shown - 0.5).abs().amax(1), torch.full((6,), 0.5))


def test_bad_arguments_and_wrong_image_shape_raise():
    with pytest.raises(ValueError, match="k must be >= 1"):
        tiny_module(k=0)
    with pytest.raises(ValueError, match="generator_objective must be one of"):
        tiny_module(generator_objective="wasserstein")
    with pytest.raises(ValueError, match="preprocess must be one of"):
        tiny_module(preprocess="zca")
    with pytest.raises(ValueError, match=r"images of shape \(1, 8, 8\); the model expects"):
        tiny_module().preprocess(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


# --------------------------------------------------------------------------- data


def test_index_split_takes_the_last_images_as_validation(tmp_path):
    kwargs = {
        "dataset": "digits",
        "data_dir": str(tmp_path),
        "cache_dir": str(tmp_path),
        "batch_size": 10,
        "num_classes": 10,
        "channels": 1,
        "val_size": 300,
    }
    data = ImageDataModule(**kwargs, split_by="position")
    data.setup()
    train = load_digits_images()["train_images"]
    assert torch.equal(data.splits["train"].tensors[0], train[:-300])
    assert torch.equal(data.splits["val"].tensors[0], train[-300:])
    assert torch.equal(data.train_images(), train[:-300])
    shuffled = ImageDataModule(**kwargs)
    shuffled.setup()
    assert not torch.equal(shuffled.splits["val"].tensors[0], train[-300:])
    limited = ImageDataModule(**kwargs, split_by="position", train_size=100)
    limited.setup()
    assert torch.equal(limited.splits["train"].tensors[0], train[:100])


def test_tfd_splits_a_fold_as_pylearn2(tmp_path):
    from scipy.io import savemat

    images = np.arange(8 * 48 * 48, dtype=np.uint8).reshape(8, 48, 48)
    folds = np.zeros((8, 5), dtype=np.int64)
    folds[:, 1] = [0, 0, 0, 1, 1, 2, 3, 3]  # fold 1: 3 unlabelled, 2 train, 1 valid, 2 test
    (tmp_path / "tfd").mkdir()
    savemat(tmp_path / "tfd" / "TFD_48x48.mat", {"images": images, "folds": folds})
    data = TFDDataModule(str(tmp_path), batch_size=2, fold=1)
    data.setup()
    sizes = {name: len(split) for name, split in data.splits.items()}
    assert sizes == {"train": 3, "val": 1, "test": 2}
    assert torch.equal(data.train_images()[:, 0], torch.from_numpy(images[:3]))
    assert torch.equal(data.splits["test"].tensors[0][:, 0], torch.from_numpy(images[6:]))
    with pytest.raises(ValueError, match="TFD has folds 0-4"):
        TFDDataModule(str(tmp_path), batch_size=2, fold=5).setup()


def test_missing_tfd_names_the_file(tmp_path):
    with pytest.raises(MissingDataError, match=r"tfd/TFD_48x48\.mat"):
        TFDDataModule(str(tmp_path), batch_size=2).setup()


# --------------------------------------------------------------------------- configs


def test_paper_preset_is_the_authors_mnist_configuration(make_config):
    cfg = make_config("paper=gan", "preset=paper")
    assert cfg.data.split_by == "position"
    assert (cfg.data.dataset, cfg.data.val_size, cfg.data.batch_size) == ("mnist", 10000, 100)
    m = cfg.model
    assert (m.k, m.generator_objective, m.channels, m.image_size) == (1, "non_saturating", 1, 28)
    assert m.updates == "simultaneous"  # AdversaryCost2: both players from one forward pass
    assert list(m.generator.hidden_dims) == [1200, 1200]
    assert list(m.discriminator.num_units) == [240, 240]
    assert (m.schedule.base_lr, m.schedule.decay_factor, m.schedule.min_lr) == (0.1, 1.000004, 1e-6)
    assert (m.parzen.num_samples, m.parzen.num_valid) == (10000, 1000)
    assert cfg.callbacks.monitor == "val/parzen_ll" and cfg.callbacks.mode == "max"


def test_other_data_sets_compose(make_config):
    cifar = make_config("paper=gan", "preset=paper", "data=gan/cifar10", "recipe=gan/cifar10")
    assert (cifar.data.dataset, cifar.data.val_size) == ("cifar10", 10000)
    assert (cifar.model.channels, cifar.model.image_size, cifar.model.preprocess) == (3, 32, "gcn")
    assert list(cifar.model.generator.hidden_activation) == ["relu", "sigmoid"]
    assert cifar.model.parzen.metric == "parzen_ll_cifar10"
    tfd = make_config("paper=gan", "preset=paper", "data=gan/tfd", "recipe=gan/tfd")
    assert tfd.data._target_ == "papers.gan.data.TFDDataModule"
    assert tfd.model.image_size == 48 and tfd.model.parzen.metric == "parzen_ll_tfd"


def test_resume_is_exact(make_config, tmp_path):
    """Counters, momentum buffers and learning rates survive a stop and resume bit-identically."""
    from common.registry import get

    short = [
        "paper=gan",
        *get("gan").smoke_overrides,
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=none",
    ]
    whole = train(make_config(*short, run="whole"))
    train(make_config(*short, "trainer.max_epochs=1", run="split"))
    resumed = train(make_config(*short, f"ckpt_path={tmp_path / 'split'}", run="split"))
    a = torch.load(whole["last_checkpoint"], weights_only=True)
    b = torch.load(resumed["last_checkpoint"], weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert int(b["state_dict"]["iterations"]) == 4
    for state_a, state_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        assert state_a["param_groups"][0]["lr"] == state_b["param_groups"][0]["lr"]
        for key, buffers in state_a["state"].items():
            assert torch.equal(buffers["momentum_buffer"], state_b["state"][key]["momentum_buffer"])
    assert resumed["metrics"] == whole["metrics"]
    assert math.isfinite(resumed["metrics"]["test/parzen_ll"])
