"""GreedyModule (papers/greedy/module.py): the Table 2 rows laid out over epochs, the updates
each stage applies, installing the pre-trained layers once, early stopping, exact resume."""

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import digit_batch as batch
from helpers import quiet_trainer as trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from common.data import ImageDataModule
from common.reproducibility import RNGState
from papers.greedy.model import GreedySupervised, StackedAutoAssociators, StackedRBMs
from papers.greedy.module import GreedyModule, inputs

pytestmark = pytest.mark.usefixtures("one_thread")


def module(**overrides) -> GreedyModule:
    torch.manual_seed(0)
    settings = dict(n_inputs=64, width=12, pretrain_epochs=2, patience=None)
    return GreedyModule(**{**settings, **overrides})


def digits(tmp_path: Path, batch_size: int = 20) -> ImageDataModule:
    return ImageDataModule(
        dataset="digits",
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path),
        batch_size=batch_size,
        num_classes=10,
        channels=1,
        val_size=180,
    )


def hidden_widths(m: GreedyModule) -> list[int]:
    return [layer.out_features for layer in m.net.hidden]


# ----- the Table 2 rows ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("init", "pretrainer", "layers"),
    [
        ("dbn", StackedRBMs, [0, 0, 1, 1, 2, 2, None]),
        ("autoassociator", StackedAutoAssociators, [0, 0, 1, 1, 2, 2, None]),
        ("supervised", GreedySupervised, [0, 0, 1, 1, 2, 2, None]),
        ("none", type(None), [None] * 7),
        ("shallow", type(None), [None] * 7),
    ],
)
def test_each_row_pretrains_its_layers_one_after_another_then_fine_tunes(
    init, pretrainer, layers
) -> None:
    m = module(init=init)
    assert isinstance(m.pretrainer, pretrainer)
    assert [m.pretrain_layer(e) for e in range(7)] == layers
    assert hidden_widths(m) == ([12] if init == "shallow" else [12, 12, 12])


def test_experiment_3_has_a_20_unit_top_layer_and_its_shallow_net_only_that_layer() -> None:
    assert hidden_widths(module(table_2_column=3)) == [12, 12, 20]
    assert hidden_widths(module(table_2_column=3, init="shallow")) == [20]


def test_pretrain_update_is_the_rows_layer_wise_step_and_leaves_the_net_alone() -> None:
    m = module(init="dbn", pretrain_learning_rate=0.03)
    images, labels = batch()
    x = inputs(images)
    reference = copy.deepcopy(m.pretrainer)
    net_before = copy.deepcopy(m.net.state_dict())
    torch.manual_seed(3)
    loss = m.pretrain_update(1, x, labels)
    torch.manual_seed(3)
    expected = reference.step(1, x, labels, learning_rate=0.03)
    assert torch.equal(loss, expected["reconstruction_error"])
    for key, value in m.pretrainer.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
    assert all(torch.equal(v, net_before[k]) for k, v in m.net.state_dict().items())


def test_partially_supervised_first_layer_uses_its_own_supervised_rate() -> None:
    m = module(init="dbn", partially_supervised=True, supervised_pretrain_learning_rate=0.2)
    images, labels = batch()
    x = inputs(images)
    reference = copy.deepcopy(m.pretrainer)
    torch.manual_seed(4)
    m.pretrain_update(0, x, labels)
    torch.manual_seed(4)
    reference.step(0, x, labels, learning_rate=0.05, supervised_learning_rate=0.2)
    for key, value in m.pretrainer.state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key
    assert m.pretrainer.first_layer_output is not None


def test_pre_trained_layers_are_installed_once_at_the_first_fine_tuning_epoch() -> None:
    m = module(init="autoassociator")
    with torch.no_grad():
        for layer in m.pretrainer.layers:
            layer.W.normal_()
    m.trainer = SimpleNamespace(current_epoch=5)  # the last pre-training epoch
    m.on_train_epoch_start()
    assert not m.installed
    m.trainer = SimpleNamespace(current_epoch=6)
    m.on_train_epoch_start()
    assert m.installed
    for aa, linear in zip(m.pretrainer.layers, m.net.hidden, strict=True):
        assert torch.equal(linear.weight, aa.W.T) and torch.equal(linear.bias, aa.hidden_bias)
    with torch.no_grad():
        m.net.hidden[0].weight.zero_()  # fine-tuned since: a second call must not overwrite
    m.on_train_epoch_start()
    assert m.net.hidden[0].weight.abs().sum() == 0


