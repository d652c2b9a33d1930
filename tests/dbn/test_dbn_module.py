"""DBNModule and DBNDataModule (papers/dbn/module.py, papers/dbn/data.py): the stages of
Section 6 laid out over epochs, the updates they apply, exact resume, classification, Figure 8."""

import copy
from pathlib import Path

import pytest
import torch
from helpers import digit_batch as batch
from helpers import quiet_trainer as trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from common.rbm import Increments
from common.reproducibility import RNGState
from papers.dbn.data import BalancedBatches, DBNDataModule, first_per_class
from papers.dbn.module import DBNModule, pixels

SIZES = [64, 16, 12, 20]


pytestmark = pytest.mark.usefixtures("one_thread")


def module(**overrides) -> DBNModule:
    torch.manual_seed(0)
    settings = dict(sizes=SIZES, greedy_epochs=2, up_down_epochs=3, generation_gibbs_steps=5)
    return DBNModule(**{**settings, **overrides})


def digits(tmp_path: Path, **overrides) -> DBNDataModule:
    settings = dict(
        dataset="digits",
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path),
        batch_size=20,
        num_classes=10,
        channels=1,
        val_size=180,
    )
    return DBNDataModule(**{**settings, **overrides})


# ----- stages --------------------------------------------------------------------------------
def test_epochs_are_laid_out_as_greedy_layers_then_up_down_with_cd_3_6_10() -> None:
    m = module(greedy_epochs=2, up_down_epochs=6)
    assert [m.greedy_layer(e) for e in range(8)] == [0, 0, 1, 1, 2, 2, None, None]
    # Up-down thirds use CD-3, 6, 10; epochs after up_down_epochs (all 60,000 images) keep CD-10.
    assert [m.cd_steps(e) for e in range(6, 14)] == [3, 3, 6, 6, 10, 10, 10, 10]
    with pytest.raises(ValueError, match="epoch 5 is in the greedy stage"):
        m.cd_steps(5)


def test_greedy_momentum_is_0_5_for_each_layers_first_epochs_then_0_9() -> None:
    m = module(greedy_epochs=4, greedy_momentum_switch=2)
    assert [m.greedy_momentum(e) for e in range(8)] == [0.5, 0.5, 0.9, 0.9] * 2


def test_greedy_update_is_rbm_m_cd_of_that_layer_only() -> None:
    m = module(greedy_epochs=10, greedy_momentum_switch=5)
    images, labels = batch()
    x = pixels(images)
    reference = copy.deepcopy(m.net)
    before = {k: v.clone() for k, v in m.net.state_dict().items()}
    torch.manual_seed(1)
    m.greedy_update(1, x, labels, epoch=16)  # layer 1, its 7th epoch: momentum 0.9
    torch.manual_seed(1)
    reference.greedy_step(1, x, labels, Increments(reference.rbms[1]), 0.1, 0.9, 2e-4)
    for key, value in m.net.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
        assert torch.equal(value, before[key]) == (not key.startswith("rbms.1.")), key
    assert m.greedy_increments[1]["W"].abs().sum() > 0
    assert m.greedy_increments[0]["W"].abs().sum() == 0


def test_up_down_update_uses_the_epochs_cd_steps_and_up_down_settings() -> None:
    m = module(up_down_learning_rate=0.05, up_down_momentum=0.5, up_down_weight_cost=1e-3)
    m.net.untie()
    images, labels = batch()
    x = pixels(images)
    reference = copy.deepcopy(m.net)
    torch.manual_seed(2)
    loss = m.up_down_update(x, labels, epoch=7)  # greedy 0-5, up-down epoch 1 of 3: CD-6
    torch.manual_seed(2)
    result = reference.up_down_step(x, labels, 6, Increments(reference), 0.05, 0.5, 1e-3)
    for key, value in m.net.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
    # The loss: the data reconstructed by the new generative weights from the wake hid states.
    hid = result.wake_states[1]
    assert torch.equal(loss, ((x - reference.generative[0](hid)) ** 2).sum(-1).mean())


# ----- training with Lightning ---------------------------------------------------------------
def test_a_run_unties_at_the_first_up_down_epoch_counts_steps_and_learns(tmp_path) -> None:
    m = module(sizes=[64, 32, 32, 64], greedy_epochs=2, up_down_epochs=3)
    data = digits(tmp_path)
    t = trainer(tmp_path, max_epochs=9)
    torch.manual_seed(0)
    t.fit(m, datamodule=data)
    batches_per_epoch = len(data.train_dataloader())
    assert t.global_step == 9 * batches_per_epoch  # each hand-made update counts as a step
    assert bool(m.net.untied)
    assert t.callback_metrics["train/cd_steps"] == 10  # the last third of up-down
    [result] = t.test(m, datamodule=data, verbose=False)
    assert result["test/error"] < 0.5  # chance is 0.9; 0.375 with this seed
    assert (tmp_path / "figure8_samples.png").stat().st_size > 0


