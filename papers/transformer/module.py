"""The LightningModule: Section 5's training of the Transformer (model.py), Section 6.1's decoding,
and BLEU on the test split, three ways in one run (beam, greedy, averaged checkpoints).

- Training (Sections 5.3-5.4): Adam (0.9, 0.98, 1e-9) with the warm-up / inverse-square-root rate
  of Equation (3), stepped per optimiser update; label-smoothed cross-entropy summed over a piece's
  target tokens and divided by the global batch's target tokens, times the processes and the
  accumulation steps (DDP averages gradients over processes, Lightning divides by the
  accumulation steps), so any cut of a global batch makes the step one process would make.
- Validation: the smoothed loss, the negative log-likelihood and the perplexity per target token
  of the development split (Table 3's PPL), and with ``val_bleu`` its BLEU decoded as the test is.
- Test: beam search (``beam_size``, ``alpha``, input + ``max_extra``) -> ``test/bleu`` (sacreBLEU)
  and ``test/bleu_tokenized`` (multi-bleu on Moses tokens); greedy (beam 1) -> ``*_greedy``; the
  average of the last ``average_last`` snapshots (Section 6.1; written every ``snapshot_every``
  updates to ``<run>/snapshots``) decoded with the beam -> ``*_averaged``. The translations, the
  BLEU signatures and a cross-attention map of the first test sentence go to the run folder.
- Cost (the paper's Table 2 argument, beyond its numbers): with ``val_bleu`` and ``target_bleu``,
  the updates, training minutes (the optimiser steps' wall time, evaluation left out) and training
  FLOPs until the development BLEU first reaches ``target_bleu`` -> ``test/steps_to_bleu``,
  ``test/minutes_to_bleu``, ``test/gflops_to_bleu`` (inf if never). FLOPs: the first batch's
  forward counted by ``torch.utils.flop_counter``, times 3 for the backward (two matrix products
  per forward one), scaled to each later batch by its padded source + target tokens.

The BPE vocabulary travels with the network: it is written to ``<run>/tokenizer.json`` and kept in
every checkpoint, so a checkpoint translates on its own (``scripts/translate.py``).
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from papers.transformer.bleu import sacrebleu_score, tokenized_bleu
from papers.transformer.data import BOS, EOS, SPECIALS, Batch
from papers.transformer.decoding import beam_search
from papers.transformer.model import Transformer
from papers.transformer.training import (
    average_checkpoints,
    label_smoothed_loss,
    lrate,
    per_global_token,
)

NETWORKS = ("transformer", "lstm_attention")
SCHEDULES = ("inverse_sqrt", "constant")


def build_network(
    network: str, vocab_size: int, net: dict[str, Any], lstm: dict[str, Any]
) -> torch.nn.Module:
    if network == "transformer":
        return Transformer(vocab_size, **net)
    if network == "lstm_attention":  # the cost claim's recurrent baseline (seq2seq.py)
        from papers.transformer.seq2seq import AttentionLSTM

        return AttentionLSTM(vocab_size, **lstm)
    raise ValueError(f"model.network must be one of {', '.join(NETWORKS)}, got {network!r}")


class TransformerModule(L.LightningModule):
    """Args (plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    vocab_size: rows of the shared embedding (the data's BPE size at most).
    network: "transformer" (``model.Transformer`` with the arguments ``net``) or
        "lstm_attention" (``seq2seq.AttentionLSTM`` with the arguments ``lstm``).
    label_smoothing: epsilon_ls (Section 5.4). schedule: "inverse_sqrt" (Equation 3, times
        ``lr_factor``; d_model from ``net``) or "constant" (``lr``). warmup: warmup_steps.
    betas, eps: Adam's. beam_size, alpha, max_extra: Section 6.1's decoding.
    average_last, snapshot_every: average the last this many snapshots, one every this many
        updates (0: no averaging). val_bleu: decode the development split at each validation.
        target_bleu: the development BLEU (sacreBLEU) the cost measures count up to.
    compound_split, lowercase, target_language: how ``*_bleu_tokenized`` tokenises.
    """

    def __init__(
        self,
        vocab_size: int,
        net: dict[str, Any],
        network: str = "transformer",
        lstm: dict[str, Any] | None = None,
        label_smoothing: float = 0.1,
        schedule: str = "inverse_sqrt",
        warmup: int = 4000,
        lr_factor: float = 1.0,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-9,
        beam_size: int = 4,
        alpha: float = 0.6,
        max_extra: int = 50,
        average_last: int = 5,
        snapshot_every: int = 1000,
        val_bleu: bool = False,
        target_bleu: float | None = None,
        compound_split: bool = False,
        lowercase: bool = False,
        target_language: str = "de",
    ) -> None:
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"model.schedule must be one of {', '.join(SCHEDULES)}: {schedule!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"model.label_smoothing must be in [0, 1), got {label_smoothing}")
        if target_bleu is not None and not val_bleu:
            raise ValueError("model.target_bleu needs model.val_bleu=true (it reads the dev BLEU)")
        self.save_hyperparameters()
        self.net = build_network(network, vocab_size, dict(net), dict(lstm or {}))
        self.pad_id = SPECIALS.index("<pad>")
        self.bos_id, self.eos_id = SPECIALS.index(BOS), SPECIALS.index(EOS)
        self.tokenizer = None  # the data's BPE, from the DataModule or a checkpoint
        self.sums: dict[str, Tensor] = {}
        self.hypotheses: dict[str, dict[int, str]] = {}
        self.averaged: torch.nn.Module | None = None
        self.averaged_steps: list[int] = []  # the updates of the snapshots averaged for test
        # the cost measures: training time, FLOPs, and where the target BLEU was first reached
        self.train_seconds, self.train_flops = 0.0, 0.0
        self.flops_per_token: float | None = None
        self.reached: dict[str, float] = {}

    # --- vocabulary ---------------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and getattr(datamodule, "tokenizer", None) is not None:
            self.tokenizer = datamodule.tokenizer
            size = self.tokenizer.get_vocab_size()
            if size > self.hparams.vocab_size:
                raise ValueError(
                    f"the vocabulary has {size} entries but the network only "
                    f"{self.hparams.vocab_size} (set model.vocab_size to data.vocab_size)"
                )

    def on_fit_start(self) -> None:
        if self.trainer.is_global_zero and self.tokenizer is not None:
            self.tokenizer.save(str(Path(self.trainer.default_root_dir) / "tokenizer.json"))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.tokenizer is not None:
            checkpoint["tokenizer"] = self.tokenizer.to_str()
        checkpoint["cost"] = {
            "train_seconds": self.train_seconds,
            "train_flops": self.train_flops,
            "flops_per_token": self.flops_per_token,
            "reached": self.reached,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a resumed run counts on from where it stopped (not the test's reload of the best one)
        if "cost" in checkpoint and not self.train_seconds:
            cost = checkpoint["cost"]
            self.train_seconds, self.train_flops = cost["train_seconds"], cost["train_flops"]
            self.flops_per_token, self.reached = cost["flops_per_token"], dict(cost["reached"])
        if "tokenizer" in checkpoint:
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_str(checkpoint["tokenizer"])

    def decode_text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # --- training -----------------------------------------------------------------------------

    def forward(self, source: Tensor, target_in: Tensor) -> Tensor:
        return self.net(source, target_in)

    def losses(self, batch: Batch) -> tuple[Tensor, Tensor]:
        logits = self(batch.source, batch.target_in)
        return label_smoothed_loss(
            logits, batch.target_out, self.hparams.label_smoothing, self.pad_id
        )

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        self.batch_started = time.perf_counter()

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        padded = batch.source.numel() + batch.target_in.numel()
        if self.hparams.target_bleu is not None and self.flops_per_token is None:
            with FlopCounterMode(display=False) as counter:
                smoothed, nll = self.losses(batch)
            self.flops_per_token = 3 * counter.get_total_flops() / padded
        else:
            smoothed, nll = self.losses(batch)
        if self.flops_per_token is not None:
            self.train_flops += self.flops_per_token * padded
        tokens = (batch.target_out != self.pad_id).sum()
        size = len(batch.index)
        self.log("train/loss", smoothed / tokens, on_epoch=True, sync_dist=True, batch_size=size)
        self.log("train/ppl", torch.exp(nll.detach() / tokens), sync_dist=True, batch_size=size)
        self.log("train/lr", self.lr_schedulers().get_last_lr()[0], on_step=True, on_epoch=False)
        trainer = self.trainer
        return per_global_token(
            smoothed, batch.tokens, trainer.world_size, trainer.accumulate_grad_batches
        )

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        if hp.schedule == "inverse_sqrt":
            d_model = (hp.net if hp.network == "transformer" else hp.lstm)["d_model"]
            base, warmup = hp.lr_factor, hp.warmup

            def factor(step: int) -> float:  # LambdaLR counts from 0, Equation (3) from 1
                return lrate(step + 1, d_model, warmup)
        else:
            base = hp.lr

            def factor(step: int) -> float:
                return 1.0

        optimizer = torch.optim.Adam(self.net.parameters(), lr=base, betas=hp.betas, eps=hp.eps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_train_batch_end(self, outputs, batch: Batch, batch_idx: int) -> None:
        self.train_seconds += time.perf_counter() - self.batch_started
        every, keep = self.hparams.snapshot_every, self.hparams.average_last
        step = self.trainer.global_step
        if keep < 2 or every < 1 or step % every or not self.trainer.is_global_zero:
            return
        if (batch_idx + 1) % self.trainer.accumulate_grad_batches:
            return  # not an optimiser step
        folder = self.snapshot_dir()
        folder.mkdir(exist_ok=True)
        torch.save(
            {"state_dict": self.state_dict(), "step": step}, folder / f"step-{step:08d}.ckpt"
        )
        for old in sorted(folder.glob("step-*.ckpt"))[:-keep]:
            old.unlink()

    def snapshot_dir(self) -> Path:
        return Path(self.trainer.default_root_dir) / "snapshots"

    # --- validation and test ------------------------------------------------------------------

    def add(self, name: str, value: Tensor) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + value.detach().double()

    def evaluate(self, batch: Batch) -> None:
        smoothed, nll = self.losses(batch)
        self.add("smoothed", smoothed)
        self.add("nll", nll)
        self.add("tokens", (batch.target_out != self.pad_id).sum())

    def log_losses(self, split: str) -> None:
        sums = {k: self.trainer.strategy.reduce(v, reduce_op="sum") for k, v in self.sums.items()}
        self.sums = {}
        tokens = sums["tokens"]
        self.log(f"{split}/loss", (sums["smoothed"] / tokens).float(), sync_dist=False)
        self.log(f"{split}/nll", (sums["nll"] / tokens).float())
        self.log(f"{split}/ppl", torch.exp(sums["nll"] / tokens).float())

    def translate(self, name: str, network: torch.nn.Module, batch: Batch, beam: int) -> None:
        hp = self.hparams
        found = beam_search(
            network,
            batch.source,
            self.bos_id,
            self.eos_id,
            beam_size=beam,
            alpha=hp.alpha if beam > 1 else 0.0,
            max_extra=hp.max_extra,
        )
        texts = self.hypotheses.setdefault(name, {})
        for index, (ids, _) in zip(batch.index.tolist(), found, strict=True):
            texts[index] = self.decode_text(ids)

    def on_validation_epoch_start(self) -> None:
        self.sums, self.hypotheses = {}, {}

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate(batch)
        if self.hparams.val_bleu:
            self.translate("", self.net, batch, self.hparams.beam_size)

    def on_validation_epoch_end(self) -> None:
        self.log_losses("val")
        if self.hparams.val_bleu and not self.trainer.sanity_checking:
            score = self.log_bleu("val", "")["sacrebleu"]
            target = self.hparams.target_bleu
            if target is not None and not self.reached and score >= target:
                self.reached = {
                    "steps_to_bleu": float(self.trainer.global_step),
                    "minutes_to_bleu": self.train_seconds / 60,
                    "gflops_to_bleu": self.train_flops / 1e9,
                }

    def on_test_epoch_start(self) -> None:
        self.sums, self.hypotheses = {}, {}
        self.averaged = self.average_snapshots()

    def average_snapshots(self) -> torch.nn.Module | None:
        snapshots = sorted(self.snapshot_dir().glob("step-*.ckpt"))[-self.hparams.average_last :]
        if len(snapshots) < 2:
            return None
        module = copy.deepcopy(self)
        module.load_state_dict(average_checkpoints(snapshots))
        self.averaged_steps = [int(p.stem.removeprefix("step-")) for p in snapshots]  # names
        return module.net.eval()

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate(batch)
        self.translate("", self.net, batch, self.hparams.beam_size)
        self.translate("_greedy", self.net, batch, 1)
        if self.averaged is not None:
            self.translate("_averaged", self.averaged, batch, self.hparams.beam_size)

    def on_test_epoch_end(self) -> None:
        self.log_losses("test")
        if self.hparams.target_bleu is not None:
            for name in ("steps_to_bleu", "minutes_to_bleu", "gflops_to_bleu"):
                self.log(f"test/{name}", self.reached.get(name, math.inf))
        scores = {name: self.log_bleu("test", name) for name in list(self.hypotheses)}
        self.averaged = None
        if self.trainer.is_global_zero:
            folder = Path(self.trainer.default_root_dir)
            summary = {"scores": scores, "decoding": self.decoding_settings()}
            (folder / "bleu.json").write_text(json.dumps(summary, indent=2) + "\n")
            self.plot_cross_attention(folder / "cross_attention.png")

    def decoding_settings(self) -> dict[str, Any]:
        hp = self.hparams
        settings = {
            "beam_size": hp.beam_size,
            "alpha": hp.alpha,
            "max_extra": hp.max_extra,
            "tokenized_bleu": {
                "tokenizer": "moses (sacremoses)",
                "language": hp.target_language,
                "lowercase": hp.lowercase,
                "compound_split": hp.compound_split,
            },
        }
        if self.averaged_steps:
            settings["averaged_steps"] = self.averaged_steps
        return settings

    def all_hypotheses(self, name: str) -> list[str]:
        """This split's translations in order, from every process."""
        texts = self.hypotheses[name]
        if dist.is_available() and dist.is_initialized() and self.trainer.world_size > 1:
            parts: list[dict[int, str]] = [{} for _ in range(self.trainer.world_size)]
            dist.all_gather_object(parts, texts)
            texts = {k: v for part in parts for k, v in part.items()}
        return [texts[i] for i in sorted(texts)]

    def log_bleu(self, split: str, name: str) -> dict[str, Any]:
        datamodule = self.trainer.datamodule
        hypotheses, references = self.all_hypotheses(name), datamodule.references(split)
        if len(hypotheses) != len(references):
            raise RuntimeError(
                f"BLEU needs every {split} sentence translated: {len(hypotheses)} translations for "
                f"{len(references)} references (is trainer.limit_{split}_batches set?)"
            )
        score, signature = sacrebleu_score(hypotheses, references)
        hp = self.hparams
        tokenized = tokenized_bleu(
            hypotheses, references, hp.target_language, hp.compound_split, hp.lowercase
        )
        self.log(f"{split}/bleu{name}", score)
        self.log(f"{split}/bleu_tokenized{name}", tokenized)
        if self.trainer.is_global_zero and split == "test":
            folder = Path(self.trainer.default_root_dir) / "translations"
            folder.mkdir(exist_ok=True)
            (folder / f"test{name or '_beam'}.txt").write_text("\n".join(hypotheses) + "\n")
        return {"sacrebleu": score, "signature": signature, "tokenized": tokenized}

    # --- the report's cross-attention map -----------------------------------------------------

    @torch.no_grad()
    def cross_attention(self, source_text: str) -> tuple[list[str], list[str], Tensor]:
        """Source and output tokens and the last decoder layer's cross-attention (heads
        averaged, (T, S)) while the network translates ``source_text`` with the beam."""
        encoding = self.tokenizer.encode(source_text)
        source = torch.tensor([[*encoding.ids, self.eos_id]], device=self.device)
        ids, _ = beam_search(
            self.net, source, self.bos_id, self.eos_id, self.hparams.beam_size, self.hparams.alpha
        )[0]
        target = torch.tensor([[self.bos_id, *ids]], device=self.device)
        memory, mask = self.net.encode(source)
        self.net.decode(target, memory, mask, keep_weights=True)
        weights = self.net.decoder[-1].cross_attention.weights[0].mean(dim=0)  # (T, S)
        tokens = self.tokenizer.id_to_token
        return (
            [*encoding.tokens, EOS],
            [tokens(i) for i in ids] + [EOS],
            weights.cpu(),
        )

    def plot_cross_attention(self, path: Path) -> None:
        if not isinstance(self.net, Transformer) or self.tokenizer is None:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        source_text = self.trainer.datamodule.sources("test")[0]
        was_training = self.net.training
        self.net.eval()
        sources, outputs, weights = self.cross_attention(source_text)
        self.net.train(was_training)
        figure, axes = plt.subplots(figsize=(0.35 * len(sources) + 2, 0.35 * len(outputs) + 1.5))
        axes.imshow(weights.numpy(), cmap="Greys", aspect="auto", vmin=0.0)
        axes.set_xticks(range(len(sources)), sources, rotation=90, fontsize=7)
        axes.set_yticks(range(len(outputs)), outputs, fontsize=7)
        axes.set_xlabel("source token")
        axes.set_ylabel("output token")
        axes.set_title("cross-attention, last decoder layer, heads averaged", fontsize=8)
        figure.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(figure)
        for logger in self.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image("test/cross_attention", [str(path)], step=self.global_step)