def test_fine_tune_update_is_one_plain_gradient_step_on_the_label_nll() -> None:
    m = module(init="none", finetune_learning_rate=0.3)
    images, labels = batch()
    x = inputs(images)
    before = [p.detach().clone() for p in m.net.parameters()]
    loss = torch.nn.functional.cross_entropy(m.net(x), labels)
    gradients = torch.autograd.grad(loss, list(m.net.parameters()))
    returned = m.finetune_update(x, labels)
    assert torch.equal(returned, loss.detach())
    for after, start, gradient in zip(m.net.parameters(), before, gradients, strict=True):
        assert torch.allclose(after, start - 0.3 * gradient)


def test_early_stopping_counts_epochs_without_a_lower_validation_error() -> None:
    m = module(patience=2)
    m.trainer = SimpleNamespace(should_stop=False)
    stops = []
    for error in (0.5, 0.4, 0.45, 0.4, 0.3, 0.3, 0.31):
        m.early_stopping(torch.tensor(error))
        stops.append(m.trainer.should_stop)
    assert stops == [False, False, False, True, True, True, True]
    assert m.best_val_error == pytest.approx(0.3)
    assert int(m.epochs_without_improvement) == 2


# ----- training with Lightning ---------------------------------------------------------------
def test_a_run_pretrains_each_layer_then_fine_tunes_and_learns(tmp_path) -> None:
    m = module(
        init="autoassociator",
        width=64,
        pretrain_epochs=2,
        pretrain_learning_rate=0.1,
        finetune_learning_rate=0.5,
    )
    data = digits(tmp_path, batch_size=10)
    t = trainer(tmp_path, max_epochs=14)  # 3 x 2 pre-training epochs, 8 of fine-tuning
    torch.manual_seed(0)
    t.fit(m, datamodule=data)
    assert t.global_step == 14 * len(data.train_dataloader())  # one step per update
    assert m.installed and t.callback_metrics["train/layer"] == 3  # the whole net, last
    [result] = t.test(m, datamodule=data, verbose=False)
    assert result["test/error"] < 0.15  # chance is 0.9; 0.047 with this seed


def test_early_stopping_ends_a_run_whose_validation_error_stops_improving(tmp_path) -> None:
    m = module(init="none", finetune_learning_rate=0.0, patience=2)  # the net never changes
    t = trainer(tmp_path, max_epochs=10, limit_train_batches=2)
    t.fit(m, datamodule=digits(tmp_path))
    assert t.current_epoch == 3  # the first epoch sets the best error, two more do not beat it
    assert int(m.epochs_without_improvement) == 2


def test_resume_across_the_installation_is_exact(tmp_path) -> None:
    def run(folder: Path, epochs: int, ckpt: str | None = None) -> GreedyModule:
        m = module(init="supervised", pretrain_epochs=1, patience=3)
        t = trainer(
            folder,
            max_epochs=epochs,
            limit_train_batches=4,
            limit_val_batches=2,
            callbacks=[ModelCheckpoint(dirpath=folder, save_last=True), RNGState()],
        )
        torch.manual_seed(0)
        t.fit(m, datamodule=digits(folder), ckpt_path=ckpt)
        return m

    whole = run(tmp_path / "whole", 6)
    run(tmp_path / "split", 4)  # three pre-training epochs, one of fine-tuning
    resumed = run(tmp_path / "split", 6, ckpt=str(tmp_path / "split" / "last.ckpt"))
    a, b = whole.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and "best_val_error" in a
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def test_images_of_another_size_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="the images have 64 pixels but model.n_inputs=784"):
        trainer(tmp_path, max_epochs=1).fit(module(n_inputs=784), datamodule=digits(tmp_path))
