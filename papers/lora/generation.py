"""``LoRACausalLM``: GPT-2 adapted to E2E NLG (Section 5.4, Table 3) with Table 11's recipe.

LoRA r = 4 on W_q and W_v of every layer, alpha 32, dropout 0.1 on the branch's input. GPT-2
computes W_q, W_k and W_v in one ``Conv1D`` (``c_attn``); ``parts=[q, v]`` adapts two of its thirds,
each with its own A and B, as the authors' ``loralib.MergedLinear(enable_lora=[True, False, True])``
does. ``method=full`` fine-tunes every weight (Table 3's FT row).

Training (Table 11 and the authors' ``gpt2_ft.py``): the loss is the next-token cross-entropy on the
reference's tokens alone, label smoothing 0.1; AdamW (lr 2e-4, weight decay 0.01 on every trained
tensor, betas 0.9 / 0.999, eps 1e-6), 500 warm-up updates then a linear decay to zero, batch 8,
5 epochs.

Test (the authors' ``gpt2_beam.py``): for each meaning representation, beam search with 10
beams, at most 64 new tokens, a length penalty of 0.9 (score / length^0.9 over the generated
tokens; Table 11 says 0.9, the authors' README decodes with 0.8), no 4-gram repeated within the
generation, stop at the end-of-text token. ``test/bleu`` is sacreBLEU's corpus BLEU against every
reference of each input; the run folder gets ``e2e_pred.txt`` and ``e2e_ref.txt`` in the layout
the challenge's ``measure_scores.py`` reads, for Table 3's NIST, METEOR, ROUGE-L and CIDEr.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from papers.lora.e2e import IGNORE
from papers.lora.lora import LoRAConfig
from papers.lora.module import AdaptedModel


class GeneratedNoRepeatNGram:
    """Hugging Face's no-repeat-n-gram rule on the generated tokens alone: the authors ban an
    n-gram that the generation has already produced, not one of the prompt (a meaning
    representation's "city centre" may be written again)."""

    def __init__(self, size: int, prompt_length: int) -> None:
        from transformers import NoRepeatNGramLogitsProcessor

        self.rule, self.start = NoRepeatNGramLogitsProcessor(size), prompt_length

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        return self.rule(input_ids[:, self.start :], scores)


class LoRACausalLM(AdaptedModel):
    decay_all = True  # the authors' create_adam_optimizer decays biases and LayerNorms too

    def __init__(
        self,
        base: str = "gpt2-medium",
        method: str = "lora",
        r: int = 4,
        alpha: float = 32.0,
        dropout: float = 0.1,
        targets: tuple[str, ...] = ("c_attn",),
        parts: tuple[str, ...] = ("q", "v"),
        init: str = "gaussian",
        lr: float = 2e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 500,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        label_smoothing: float = 0.1,
        beam_size: int = 10,
        length_penalty: float = 0.9,
        no_repeat_ngram: int = 4,
        max_new_tokens: int = 64,
    ) -> None:
        super().__init__()
        from papers.lora.base import load_causal_lm

        self.save_hyperparameters()
        self.net = load_causal_lm(base)
        self.net.train()
        self.lora = LoRAConfig(r, alpha, dropout, tuple(targets), init, parts=tuple(parts))
        self.adapt(method)
        self.generations: list[tuple[int, str]] = []

    def warmup_updates(self, total: int) -> int:
        return min(self.hparams.warmup_steps, total)

    # --- training -----------------------------------------------------------------------------

    def loss(self, batch: dict[str, Tensor], smoothing: float) -> Tensor:
        """Mean cross-entropy of each reference token given the tokens before it."""
        logits = self.net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        predicted = logits.logits[:, :-1]  # position t predicts token t + 1
        targets = batch["labels"][:, 1:]
        return F.cross_entropy(
            predicted.reshape(-1, predicted.shape[-1]),
            targets.reshape(-1),
            ignore_index=IGNORE,
            label_smoothing=smoothing,
        )

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(batch, self.hparams.label_smoothing)
        self.log("train/loss", loss, batch_size=len(batch["labels"]), on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        tokens = int((batch["labels"][:, 1:] != IGNORE).sum())
        loss = self.loss(batch, 0.0)  # the plain next-token loss: comparable across settings
        self.log("val/loss", loss, batch_size=tokens, on_epoch=True, sync_dist=True)

    # --- test: beam search and BLEU -----------------------------------------------------------

    def on_test_epoch_start(self) -> None:
        self.generations = []

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        hp = self.hparams
        prompt = batch["input_ids"]
        tokenizer_eos = self.trainer.datamodule.eos
        output = self.net.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            num_beams=hp.beam_size,
            length_penalty=hp.length_penalty,
            max_new_tokens=hp.max_new_tokens,
            logits_processor=[GeneratedNoRepeatNGram(hp.no_repeat_ngram, prompt.shape[1])],
            eos_token_id=tokenizer_eos,
            pad_token_id=tokenizer_eos,
            do_sample=False,
            early_stopping=True,
        )
        text = self.trainer.datamodule.decode(output[0, prompt.shape[1] :])
        self.generations.append((int(batch["index"][0]), text))

    def on_test_epoch_end(self) -> None:
        import sacrebleu

        generations = self.generations
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            parts: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(parts, generations)
            generations = [g for part in parts for g in part]
        generations.sort()
        tests = self.trainer.datamodule.tests
        hypotheses = [text for _, text in generations]
        references = [tests[i][1] for i, _ in generations]
        streams = [
            [refs[j] if j < len(refs) else None for refs in references]
            for j in range(max(map(len, references)))
        ]  # sacreBLEU's layout: one stream per reference position; None where an input has fewer
        bleu = sacrebleu.corpus_bleu(hypotheses, streams)
        self.log("test/bleu", bleu.score, rank_zero_only=True)
        if self.trainer.is_global_zero:
            folder = Path(self.trainer.default_root_dir)
            (folder / "e2e_pred.txt").write_text("".join(h + "\n" for h in hypotheses))
            blocks = ["".join(r + "\n" for r in refs) for refs in references]
            (folder / "e2e_ref.txt").write_text("\n".join(blocks))
