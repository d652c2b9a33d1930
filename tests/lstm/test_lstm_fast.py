"""The fused update (papers/lstm/fast.py) against autograd's truncated gradient and plain SGD."""

import pytest
import torch
from helpers import quiet_trainer

from papers.lstm import fast, tasks
from papers.lstm.bench import lstm_cell_timings
from papers.lstm.data import SequenceDataModule
from papers.lstm.model import build_network, squared_error
from papers.lstm.module import LSTMModule


def autograd_update(network: torch.nn.Module, batch: tasks.Batch, learning_rate: float) -> None:
    """What training without fast.py does: SGD on the batch's summed error, by autograd."""
    network.zero_grad(set_to_none=True)
    squared_error(network(batch.inputs), batch.targets, batch.mask).sum().backward()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter -= learning_rate * parameter.grad


@pytest.mark.parametrize(
    ("task", "options", "kwargs", "batch_size"),
    [
        ("4", {}, {}, 1),  # the adding problem online: full connectivity, all biases
        ("6a", {}, {"output_activation": "linear"}, 3),  # gate biases only, linear outputs, batch
        ("2a", {"p": 6}, {}, 1),  # layered, no output gate, input -> output connections
    ],
)
def test_fused_updates_give_autograds_weights(task, options, kwargs, batch_size):
    settings = tasks.task_settings(task, **options)
    torch.manual_seed(0)
    fused = build_network("1997", **{**settings.network_kwargs(), **kwargs})
    reference = build_network("1997", **{**settings.network_kwargs(), **kwargs})
    reference.load_state_dict(fused.state_dict())
    initial = fused.weight_input.detach().clone()
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        batch = tasks.generate(settings, batch_size, generator)
        expected = reference(batch.inputs).detach()
        autograd_update(reference, batch, settings.learning_rate)
        # every weight gets a gradient: no term of it can vanish on both sides unnoticed
        assert all(bool(p.grad.abs().sum() > 0) for p in reference.parameters())
        outputs = fast.sequence_update(
            fused, batch.inputs, batch.targets, batch.mask, settings.learning_rate
        )
        torch.testing.assert_close(outputs, expected, atol=1e-6, rtol=0)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(fused.state_dict()[name], value, atol=1e-6, rtol=0)
    assert not torch.equal(fused.weight_input, initial)


@pytest.mark.parametrize(
    ("g", "h", "output_gate"),
    [("logistic_pm2", "logistic_pm1", True), ("logistic", "identity", False)],
)
def test_online_trajectory_is_the_networks_recurrence(g, h, output_gate):
    settings = tasks.task_settings("4")
    torch.manual_seed(0)
    network = build_network(
        "1997", **{**settings.network_kwargs(), "g": g, "h": h, "output_gate": output_gate}
    )
    drive = torch.randn(1, 30, network.n_hidden)
    hidden = fast.online_trajectory(network, drive[0].numpy())
    expected = network._hidden_trajectory(drive)[0]
    torch.testing.assert_close(torch.from_numpy(hidden), expected, atol=1e-6, rtol=1e-5)


def test_fused_update_refuses_other_networks():
    settings = tasks.task_settings("4")
    batch = tasks.generate(settings, 1, torch.Generator().manual_seed(0))
    for network in (
        build_network("forget_gate", **settings.network_kwargs()),
        build_network("1997", **settings.network_kwargs(), gradient="full"),
        build_network("torch_lstm", **settings.network_kwargs()),
    ):
        assert not fast.applies(network)
        with pytest.raises(ValueError, match="needs the 1997 network"):
            fast.sequence_update(network, batch.inputs, batch.targets, batch.mask, 0.5)


def test_online_training_uses_the_fused_update_with_autograds_result(monkeypatch, tmp_path):
    def trained(use_fast: bool) -> LSTMModule:
        monkeypatch.setattr(fast, "applies", fast.applies if use_fast else lambda network: False)
        torch.manual_seed(0)
        module = LSTMModule("4", {"T": 20})
        trainer = quiet_trainer(
            tmp_path, 1, accelerator="cpu", limit_val_batches=0, enable_checkpointing=False
        )
        trainer.fit(module, SequenceDataModule("4", {"T": 20}, batch_size=1, sequences_per_epoch=6))
        return module

    with_fast = trained(True)
    assert with_fast.manual_update is fast.sequence_update
    assert not with_fast.automatic_optimization
    assert int(with_fast.sequences_seen) == 6 and with_fast.trainer.global_step == 6
    without = trained(False)
    assert without.manual_update is None and without.automatic_optimization
    for name, value in without.net.state_dict().items():
        torch.testing.assert_close(with_fast.net.state_dict()[name], value, atol=1e-6, rtol=0)
    assert with_fast.trainer.callback_metrics["train/loss"] == pytest.approx(
        float(without.trainer.callback_metrics["train/loss"]), abs=1e-6
    )


def test_benchmark_times_the_fused_update():
    timings = lstm_cell_timings(batch_size=2, T=20, repeats=2)
    assert timings["lstm1997_fused_s"] > 0
    low, high = timings["ratio_1997_fused_to_torch_low"], timings["ratio_1997_fused_to_torch_high"]
    assert 0 < low <= timings["ratio_1997_fused_to_torch"] <= high
