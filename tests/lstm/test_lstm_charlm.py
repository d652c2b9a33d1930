"""papers/lstm/charlm.py: Tiny Shakespeare windows and the bits per character of the networks."""

import math
from types import SimpleNamespace

import pytest
import torch

from common.errors import MissingDataError
from papers.lstm.charlm import CharDataModule, CharLMModule, count_weights, windows
from papers.lstm.model import build_network


def tiny_text(tmp_path, text: str) -> str:
    folder = tmp_path / "tinyshakespeare"
    folder.mkdir()
    (folder / "input.txt").write_text(text, encoding="utf-8")
    return str(tmp_path)


def test_windows_pair_each_character_with_the_next():
    data = windows(torch.arange(11), 3)
    assert len(data) == 3  # 10 usable inputs make three windows of 3
    inputs, targets = data[1]
    assert inputs.tolist() == [3, 4, 5] and targets.tolist() == [4, 5, 6]


def test_text_is_split_in_order_with_held_out_validation_and_test(tmp_path):
    text = "abcdefghij" * 40  # 400 characters, 10 symbols
    data = CharDataModule(tiny_text(tmp_path, text), length=4, held_out=0.1, verify_checksums=False)
    data.setup()
    assert data.n_symbols == 10
    assert [len(data.splits[s]) for s in ("train", "val", "test")] == [79, 9, 9]
    first_test = data.splits["test"][0][0]  # the test split starts 40 characters from the end
    assert "".join(data.symbols[i] for i in first_test) == text[360:364]


def test_missing_text_says_where_to_put_it(tmp_path):
    with pytest.raises(MissingDataError, match="tinyshakespeare/input.txt"):
        CharDataModule(str(tmp_path)).setup()


def test_bits_per_character_of_a_uniform_prediction_is_log2_of_the_alphabet():
    module = CharLMModule("1997", n_symbols=5, n_blocks=1, block_size=2)
    with torch.no_grad():
        module.net.weight_output.zero_()
        module.net.bias_output.zero_()
    batch = (torch.tensor([[0, 1, 2, 3]]), torch.tensor([[1, 2, 3, 4]]))
    torch.testing.assert_close(module.bits_per_character(batch), torch.tensor(math.log2(5)))


def test_torch_lstm_gets_at_most_the_weights_of_the_1997_network():
    lstm = CharLMModule("torch_lstm", n_symbols=65, n_blocks=4, block_size=8)
    reference = count_weights(build_network("1997", n_in=65, n_out=65, n_blocks=4, block_size=8))
    assert reference == 6385 and lstm.n_weights <= reference
    bigger = CharLMModule("torch_lstm", n_symbols=65, matched_weights=lstm.n_weights + 1000)
    assert bigger.n_weights > reference  # the matched size is the largest that fits


def test_alphabet_of_model_and_text_must_agree():
    module = CharLMModule("1997", n_symbols=5, n_blocks=1, block_size=1)
    module.trainer = SimpleNamespace(datamodule=SimpleNamespace(n_symbols=7))
    with pytest.raises(ValueError, match="text has 7 distinct characters"):
        module.setup("fit")


def test_the_ngram_baseline_scores_the_test_text_in_bits_per_character(tmp_path, make_config):
    """On a text that repeats one 10-character phrase the 5-gram model predicts every test
    character almost surely (the 3-gram too: each bigram context has one successor), far below
    the log2(10) bits of guessing among its 10 symbols; the order is chosen on validation."""
    from papers.lstm.baselines import bits_per_character, kneser_ney_ngram, split_text

    root = tiny_text(tmp_path, "abcdefghij" * 40)
    cfg = make_config(
        "experiment=lstm/charlm",
        f"paths.data_dir={root}",
        "data.length=4",
        "data.held_out=0.1",
        "data.verify_checksums=false",
    )
    baseline = kneser_ney_ngram(cfg)
    assert baseline["measure"] == "test/bpc" and baseline["value"] < 0.5 < math.log2(10)
    assert baseline["setting"].startswith(("order 3", "order 5"))
    data = CharDataModule(root, length=4, held_out=0.1, verify_checksums=False)
    data.setup()
    assert split_text(data, "test") == ("abcdefghij" * 40)[360:397]  # 9 windows of 4, + 1
    uniform = SimpleNamespace(logscore=lambda char, context: -math.log2(10))
    assert bits_per_character(uniform, "abcdefghij", 3) == pytest.approx(math.log2(10))
