"""The continual embedded Reber grammar (Gers, Schmidhuber & Cummins 2000; beyond the 1997 paper):
the stream generator, the strings-before-error and state-drift measures, the claim's rule, and a
smoke run of the module with both memory cell networks."""

import lightning as L
import pytest
import torch

from common.claims import NOT_REPRODUCED, PARTLY, REPRODUCED, Higher
from papers.lstm import tasks
from papers.lstm.data import SequenceDataModule
from papers.lstm.module import LSTMModule, stream_measures
from papers.lstm.tasks import REBER_GRAPH, REBER_SYMBOLS

CONTINUAL = tasks.SETTINGS["continual"]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def is_embedded_reber(string: str) -> bool:
    """B, T or P, a Reber string (Figure 3: B, a walk from node 1 to node 6, E), the same T or P,
    E."""
    if len(string) < 9 or string[:3] not in ("BTB", "BPB") or string[-3:] != "E" + string[1] + "E":
        return False
    node = 1
    for symbol in string[3:-3]:
        if node == 6 or symbol not in REBER_GRAPH[node]:
            return False
        node = REBER_GRAPH[node][symbol]
    return node == 6


def decode(one_hot: torch.Tensor) -> str:
    return "".join(REBER_SYMBOLS[int(i)] for i in one_hot.argmax(-1))


def strings_of(batch: tasks.Batch, row: int) -> list[str]:
    """The strings of stream ``row``, cut where ``tasks.string_index`` says a new one starts."""
    steps = int(batch.mask[row].sum())
    symbols = decode(batch.inputs[row, :steps]) + decode(batch.targets[row, steps - 1 : steps])
    index = tasks.string_index(batch)[row, :steps].tolist()
    index.append(index[-1])  # the last target belongs to the last string
    strings: list[str] = []
    for symbol, i in zip(symbols, index, strict=True):
        if i == len(strings):
            strings.append("")
        strings[i] += symbol
    return strings


def test_a_stream_is_embedded_reber_strings_concatenated_with_the_next_symbol_as_target():
    batch = tasks.continual_reber(3, n_strings=5, generator=gen(0))
    lengths = batch.mask.sum(1)
    for row in range(3):
        strings = strings_of(batch, row)
        assert len(strings) == 5 and all(is_embedded_reber(s) for s in strings)
        steps = int(lengths[row])
        assert steps == sum(map(len, strings)) - 1  # one step per symbol but the last
        stream = "".join(strings)
        assert decode(batch.inputs[row, :steps]) == stream[:-1]
        assert decode(batch.targets[row, :steps]) == stream[1:]
        assert not batch.mask[row, steps:].any() and not batch.inputs[row, steps:].any()
        # The criterion's targets: Exp. 1's legal next symbols within each string, B after each
        # string's final E (four boundaries in five strings).
        legal = [
            "".join(sorted(REBER_SYMBOLS[i] for i in step.nonzero()))
            for step in batch.eval_targets[row]
        ]
        legal_next = [c for s in strings for c in [*tasks.legal_next_symbols(s), "B"]][:-1]
        expected = ["".join(sorted(c)) for c in legal_next]
        assert legal[:steps] == expected and all(c == "" for c in legal[steps:])
        ends = [t for t in range(steps) if stream[t] == "E" and stream[t + 1] == "B"]
        assert len(ends) == 4 and all(legal[t] == "B" for t in ends)
    again = tasks.continual_reber(3, n_strings=5, generator=gen(0))
    assert all(torch.equal(a, b) for a, b in zip(batch, again, strict=True))


def test_test_streams_are_longer_than_training_streams():
    settings = tasks.task_settings("continual", n_strings=2, test_strings=6)
    assert (settings.params, settings.for_evaluation().params) == (
        {"n_strings": 2},
        {"n_strings": 6},
    )
    assert settings.network_kwargs()["n_blocks"] == 4 and settings.learning_rate == 0.1
    assert settings.input_gate_bias == settings.output_gate_bias == (-0.5, -1.0, -1.5, -2.0)
    data = SequenceDataModule("continual", {"n_strings": 2, "test_strings": 6}, test_size=3)
    data.setup()
    test = next(iter(data.test_dataloader()))
    assert len(test.inputs) == 3
    assert (tasks.string_index(test).amax(1) + 1).tolist() == [6, 6, 6]
    train = next(iter(data.train_dataloader()))
    assert int(tasks.string_index(train).max()) + 1 == 2
    assert "continual" in tasks.SETTINGS and "continual" not in tasks.TASKS  # beyond the paper


