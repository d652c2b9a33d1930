"""``LoRAClassifier``: a pretrained model adapted to sentence classification, with LoRA
(``method=lora``, Section 4), by full fine-tuning (``method=full``, the paper's FT rows), or by
training the head alone on frozen features (``method=head``, the baseline a sceptic tries first).
With ``latency_trials``, the test also times Table 1's forward passes (``bench.py``). A LoRA run's
test also logs Section 7.3's Table 7 for W_q (``subspace.py``); with ``twin_rank``, a second adapter
of that rank is trained beside the first on the same batches, on its own copy of the base, and the
test logs Section 7.2's subspace similarity of the two.

The recipe is Table 9's for RoBERTa on GLUE: AdamW, a linear warm-up over the first 6% of the
updates then a linear decay to zero, r = 8 on W_q and W_v, alpha 8. The classification head (for a
BERT, its pooler and ``classifier``; RoBERTa's head has the same two layers) is trained in full, as
the authors' GLUE scripts train it; the paper's parameter counts leave it out, and so does
``model/lora_parameters``.

Checkpoints hold what training changed, the adapter and the head (the paper's 350 GB -> 35 MB
argument, Section 4.2), stamped with the base weights' digest; the base is rebuilt from
``base`` and a checkpoint of other base weights is refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.errors import CheckpointError, ConfigError
from papers.lora.base import load_classifier
from papers.lora.lora import (
    LoRAConfig,
    adapted_matrices,
    adapter_parameters,
    apply_lora,
    base_digest,
    lora_layers,
    paper_parameter_count,
    trainable_modules,
    trainable_parameters,
)
from papers.lora.subspace import adapter_similarity, mean_table_7

METHODS = ("lora", "full", "head")


class AdaptedModel(L.LightningModule):
    """What the classifier and the causal LM (``generation.py``) share: a pretrained ``net``
    adapted by ``method`` (LoRA as ``lora`` says; every weight; the head alone), the parameter
    counts, AdamW with a linear warm-up and decay, and adapter-only checkpoints."""

    net: nn.Module
    lora: LoRAConfig
    decay_all = False  # True: weight decay on every trained tensor (the authors' GPT-2 code);
    # False: none on biases and LayerNorms (Hugging Face's rule, which their GLUE code follows)

    def adapt(self, method: str) -> None:
        if method not in METHODS:
            raise ConfigError(f"model.method={method!r}: expected one of {', '.join(METHODS)}")
        if method == "lora":
            self.adapted = apply_lora(self.net, self.lora)
        elif method == "head":
            self.net.requires_grad_(False)
            for name in trainable_modules(self.net, self.lora.trainable):
                self.net.get_submodule(name).requires_grad_(True)
        self.digest = base_digest(self.net, self.lora)
        # an adapter checkpoint restores what was trained; the base comes from ``base``
        self.strict_loading = method == "full"

    # --- what is trained ----------------------------------------------------------------------

    def lora_parameters(self) -> int:
        return adapter_parameters(self.net)

    def counts(self) -> dict[str, float]:
        adapted = adapted_matrices(self.net)
        formula = paper_parameter_count(adapted, self.net.config.hidden_size, self.lora.r)
        return {
            "model/trainable_parameters": float(trainable_parameters(self.net)),
            "model/lora_parameters": float(self.lora_parameters()),
            "model/paper_formula": float(formula),  # |Theta| = 2 L d_model r
            "model/parameters": float(sum(p.numel() for p in self.net.parameters())),
        }

    def frozen_parameters(self) -> set[str]:
        """Names (as ``named_parameters`` gives them) that training must leave as they are."""
        return {n for n, p in self.named_parameters() if not p.requires_grad}

    def trained_names(self) -> set[str]:
        return {n for n, p in self.named_parameters() if p.requires_grad}

    def on_fit_start(self) -> None:
        counts = self.counts()
        for logger in self.loggers:
            logger.log_metrics(counts, step=0)
        if self.trainer.is_global_zero:
            share = counts["model/trainable_parameters"] / counts["model/parameters"]
            print(
                f"LoRA ({self.hparams.method}): {counts['model/trainable_parameters']:,.0f} of "
                f"{counts['model/parameters']:,.0f} parameters trained ({share:.2%}); adapter "
                f"{counts['model/lora_parameters']:,.0f}, the paper's 2 x L x d_model x r = "
                f"{counts['model/paper_formula']:,.0f}"
            )

    def on_test_start(self) -> None:
        for key, value in self.counts().items():
            self.log(key.replace("model/", "test/"), value, rank_zero_only=True)

    # --- optimisation -------------------------------------------------------------------------

    def warmup_updates(self, total: int) -> int:
        return round(self.hparams.warmup_ratio * total)

    def configure_optimizers(self) -> dict[str, Any]:
        from transformers import get_linear_schedule_with_warmup

        hp = self.hparams
        norms = {
            f"{n}.{p}" for n, m in self.named_modules() if isinstance(m, nn.LayerNorm)
            for p, _ in m.named_parameters(recurse=False)
        }  # fmt: skip
        decay, no_decay = [], []
        for name, parameter in self.named_parameters():
            if parameter.requires_grad:
                plain = not self.decay_all and (name.endswith("bias") or name in norms)
                (no_decay if plain else decay).append(parameter)
        groups = [
            {"params": decay, "weight_decay": hp.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.betas), eps=hp.eps)
        total = self.trainer.estimated_stepping_batches
        schedule = get_linear_schedule_with_warmup(optimizer, self.warmup_updates(total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    # --- adapter-only checkpoints ---------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["base_digest"] = self.digest
        if self.hparams.method != "full":
            trained = self.trained_names()
            checkpoint["state_dict"] = {
                k: v for k, v in checkpoint["state_dict"].items() if k in trained
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("base_digest")
        if saved != self.digest:
            raise CheckpointError(
                f"this checkpoint was trained on base weights {str(saved)[:12]}, not on "
                f"{self.hparams.base}'s ({self.digest[:12]})"
            )
        absent = sorted(self.trained_names() - set(checkpoint["state_dict"]))
        if absent:
            raise CheckpointError(f"the checkpoint lacks trained parameters: {absent[:5]}")


class LoRAClassifier(AdaptedModel):
    def __init__(
        self,
        base: str = "minilm",
        num_labels: int = 2,
        method: str = "lora",
        r: int = 8,
        alpha: float = 8.0,
        dropout: float = 0.0,
        targets: tuple[str, ...] = ("query", "value"),
        init: str = "gaussian",
        head: tuple[str, ...] = ("pooler", "classifier"),
        lr: float = 5e-4,
        weight_decay: float = 0.1,
        warmup_ratio: float = 0.06,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        latency_trials: int = 0,
        twin_rank: int = 0,
    ) -> None:
        super().__init__()
        if latency_trials and method != "lora":
            raise ConfigError("model.latency_trials times LoRA's forward pass: needs method=lora")
        if twin_rank and method != "lora":
            raise ConfigError("model.twin_rank trains a second LoRA adapter: needs method=lora")
        self.save_hyperparameters()
        self.net = load_classifier(base, num_labels)
        self.net.train()  # from_pretrained returns it in eval mode (no dropout), and Lightning
        # keeps each module's mode as it finds it
        self.lora = LoRAConfig(r, alpha, dropout, tuple(targets), init, tuple(head))
        self.adapt(method)
        self.twin = None
        if twin_rank:  # Section 7.2: the same recipe at another rank, on the same batches
            self.twin = load_classifier(base, num_labels).train()
            apply_lora(self.twin, dataclasses.replace(self.lora, r=twin_rank))

    # --- training -----------------------------------------------------------------------------

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.net(input_ids=input_ids, attention_mask=attention_mask).logits

    def step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = F.cross_entropy(logits, batch["labels"])
        accuracy = (logits.argmax(-1) == batch["labels"]).float().mean()
        size = len(batch["labels"])
        on_step = split == "train"
        self.log(
            f"{split}/loss", loss, batch_size=size, on_step=on_step, on_epoch=True, sync_dist=True
        )
        self.log(f"{split}/acc", accuracy, batch_size=size, on_epoch=True, sync_dist=True)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.step(batch, "train")
        if self.twin is not None:  # the two adapters share no parameter: their gradients are apart
            twin = self.twin(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            loss = loss + F.cross_entropy(twin.logits, batch["labels"])
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def on_test_epoch_end(self) -> None:
        """Section 7 on the trained adapter (Table 7 for W_q; with a twin, phi of the two
        adapters' top directions), and Table 1's measurement: forward-pass time at batch 1 of
        merged and unmerged LoRA and of Houlsby adapters, each over the base model's (bench.py)."""
        if self.hparams.method != "lora":
            return
        measures = {}
        if any(name.endswith("query") for name, _ in lora_layers(self.net)):
            measures.update(mean_table_7(self.net, "query"))
        if self.twin is not None:
            measures.update(adapter_similarity(self.net, self.twin))
        if self.hparams.latency_trials:
            from papers.lora.bench import latency

            base = load_classifier(self.hparams.base, self.hparams.num_labels)
            measures.update(latency(base, self.net, trials=self.hparams.latency_trials))
        for key, value in measures.items():
            self.log(f"test/{key}", float(value), rank_zero_only=True)