def test_resume_across_the_untying_is_exact(tmp_path) -> None:
    """Three greedy epochs (one per RBM), then up-down: stopped after the first up-down epoch
    and resumed, a run ends with bit-identical weights and momentum increments."""

    def run(folder: Path, epochs: int, ckpt: str | None = None) -> DBNModule:
        torch.manual_seed(0)
        m = module(greedy_epochs=1, up_down_epochs=3)
        t = trainer(
            folder,
            max_epochs=epochs,
            limit_train_batches=3,
            limit_val_batches=1,
            callbacks=[ModelCheckpoint(dirpath=folder, save_last=True), RNGState()],
        )
        t.fit(m, datamodule=digits(folder), ckpt_path=ckpt)
        return m

    whole = run(tmp_path / "whole", 5)
    run(tmp_path / "split", 4)
    resumed = run(tmp_path / "split", 5, ckpt=str(tmp_path / "split" / "last.ckpt"))
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert a["up_down_increments.generative__0__weight"].abs().sum() > 0


def test_images_of_another_size_are_refused(tmp_path) -> None:
    m = module(sizes=[784, 16, 12, 20])
    with pytest.raises(ValueError, match=r"the images have 64 pixels but model.sizes\[0\]=784"):
        trainer(tmp_path, max_epochs=1).fit(m, datamodule=digits(tmp_path))


# ----- classification and generation ---------------------------------------------------------
def test_classification_is_the_lowest_free_energy_after_a_deterministic_up_pass() -> None:
    m = module()
    images, labels = batch()
    x = pixels(images)
    # Greedy stage: the up-pass goes through the RBMs' own weights.
    hid = torch.sigmoid(x @ m.net.rbms[0].W + m.net.rbms[0].hidden_bias)
    pen = torch.sigmoid(hid @ m.net.rbms[1].W + m.net.rbms[1].hidden_bias)
    free_energies = m.net.top.label_free_energies(pen)
    assert torch.equal(m.label_log_probabilities(x).argmax(-1), free_energies.argmin(-1))
    assert torch.allclose(m.label_log_probabilities(x), torch.log_softmax(-free_energies, -1))
    m.net.untie()  # same weights, now through the recognition weights: same answer
    assert torch.allclose(m.label_log_probabilities(x), torch.log_softmax(-free_energies, -1))
    assert m.error(x, labels) == (free_energies.argmin(-1) != labels).float().mean()


def test_figure_8_samples_one_row_per_clamped_label_without_untying_the_model(tmp_path) -> None:
    m = module(samples_per_label=3, sample_seed=4)
    samples = m.samples()
    assert samples.shape == (10, 3, 64)
    assert ((samples >= 0) & (samples <= 1)).all()
    assert not m.net.untied  # a tied copy was untied for sampling
    assert torch.equal(samples, m.samples())  # its own seed: the same figure each time
    twin = copy.deepcopy(m.net)
    twin.untie()
    labels = torch.arange(10).repeat_interleave(3)
    expected = twin.generate(labels, 5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(samples.flatten(0, 1), expected)
    m.save_samples(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


# ----- data ----------------------------------------------------------------------------------
def test_balanced_batches_hold_the_same_number_of_each_class_and_reshuffle() -> None:
    labels = torch.tensor([0] * 7 + [1] * 5 + [2] * 6)
    sampler = BalancedBatches(labels, batch_size=6, num_classes=3)
    first, second = list(sampler), list(sampler)
    assert len(sampler) == len(first) == 2  # the smallest class (5) fills two batches of 2
    for batches in (first, second):
        for indices in batches:
            assert torch.bincount(labels[indices], minlength=3).tolist() == [2, 2, 2]
        flat = [i for b in batches for i in b]
        assert len(set(flat)) == len(flat)
    torch.manual_seed(0)
    orders = {tuple(map(tuple, sampler)) for _ in range(5)}
    assert len(orders) > 1
    with pytest.raises(ValueError, match="multiple of the number of classes"):
        BalancedBatches(labels, batch_size=5, num_classes=3)


def test_first_per_class_keeps_a_balanced_subset() -> None:
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0])
    assert first_per_class(labels, 2, 3).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="class 1 has only 2 training images"):
        first_per_class(labels, 3, 3)


def test_datamodule_switches_to_all_training_images_at_the_given_epoch(tmp_path) -> None:
    data = digits(tmp_path, per_class=50, all_training_from_epoch=2)
    data.setup()
    assert torch.bincount(data.splits["train"].tensors[1]).tolist() == [50] * 10
    data.trainer = trainer(tmp_path, max_epochs=3, reload_dataloaders_every_n_epochs=1)
    data.trainer.fit_loop.epoch_progress.current.completed = 1  # current_epoch = 1
    balanced = data.train_dataloader()
    assert len(balanced) == 25 and balanced.batch_sampler.per_class == 2
    data.trainer.fit_loop.epoch_progress.current.completed = 2
    everything = data.train_dataloader()
    assert len(everything.dataset) == 1437  # the training and validation images
    data.trainer = trainer(tmp_path, max_epochs=3)  # dataloaders built once
    with pytest.raises(ValueError, match="reload_dataloaders_every_n_epochs=1"):
        data.train_dataloader()


def test_unbalanced_loader_when_asked(tmp_path) -> None:
    data = digits(tmp_path, balanced=False)
    data.setup()
    loader = data.train_dataloader()
    assert isinstance(loader, DataLoader) and loader.batch_size == 20
    assert isinstance(loader.dataset, TensorDataset)