def test_strings_before_error_counts_the_strings_before_the_first_wrong_step():
    batch = tasks.continual_reber(3, n_strings=4, generator=gen(1))
    index = tasks.string_index(batch)
    perfect = batch.eval_targets.clone()  # legal units 1, the others 0: every step right
    step_ok = tasks.step_correct(perfect, batch, CONTINUAL)
    assert bool(step_ok[batch.mask].all())
    assert tasks.strings_before_error(step_ok, batch).tolist() == [4.0, 4.0, 4.0]
    outputs = perfect.clone()
    first_of_third = int((index[0] == 2).nonzero()[0])
    outputs[0, first_of_third] = 1 - outputs[0, first_of_third]  # stream 0 wrong in string 2
    outputs[0, -1] = 1 - outputs[0, -1]  # later errors do not count
    outputs[1, 0] = 1 - outputs[1, 0]  # stream 1 wrong at its first step
    step_ok = tasks.step_correct(outputs, batch, CONTINUAL) & batch.mask  # padding: "wrong"
    assert not bool(batch.mask[2].all())  # stream 2 is padded, and its padding is never judged
    assert tasks.strings_before_error(step_ok, batch).tolist() == [2.0, 0.0, 4.0]
    # Exp. 1's criterion: a legal symbol tied with an illegal one is wrong.
    tied = perfect.clone()
    tied[1, 5] = 0.5
    assert not bool(tasks.step_correct(tied, batch, CONTINUAL)[1, 5])


def test_state_drift_on_a_constructed_trajectory():
    steps = torch.arange(20.0)
    states = torch.stack([steps, -2 * steps], dim=-1).reshape(1, 20, 1, 2).repeat(2, 1, 1, 1)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 10:] = False  # the second stream has 10 steps; its padding holds large states
    states[1, 10:] = 1000.0
    largest, first, last = tasks.state_drift(states, mask)
    # |s| = t and 2t: first tenth steps 0-1 (mean 0.75), last 18-19 (27.75); of 10 steps: 0 and 9.
    assert largest.tolist() == [38.0, 18.0]
    assert torch.allclose(first, torch.tensor([0.75, 0.0]))
    assert torch.allclose(last, torch.tensor([27.75, 13.5]))


def test_higher_rule_judges_gap_noise_and_factor():
    rule = Higher(better="forget_gate", worse="lstm1997", min_gap=1.0, factor=2.0)
    verdict, why = rule.judge({"forget_gate": [5.0, 6.0, 7.0], "lstm1997": [0.0, 0.0, 0.0]})
    assert verdict == REPRODUCED and why.startswith("forget_gate - lstm1997 = 6 ± 0.58")
    verdict, why = rule.judge({"forget_gate": [0.6, 0.7, 0.8], "lstm1997": [0.0] * 3})
    assert verdict == PARTLY and why.endswith("short of a gap above 1 and twice its standard error")
    verdict, why = rule.judge({"forget_gate": [5.0, 6.0, 7.0], "lstm1997": [3.5, 4.0, 4.5]})
    assert verdict == PARTLY and why.endswith("short of 2 times lstm1997")
    assert rule.judge({"forget_gate": [0.0, 9.0, 0.0], "lstm1997": [1.0, 1.0, 1.0]})[0] == PARTLY
    assert rule.judge({"forget_gate": [1.0] * 3, "lstm1997": [1.0] * 3})[0] == NOT_REPRODUCED


@pytest.mark.parametrize("network", ["1997", "forget_gate", "torch_lstm"])
def test_module_logs_the_stream_measures_of_its_test_streams(network, one_thread):
    options = {"n_strings": 2, "test_strings": 4, "n_blocks": 2}
    torch.manual_seed(0)
    forget = [0.5, 1.0] if network == "forget_gate" else None
    module = LSTMModule("continual", options, network=network, forget_gate_bias=forget)
    data = SequenceDataModule(
        "continual", options, sequences_per_epoch=4, test_size=6, eval_batch_size=4
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, data)
    assert 0 <= float(trainer.callback_metrics["val/strings_before_error"]) <= 4
    trainer.test(module, data, verbose=False)
    logged = trainer.callback_metrics
    # The same measures computed directly from the trained network on the same test streams.
    measured = []
    with torch.no_grad():
        for batch in data.test_dataloader():
            if network == "torch_lstm":
                outputs, states = module.net(batch.inputs), None
            else:
                outputs, states = module.net.run(batch.inputs)[:2]
            measured.append(stream_measures(outputs, states, batch, module.settings))
    columns = [torch.cat(column) for column in zip(*measured, strict=True)]
    before = columns[0]
    assert len(before) == 6 and float(before.min()) >= 0 and float(before.max()) <= 4
    assert float(logged["test/strings_before_error"]) == pytest.approx(float(before.mean()))
    # A stream counts as right (Table 11's criterion) exactly when all of its 4 strings are.
    assert float(logged["test/wrong_predictions"]) == float((before < 4).sum())
    if network == "torch_lstm":  # no memory cells, no drift measured
        assert len(columns) == 1 and "test/max_abs_state" not in logged
        return
    largest, first, last = columns[1:]
    assert float(logged["test/max_abs_state"]) == pytest.approx(float(largest.max()))
    assert float(logged["test/state_growth"]) == pytest.approx(float(last.mean() / first.mean()))
    assert float(largest.max()) > 0
