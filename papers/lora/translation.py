"""LoRA on this project's own Transformer (papers/transformer): adapt a trained translator to a
new task through W_q and W_v alone.

The base is the Transformer's quick preset: a 2+2-layer model (d_model 64) trained to write
numbers as German words ("372 15" -> "dreihundertzweiundsiebzig fünfzehn"). The new task asks for
the same words in reverse order ("fünfzehn dreihundertzweiundsiebzig"): the vocabulary, the
embeddings and each number's spelling stay what the base learnt; what must change is where the
decoder looks, which is what the queries and values of attention decide. So it asks of LoRA on
W_q and W_v what Section 4.2 hopes for: that a small update of the attention weights suffices
for a new task. The base decodes the new task badly (``test/bleu_base``); LoRA on W_q, W_v
(every attention layer: encoder self-, decoder self- and cross-attention) is set beside fine-
tuning all weights at the same budget.

The base checkpoint is ``base_checkpoint`` or, when that is null, the quick preset trained with
``base_seed`` once and kept under ``cache_dir`` (a few minutes the first time, a file lock for
processes that start together). The adaptation's vocabulary must be the base's: the two tasks
hold the same words, so BPE learns the same merges; anything else is refused.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from common.config import ROOT
from common.errors import CheckpointError, ConfigError
from papers.lora.lora import LoRAConfig, adapter_parameters, apply_lora, trainable_parameters
from papers.transformer.data import Batch
from papers.transformer.module import TransformerModule

METHODS = ("lora", "full")


def pretrained_base(seed: int, cache_dir: str | Path) -> Path:
    """The quick preset's best checkpoint for ``seed``, trained once (in a child process, so the
    adaptation's own trainer and seed are untouched) and kept under ``cache_dir``."""
    from filelock import FileLock

    folder = Path(cache_dir) / "lora-transformer-base" / f"quick-s{seed}"
    run = folder / "run"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".lock"):
        if not (run / "summary.json").exists():  # written when the run has finished
            shutil.rmtree(run, ignore_errors=True)  # a run stopped half-way starts again
            command = [
                sys.executable,
                str(ROOT / "scripts" / "train.py"),
                "experiment=transformer/quick",
                f"seed={seed}",
                "logger=none",
                "test=false",
                f"hydra.run.dir={run}",
            ]
            print(f"training the base Transformer once: {' '.join(command[1:])}")
            subprocess.run(command, check=True, cwd=ROOT)
    return run / "checkpoints" / "best.ckpt"


class LoRATranslator(TransformerModule):
    """A trained ``TransformerModule`` adapted by LoRA (``method=lora``: rank ``r`` on
    ``targets``, scaling ``lora_alpha / r``, everything else frozen) or by fine-tuning every
    weight (``method=full``). The other arguments are ``TransformerModule``'s training and
    decoding settings; the network's shape and vocabulary come from the base checkpoint."""

    def __init__(
        self,
        base_checkpoint: str | None = None,
        base_seed: int = 0,
        cache_dir: str = ".cache",
        method: str = "lora",
        r: int = 8,
        lora_alpha: float = 8.0,
        targets: tuple[str, ...] = ("w_q", "w_v"),
        **settings: Any,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"model.method={method!r}: expected one of {', '.join(METHODS)}")
        path = Path(base_checkpoint) if base_checkpoint else pretrained_base(base_seed, cache_dir)
        if not path.is_file():
            raise CheckpointError(f"model.base_checkpoint: no checkpoint file at {path}")
        saved = torch.load(path, map_location="cpu", weights_only=False)
        shape = {k: saved["hyper_parameters"][k] for k in ("vocab_size", "net", "network")}
        super().__init__(**shape, **settings)
        self.hparams.update(base_checkpoint=str(path))
        self.load_state_dict(saved["state_dict"])
        self.base_vocabulary = saved["tokenizer"]
        self.tokenizer = Tokenizer.from_str(self.base_vocabulary)
        self.base_net = copy.deepcopy(self.net).eval().requires_grad_(False)  # test/bleu_base
        self.lora = LoRAConfig(r, lora_alpha, targets=tuple(targets))
        if method == "lora":
            apply_lora(self.net, self.lora)

    def setup(self, stage: str) -> None:
        super().setup(stage)  # the data's vocabulary
        if self.tokenizer.to_str() != self.base_vocabulary:
            raise ConfigError(
                "the adaptation data's BPE vocabulary is not the base model's: the two tasks "
                "must hold the same words (data.vocab_size, the numbers task's split sizes)"
            )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        counts = {
            "model/trainable_parameters": float(trainable_parameters(self.net)),
            "model/lora_parameters": float(adapter_parameters(self.net)),
            "model/parameters": float(sum(p.numel() for p in self.net.parameters())),
        }
        for logger in self.loggers:
            logger.log_metrics(counts, step=0)

    def configure_optimizers(self) -> dict[str, Any]:
        scheduled = super().configure_optimizers()
        for group in scheduled["optimizer"].param_groups:  # Adam holds only what is trained
            group["params"] = [p for p in group["params"] if p.requires_grad]
        return scheduled

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        super().test_step(batch, batch_idx)
        self.translate("_base", self.base_net, batch, self.hparams.beam_size)

    def frozen_parameters(self) -> set[str]:
        """Names (as ``named_parameters`` gives them) that training must leave as they are."""
        return {n for n, p in self.named_parameters() if not p.requires_grad}
