"""LSTMModule and SequenceDataModule: online updates, stopping rules, success criterion, resume."""

import dataclasses

import lightning as L
import pytest
import torch

from papers.lstm import tasks
from papers.lstm.bench import lstm_cell_timings
from papers.lstm.data import SequenceDataModule, TrainingSequences
from papers.lstm.model import squared_error
from papers.lstm.module import LSTMModule, criterion_met
from papers.lstm.tasks import StoppingRule

SHORT = {"T": 20}  # the adding problem with its shortest legal sequences


def trainer(**kwargs) -> L.Trainer:
    options = {
        "accelerator": "cpu",
        "max_epochs": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    return L.Trainer(**{**options, **kwargs})


def adding_data(batch_size: int = 4, sequences_per_epoch: int = 16, **kwargs) -> SequenceDataModule:
    return SequenceDataModule(
        "4",
        SHORT,
        batch_size=batch_size,
        sequences_per_epoch=sequences_per_epoch,
        val_size=8,
        test_size=12,
        eval_batch_size=5,
        **kwargs,
    )


def with_rule(module: LSTMModule, **rules: StoppingRule) -> LSTMModule:
    module.settings = dataclasses.replace(module.settings, **rules)
    if "stop" in rules and rules["stop"].source == "recent":
        module.recent = tasks.RecentSequences(rules["stop"].size)
    return module


class Constant(torch.nn.Module):
    """A stand-in network whose every output is ``value``."""

    def __init__(self, n_out: int, value: float) -> None:
        super().__init__()
        self.n_out, self.value = n_out, value
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.full((*inputs.shape[:2], self.n_out), self.value)


def test_an_update_adds_the_online_steps_of_its_sequences_at_the_papers_rate():
    torch.manual_seed(0)
    module = LSTMModule("4", SHORT)
    assert module.learning_rate == 0.5  # Table 10, Exp. 4
    before = {k: v.clone() for k, v in module.net.named_parameters()}
    trainer(max_steps=1).fit(module, adding_data(batch_size=3, seed=7))
    # The first batch is the first draw of the training generator seeded with data.seed.
    batch = tasks.generate(module.settings, 3, torch.Generator().manual_seed(7))
    expected = {k: torch.zeros_like(v) for k, v in before.items()}
    reference = LSTMModule("4", SHORT)
    reference.net.load_state_dict(before)
    for i in range(3):  # one sequence at a time, as the paper's online learning computes them
        reference.net.zero_grad()
        sequence = batch.select(slice(i, i + 1))
        outputs = reference.net(sequence.inputs)
        squared_error(outputs, sequence.targets, sequence.mask).sum().backward()
        for name, parameter in reference.net.named_parameters():
            expected[name] += parameter.grad
    for name, parameter in module.net.named_parameters():
        torch.testing.assert_close(parameter.detach(), before[name] - 0.5 * expected[name])
    assert int(module.sequences_seen) == 3


def test_learning_rate_is_the_experiments_unless_given():
    assert LSTMModule("3c").learning_rate == 0.1
    assert LSTMModule("6b", network="torch_lstm").learning_rate == 0.1
    assert LSTMModule("4", learning_rate=0.05).configure_optimizers().param_groups[0]["lr"] == 0.05


def test_task_given_as_an_integer_is_the_same_experiment():
    assert LSTMModule(4).settings == tasks.SETTINGS["4"]
    with pytest.raises(ValueError, match="task must be one of"):
        LSTMModule("7")


def test_rule_on_recent_sequences_stops_training_where_it_holds():
    module = with_rule(LSTMModule("4", SHORT), stop=StoppingRule("recent", 8, max_wrong=8))
    fit = trainer(max_epochs=5)
    fit.fit(module, adding_data(batch_size=4, sequences_per_epoch=16))
    # 8 recent sequences exist after the second batch: the rule (any 8 will do) holds there.
    assert int(module.sequences_to_success) == 8
    assert fit.global_step == 2  # of the 4 batches an epoch holds, and 5 epochs allowed
    assert fit.callback_metrics["train/success"] == 1.0
    assert fit.callback_metrics["train/sequences_to_success"] == 8.0
    assert fit.callback_metrics["train/sequences_to_stop"] == 8.0
    assert "val/sequences_seen" in fit.callback_metrics  # validation ran where training stopped


def test_rules_on_a_test_sample_are_checked_on_the_validation_set():
    module = LSTMModule("3a", {"T": 20})
    lenient = StoppingRule("test", 256, max_wrong=256)
    never = StoppingRule("test", 256, max_wrong=0, max_mean_abs_error=0.0)
    with_rule(module, first_stop=lenient, stop=never)
    data = SequenceDataModule("3a", {"T": 20}, batch_size=4, sequences_per_epoch=8)
    fit = trainer(max_epochs=2)
    fit.fit(module, data)
    assert sum(len(chunk.inputs) for chunk in data.splits["val"]) == 256  # ST1/ST2's sample
    assert int(module.sequences_to_st1) == 8  # met at the first validation
    assert int(module.sequences_to_success) == -1 and fit.current_epoch == 2  # ran to the end
    assert fit.callback_metrics["train/success"] == 0.0
    assert fit.callback_metrics["train/sequences_to_stop"] == float("inf")  # never met


def test_test_metrics_count_the_sequences_outside_the_tolerance():
    module = LSTMModule("4", SHORT)
    module.net = Constant(1, 0.5)
    data = adding_data()
    results = trainer().test(module, data, verbose=False)[0]
    targets = torch.cat([chunk.targets.amax(dim=(1, 2)) for chunk in data.splits["test"]])
    wrong = int(((targets - 0.5).abs() >= 0.04).sum())  # Exp. 4: |error| < 0.04 is correct
    assert results["test/size"] == 12
    assert results["test/wrong_predictions"] == wrong > 0
    assert results["test/fraction_misclassified"] == pytest.approx(wrong / 12)
    assert results["test/mean_abs_error"] == pytest.approx(float((targets - 0.5).abs().mean()))
    assert results["test/success"] == 0.0


def test_success_criterion_scales_the_stopping_rule_to_the_test_set():
    st3 = tasks.SETTINGS["4"].stop  # 0 wrong of 2000 and mean E < 0.01
    correct, small = torch.ones(2560, dtype=torch.bool), torch.full((2560,), 0.005)
    assert criterion_met(st3, correct, small, small)
    assert not criterion_met(st3, correct, small, small * 3)
    assert criterion_met(st3, correct, small * 3, small)  # ST3 bounds E, not the mean |error|
    correct[0] = False
    assert not criterion_met(st3, correct, small, small)
    multiplication = tasks.SETTINGS["5"].stop  # fewer than 140 of 2000 wrong
    wrong = torch.arange(2560) >= int(2560 * 139 / 2000)
    assert criterion_met(multiplication, wrong, small, small)
    assert not criterion_met(multiplication, torch.arange(2560) >= 178 + 1, small, small)
    st2 = tasks.SETTINGS["3a"].stop  # mean |error| < 0.01
    assert not criterion_met(st2, torch.ones(2560, dtype=torch.bool), small * 3, small)


def test_memory_cell_is_added_once_the_error_stops_decreasing():
    module = LSTMModule("2a", {"p": 5}, plateau_window=4, plateau_tolerance=0.1)
    assert not module.memory_added and module.grows_memory
    module(torch.zeros(1, 5, 6))
    assert not module.net.memory_enabled  # the output units ignore the cell until then
    module.watch_plateau(torch.tensor([4.0, 4.0]))
    module.watch_plateau(torch.tensor([4.0, 4.0]))  # window 1: mean 4
    module.watch_plateau(torch.tensor([3.0, 3.0, 3.0, 3.0]))  # window 2: 3, 25% lower
    assert not module.memory_added
    module.watch_plateau(torch.tensor([2.8, 3.2, 2.5, 2.9]))  # window 3: 2.85, only 5% lower
    assert module.memory_added
    module(torch.zeros(1, 5, 6))
    assert module.net.memory_enabled
    assert LSTMModule("2a", {"p": 5}, network="tanh_rnn").memory_added  # nothing to add


def test_training_data_follow_the_seed_and_evaluation_sets_are_fixed():
    def first_batches(seed: int, eval_seed: int = 0):
        data = adding_data(seed=seed, eval_seed=eval_seed)
        data.setup()
        train = list(data.train_dataloader())
        return train, data.splits["val"].chunk(0), data.splits["test"].chunk(0)

    (a_train, a_val, a_test), (b_train, _, _) = first_batches(1), first_batches(1)
    c_train, c_val, c_test = first_batches(2)
    _, d_val, _ = first_batches(1, eval_seed=3)
    assert len(a_train) == 4 and a_train[0].inputs.shape[0] == 4  # 16 sequences of 4
    assert all(torch.equal(x.inputs, y.inputs) for x, y in zip(a_train, b_train, strict=True))
    assert not torch.equal(a_train[0].inputs, c_train[0].inputs)
    assert not torch.equal(a_train[0].inputs, a_train[1].inputs)  # fresh every step
    assert torch.equal(a_val.inputs, c_val.inputs) and torch.equal(a_test.inputs, c_test.inputs)
    assert not torch.equal(a_val.inputs, a_test.inputs)
    assert not torch.equal(a_val.inputs, d_val.inputs)


def test_reber_training_draws_from_the_fixed_strings_and_validates_on_all_512():
    data = SequenceDataModule("1", batch_size=8, sequences_per_epoch=8)
    data.setup()
    pool, test = data.splits["val"]
    assert len(pool.inputs) == 256 and len(test.inputs) == 256
    assert list(data.splits["test"]) == [test]
    (batch,) = list(data.train_dataloader())
    for inputs in batch.inputs:  # each drawn string is one of the 256 training strings
        steps = inputs.shape[0]
        matches = (pool.inputs[:, :steps] == inputs).all(dim=(1, 2))
        assert matches.any() and not pool.inputs[matches][:, steps:].any()


@pytest.mark.parametrize("update", ["sequence", "step"])
def test_resumed_run_repeats_the_uninterrupted_one(tmp_path, update):
    def run(epochs: int, ckpt_path=None) -> tuple[LSTMModule, SequenceDataModule, L.Trainer]:
        L.seed_everything(0)
        module = LSTMModule("4", SHORT, update=update)
        data = adding_data()
        fit = trainer(max_epochs=epochs, deterministic=True)
        fit.fit(module, data, ckpt_path=ckpt_path)
        return module, data, fit

    straight, _, _ = run(2)
    first, _, fit = run(1)
    fit.save_checkpoint(tmp_path / "epoch1.ckpt")
    resumed, _, resumed_fit = run(2, ckpt_path=tmp_path / "epoch1.ckpt")
    assert int(resumed.sequences_seen) == int(straight.sequences_seen) == 32
    assert resumed_fit.global_step == 8  # 2 epochs of 4 updates, the real-time ones included
    torch.testing.assert_close(resumed.recent.abs_error, straight.recent.abs_error)
    torch.testing.assert_close(resumed.recent.error, straight.recent.error)
    for a, b in zip(resumed.parameters(), straight.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert not torch.equal(first.net.weight_output, straight.net.weight_output)


def test_benchmark_reports_both_networks_and_their_ratio():
    timings = lstm_cell_timings(batch_size=2, T=20, repeats=2)
    assert {"lstm1997_s", "torch_lstm_s", "lstm1997_full_bptt_s", "forget_gate_s"} <= set(timings)
    for key in ("1997", "full_bptt", "forget_gate"):  # the median pair lies within the pairs
        low, high = timings[f"ratio_{key}_to_torch_low"], timings[f"ratio_{key}_to_torch_high"]
        assert 0 < low <= timings[f"ratio_{key}_to_torch"] <= high


def test_configs_select_the_experiment_and_network(make_config):
    cfg = make_config("paper=lstm")
    assert cfg.model.task == cfg.data.task == "6a" and cfg.data.batch_size == 1  # online
    assert cfg.callbacks.monitor == "val/sequences_seen" and cfg.callbacks.mode == "max"
    cfg = make_config(
        "paper=lstm", "preset=paper", "task=6a", "task_options={}", "model.network=tanh_rnn"
    )
    assert cfg.model.task == cfg.data.task == "6a" and cfg.data.batch_size == 1
    assert cfg.model.network == "tanh_rnn" and cfg.variant == "default"


@pytest.mark.parametrize(
    ("overrides", "network"),
    [
        ((), "1997"),
        (("variant=1997",), "1997"),
        (("variant=forget_gate",), "forget_gate"),
        (("variant=tanh_rnn",), "tanh_rnn"),
        (("variant=bptt", "model.gradient=full"), "1997"),  # a name only
        (("variant=rnn8", "model.network=tanh_rnn"), "tanh_rnn"),
        (("model=lstm_charlm", "variant=torch_lstm"), "torch_lstm"),
        (("model=lstm_charlm", "variant=tanh_rnn"), "1997"),  # not a language-model network
    ],
)
def test_variant_picks_the_network_when_it_names_one(make_config, overrides, network):
    cfg = make_config("paper=lstm", *overrides)
    assert cfg.model.network == network


def test_processes_share_one_global_batch():
    def draws(share: slice) -> list[tasks.Batch]:
        settings = tasks.task_settings("4", **SHORT)
        generator = torch.Generator().manual_seed(3)
        return list(TrainingSequences(settings, 4, 2, generator, share=share))

    whole, first, second = draws(slice(None)), draws(slice(0, 2)), draws(slice(2, 4))
    for full, a, b in zip(whole, first, second, strict=True):
        torch.testing.assert_close(full.inputs, torch.cat([a.inputs, b.inputs]))
