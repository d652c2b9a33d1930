"""The E2E NLG Challenge (Novikova et al. 2017) as the paper's GPT-2 experiments read it (Table 3).

Each line of ``<data_dir>/e2e/{train,valid,test}.txt`` is one meaning representation and one
human reference, ``name : Alimentum | area : city centre||There is a place in ...`` (the authors'
``examples/NLG/data/e2e`` files). The data directory here holds ``valid.txt`` and ``test.txt`` only:
the training split is E2E's (42,061 lines), from the authors' repository or the challenge's site.

- :func:`read_e2e`: the (meaning representation, reference) pairs of a split.
- :func:`encode`: one training example as the authors' ``gpt2_encode.py --add_bos --add_eos`` builds
  it: the context's tokens and an end-of-text token, then " " + the reference's tokens and another
  end-of-text token; the loss is on the reference's tokens alone (``data_utils.FT_Dataset``).
- :class:`E2EData`: training and development batches of such examples; the test split is each
  distinct meaning representation once, with all of its references (E2E scores a generation
  against every reference of its input), decoded at batch 1 as the authors decode.
"""

from __future__ import annotations

import random
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from common.data import file_digest, missing
from common.errors import ConfigError, DataIntegrityError
from papers.lora.data import LengthBatches

SPLITS = ("train", "valid", "test")
IGNORE = -100  # the label of a position the loss skips (the context, the padding)


def read_e2e(data_dir: str | Path, split: str) -> list[tuple[str, str]]:
    """(meaning representation, reference) pairs, in file order; a line without ``||`` is an
    error that names it."""
    path = Path(data_dir) / "e2e" / f"{split}.txt"
    if not path.exists():
        raise missing(
            "E2E NLG",
            [path],
            "one 'meaning representation||reference' per line, as github.com/microsoft/LoRA "
            "examples/NLG/data/e2e/{train,valid,test}.txt give them",
        )
    file_digest(path)  # recorded with the run
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        context, sep, reference = line.partition("||")
        if not sep or not context.strip() or not reference.strip():
            raise DataIntegrityError(
                f"{path}, line {number}: expected 'meaning representation||reference': {line!r}"
            )
        pairs.append((context.strip(), reference.strip()))
    if not pairs:
        raise DataIntegrityError(f"{path} holds no examples")
    return pairs


def grouped(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Each distinct meaning representation once (in order of first appearance), with its
    references."""
    references: dict[str, list[str]] = {}
    for context, reference in pairs:
        references.setdefault(context, []).append(reference)
    return list(references.items())


def encode(tokenizer, context: str, reference: str, max_length: int) -> tuple[list[int], int]:
    """Token ids of context, end-of-text, " " + reference, end-of-text (cut to ``max_length``),
    and how many of them are the context's (the loss starts after them)."""
    eos = tokenizer.eos_token_id
    prompt = tokenizer(context)["input_ids"] + [eos]
    completion = tokenizer(" " + reference)["input_ids"] + [eos]
    return (prompt + completion)[:max_length], len(prompt)


class E2EData(L.LightningDataModule):
    """E2E for :class:`papers.lora.generation.LoRACausalLM`. Table 11: batch 8, sequences of at
    most 512 tokens. ``train_size``/``val_size``/``test_size``: the first examples of a shuffled
    split (test: meaning representations, in file order; null: all)."""

    def __init__(
        self,
        data_dir: str | None = None,
        base: str = "gpt2-medium",
        batch_size: int = 8,
        eval_batch_size: int = 32,
        max_length: int = 512,
        train_size: int | None = None,
        val_size: int | None = None,
        test_size: int | None = None,
        data_seed: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not data_dir:
            raise ConfigError("the E2E data are read from data.data_dir; none is set")
        self.save_hyperparameters()
        self.examples: dict[str, list[tuple[list[int], int]]] = {}
        self.tests: list[tuple[list[int], list[str]]] = []

    def setup(self, stage: str | None = None) -> None:
        if self.tests:
            return
        from papers.lora.base import load_tokenizer

        hp = self.hparams
        tokenizer = load_tokenizer(hp.base)
        for split, size in (("train", hp.train_size), ("valid", hp.val_size)):
            pairs = read_e2e(hp.data_dir, split)
            random.Random(hp.data_seed).shuffle(pairs)
            self.examples[split] = [encode(tokenizer, c, r, hp.max_length) for c, r in pairs[:size]]
        for context, references in grouped(read_e2e(hp.data_dir, "test"))[: hp.test_size]:
            prompt = tokenizer(context)["input_ids"] + [tokenizer.eos_token_id]
            self.tests.append((prompt, references))
        self.tokenizer, self.eos = tokenizer, tokenizer.eos_token_id

    def decode(self, ids: Tensor) -> str:
        """A generation's text: its tokens up to the first end-of-text token."""
        ids = ids.tolist()
        if self.eos in ids:
            ids = ids[: ids.index(self.eos)]
        return self.tokenizer.decode(ids).strip()

    def collate(self, examples: list[tuple[list[int], int]]) -> dict[str, Tensor]:
        """Right-padded ids, their mask, and labels: the ids on the reference's positions,
        ``IGNORE`` on the context's and the padding's."""
        width = max(len(ids) for ids, _ in examples)
        input_ids = torch.full((len(examples), width), self.eos, dtype=torch.long)
        attention_mask = torch.zeros(len(examples), width, dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        for i, (ids, context) in enumerate(examples):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention_mask[i, : len(ids)] = 1
            labels[i, context : len(ids)] = torch.tensor(ids[context:])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def loader(self, split: str, train: bool) -> DataLoader:
        hp = self.hparams
        examples = self.examples[split]
        trainer = self.trainer
        world_size, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        size = hp.batch_size if train else hp.eval_batch_size
        lengths = [len(ids) for ids, _ in examples]
        # training: plain random batches, as the authors draw them; evaluation: by length (speed)
        pool = 1 if train else 50
        sampler = LengthBatches(lengths, size, train, hp.seed, rank, world_size, pool)
        return DataLoader(examples, batch_sampler=sampler, collate_fn=self.collate)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid", train=False)

    def test_dataloader(self) -> DataLoader:
        """One meaning representation per batch (the authors' beam search runs at batch 1)."""
        indices = list(range(len(self.tests)))
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            indices = indices[trainer.global_rank :: trainer.world_size]

        def one(index: list[int]) -> dict[str, Tensor]:
            prompt, _ = self.tests[index[0]]
            return {"input_ids": torch.tensor([prompt]), "index": torch.tensor(index)}

        return DataLoader(indices, batch_size=1, collate_fn=one)
