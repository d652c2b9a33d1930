"""Beyond the paper: a character-level language model on Tiny Shakespeare.

The 1997 network (truncated gradient), the same network with forget gates (Gers et al. 2000) and
``torch.nn.LSTM`` read the text one character at a time (local input coding, one unit per
character) and predict the next one with a softmax over the output units. Held-out bits per
character: the mean cross-entropy of the next character, in bits. Not in the paper: cross-entropy
instead of squared error, linear output units with a softmax instead of logistic ones, Adam
instead of plain SGD, and batches of text windows, each starting from a zero state.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from common.data import SplitDataModule, missing, verify
from papers.lstm.model import build_network, hidden_size_for_weights

TINY_SHAKESPEARE = Path("tinyshakespeare") / "input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def read_text(data_dir: str, verify_checksums: bool = True) -> str:
    """Tiny Shakespeare (Karpathy's char-rnn ``input.txt``) from the data directory."""
    path = Path(data_dir) / TINY_SHAKESPEARE
    if not path.exists():
        raise missing(
            "Tiny Shakespeare", [path], "It is input.txt of github.com/karpathy/char-rnn."
        )
    if verify_checksums:
        verify(path, TINY_SHAKESPEARE_SHA256)
    return path.read_text(encoding="utf-8")


def windows(codes: Tensor, length: int) -> TensorDataset:
    """Non-overlapping windows: inputs ``codes[i : i + length]``, targets shifted by one."""
    n = (len(codes) - 1) // length
    if n < 1:
        raise ValueError(f"{len(codes)} characters make no window of {length} + 1")
    inputs = codes[: n * length].view(n, length)
    return TensorDataset(inputs, codes[1 : n * length + 1].view(n, length))


class CharDataModule(SplitDataModule):
    """The text in its order: the last ``held_out`` fraction is the test split, the same fraction
    before it the validation split, the rest the training split; all cut into windows of
    ``length`` characters. ``n_symbols`` is the number of distinct characters (65)."""

    def __init__(
        self,
        data_dir: str,
        length: int = 100,
        batch_size: int = 32,
        held_out: float = 0.05,
        verify_checksums: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not 0.0 < held_out < 0.5:
            raise ValueError(f"held_out must be in (0, 0.5); got {held_out}")
        self.save_hyperparameters(logger=False)
        self.splits: dict[str, TensorDataset] = {}
        self.symbols = ""

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        text = read_text(hp.data_dir, hp.verify_checksums)
        self.symbols = "".join(sorted(set(text)))
        codes = torch.tensor([self.symbols.index(c) for c in text])
        n_test = int(len(codes) * hp.held_out)
        cut_val, cut_test = len(codes) - 2 * n_test, len(codes) - n_test
        self.splits = {
            "train": windows(codes[:cut_val], hp.length),
            "val": windows(codes[cut_val:cut_test], hp.length),
            "test": windows(codes[cut_test:], hp.length),
        }

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)


def count_weights(network: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in network.parameters())


class CharLMModule(L.LightningModule):
    """Args: network ("1997", "forget_gate", "torch_lstm"); n_symbols: input and output units;
    n_blocks, block_size: the memory cell networks' size; matched_weights: for "torch_lstm", the
    largest layer with at most this many weights (None: as many as the 1997 network of
    ``n_blocks`` x ``block_size``); learning_rate (Adam); init_range: initial weights uniform in
    [-init_range, init_range]."""

    def __init__(
        self,
        network: str = "1997",
        n_symbols: int = 65,
        n_blocks: int = 4,
        block_size: int = 8,
        matched_weights: int | None = None,
        learning_rate: float = 0.005,
        init_range: float = 0.1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        sizes = {"n_in": n_symbols, "n_out": n_symbols, "n_blocks": n_blocks}
        kwargs = {**sizes, "block_size": block_size, "init_range": init_range}
        hidden_size = None
        if network in ("torch_lstm", "tanh_rnn"):
            if matched_weights is None:
                reference = build_network("1997", **kwargs, output_activation="linear")
                matched_weights = count_weights(reference)
            hidden_size = hidden_size_for_weights(network, n_symbols, n_symbols, matched_weights)
        self.net = build_network(
            network, **kwargs, hidden_size=hidden_size, output_activation="linear"
        )
        self.n_weights = count_weights(self.net)

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        if data is not None and data.n_symbols != self.hparams.n_symbols:
            raise ValueError(
                f"model.n_symbols={self.hparams.n_symbols}, but the text has {data.n_symbols} "
                "distinct characters"
            )

    def bits_per_character(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        """Mean cross-entropy of the next character over the batch, in bits."""
        inputs, targets = batch
        logits = self.net(F.one_hot(inputs, self.hparams.n_symbols).float())
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten()) / math.log(2.0)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        bpc = self.bits_per_character(batch)
        self.log("train/bpc", bpc, on_step=False, on_epoch=True)
        return bpc

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("val/bpc", self.bits_per_character(batch), batch_size=len(batch[0]))

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("test/bpc", self.bits_per_character(batch), batch_size=len(batch[0]))
        self.log("test/weights", float(self.n_weights))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.learning_rate)
