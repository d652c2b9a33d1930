"""Real-time learning (papers/lstm/realtime.py): eqs. (19)-(28) step by step against autograd."""

from types import SimpleNamespace

import lightning as L
import pytest
import torch

from common.callbacks import StopOnNonFiniteLoss
from papers.lstm import tasks
from papers.lstm.data import SequenceDataModule
from papers.lstm.model import build_network, squared_error
from papers.lstm.module import LSTMModule
from papers.lstm.realtime import realtime_update, step_descents

PARAMETER_NAMES = {
    "input": "weight_input",
    "recurrent": "weight_recurrent",
    "bias_cells": "bias_cells",
    "bias_gates": "bias_gates",
    "output": "weight_output",
    "output_input": "weight_output_input",
    "bias_output": "bias_output",
}


def network_and_batch(task: str, **options):
    torch.manual_seed(0)
    settings = tasks.task_settings(task, **options)
    network = build_network("1997", **settings.network_kwargs())
    generator = torch.Generator().manual_seed(1)
    if task == "1":
        return network, tasks.embedded_reber(3, generator=generator)
    return network, tasks.generate(settings, 3, generator)


@pytest.mark.parametrize(
    ("task", "options"),
    [("1", {}), ("4", {"T": 20}), ("2a", {"p": 6})],  # full / gate biases, all biases, layered
)
def test_steps_sum_to_the_truncated_gradient_of_the_sequences(task, options):
    network, batch = network_and_batch(task, **options)
    outputs = network(batch.inputs)
    squared_error(outputs, batch.targets, batch.mask).sum().backward()
    totals, step_outputs = {}, []
    for y_k, descent in step_descents(network, batch.inputs, batch.targets, batch.mask):
        step_outputs.append(torch.from_numpy(y_k))
        for name, value in descent.items():
            totals[name] = totals.get(name, 0.0) + torch.from_numpy(value)
    torch.testing.assert_close(torch.stack(step_outputs, 1), outputs.detach())
    assert {PARAMETER_NAMES[name] for name in totals} == {
        name for name, _ in network.named_parameters()
    }
    for name, total in totals.items():  # the descent direction is minus the gradient
        gradient = getattr(network, PARAMETER_NAMES[name]).grad
        torch.testing.assert_close(total, -gradient, atol=1e-6, rtol=1e-4)


def test_with_errors_only_at_the_end_real_time_is_one_update_per_sequence():
    network, batch = network_and_batch("4", T=20)
    sequence = batch.select(slice(0, 1))
    reference = build_network("1997", **tasks.task_settings("4", T=20).network_kwargs())
    reference.load_state_dict(network.state_dict())
    squared_error(reference(sequence.inputs), sequence.targets, sequence.mask).sum().backward()
    with torch.no_grad():
        realtime_update(network, sequence.inputs, sequence.targets, sequence.mask, 0.5)
    for name, parameter in network.named_parameters():
        expected = getattr(reference, name) - 0.5 * getattr(reference, name).grad
        torch.testing.assert_close(parameter.detach(), expected.detach())


def test_with_errors_at_every_step_later_steps_see_the_changed_weights():
    network, batch = network_and_batch("1")
    sequence = batch.select(slice(0, 1))
    before = network(sequence.inputs).detach()
    with torch.no_grad():
        during = realtime_update(network, sequence.inputs, sequence.targets, sequence.mask, 0.5)
    after = network(sequence.inputs).detach()
    torch.testing.assert_close(during[:, 0], before[:, 0])  # the first step: weights as given
    assert not torch.allclose(during[:, 1:], before[:, 1:])  # changed after the first step
    assert not torch.allclose(after, during)  # and again after the last


def test_module_learns_in_real_time_where_errors_come_at_every_step():
    assert LSTMModule("1").update == "step"
    assert LSTMModule("2a", {"p": 5}).update == "step"
    assert LSTMModule("4").update == "sequence"  # errors only at the end: the same thing
    assert LSTMModule("1", network="forget_gate").update == "sequence"
    assert LSTMModule("1", gradient="full").update == "sequence"
    assert not LSTMModule("1").automatic_optimization
    with pytest.raises(ValueError, match="needs the 1997 network"):
        LSTMModule("1", network="torch_lstm", update="step")
    with pytest.raises(ValueError, match="update must be one of"):
        LSTMModule("1", update="epoch")


def test_training_step_applies_the_real_time_updates_of_its_sequences(tmp_path):
    torch.manual_seed(0)
    module = LSTMModule("1")
    before = {name: value.clone() for name, value in module.net.state_dict().items()}

    def data() -> SequenceDataModule:
        return SequenceDataModule("1", batch_size=1, sequences_per_epoch=2, seed=3)

    fit = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[StopOnNonFiniteLoss(tmp_path / "last.ckpt")],  # reads the loss each step returns
    )
    fit.fit(module, data())
    reference = build_network("1997", **tasks.SETTINGS["1"].network_kwargs())
    reference.load_state_dict(before)
    draws = data()
    draws.setup()
    with torch.no_grad():
        for batch in draws.train_dataloader():
            realtime_update(reference, batch.inputs, batch.targets, batch.mask, 0.5)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(module.net.state_dict()[name], value)
    assert int(module.sequences_seen) == 2
    # Each string counts as an optimizer step (checkpoints and max_steps depend on it).
    assert fit.global_step == 2


def test_real_time_learning_refuses_several_processes():
    module = LSTMModule("1")
    module.trainer = SimpleNamespace(world_size=2)
    with pytest.raises(ValueError, match="runs in one process only"):
        module.on_fit_start()
