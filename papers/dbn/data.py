"""Section 6's data protocol: balanced mini-batches, then a final stage on all training images.

"The network was trained on 44,000 of the training images that were divided into 440 balanced
mini-batches each containing 10 examples of each digit class", with 10,000 images kept for
validation; after 300 up-down epochs it was trained further on all 60,000 training images.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler, TensorDataset

from common.data import ImageDataModule


class BalancedBatches(Sampler[list[int]]):
    """Mini-batches with ``batch_size / num_classes`` examples of every class; each epoch the
    examples of each class are reshuffled and dealt out, and a class's surplus beyond what the
    smallest class fills is left out of that epoch."""

    def __init__(self, labels: Tensor, batch_size: int, num_classes: int) -> None:
        if batch_size % num_classes:
            raise ValueError(
                f"balanced mini-batches need data.batch_size ({batch_size}) to be a multiple "
                f"of the number of classes ({num_classes})"
            )
        self.per_class = batch_size // num_classes
        self.by_class = [torch.nonzero(labels == c).squeeze(1) for c in range(num_classes)]
        self.n_batches = min(len(index) for index in self.by_class) // self.per_class
        if self.n_batches == 0:
            raise ValueError(f"a class has fewer than {self.per_class} training examples")

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        used = self.n_batches * self.per_class
        columns = [
            index[torch.randperm(len(index))][:used].view(self.n_batches, self.per_class)
            for index in self.by_class
        ]
        yield from torch.cat(columns, dim=1).tolist()


def first_per_class(labels: Tensor, per_class: int, num_classes: int) -> Tensor:
    """Indices of the first ``per_class`` examples of each class, in their original order."""
    chosen = []
    for c in range(num_classes):
        index = torch.nonzero(labels == c).squeeze(1)
        if len(index) < per_class:
            raise ValueError(
                f"data.per_class={per_class} but class {c} has only {len(index)} training images"
            )
        chosen.append(index[:per_class])
    return torch.cat(chosen).sort().values


class DBNDataModule(ImageDataModule):
    """:class:`common.data.ImageDataModule` with Section 6's protocol.

    per_class: keep this many training images of each class (4,400 in the paper: 44,000 in all);
        None keeps them all.
    balanced: serve balanced mini-batches (:class:`BalancedBatches`) instead of shuffled ones.
    all_training_from_epoch: from this epoch on, train on every training image (the training
        and validation splits, 60,000 for MNIST) in shuffled mini-batches; needs
        ``trainer.reload_dataloaders_every_n_epochs=1``. None never does.
    Other arguments: those of :class:`ImageDataModule`.
    """

    def __init__(
        self,
        per_class: int | None = None,
        balanced: bool = True,
        all_training_from_epoch: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.per_class = per_class
        self.balanced = balanced
        self.all_training_from_epoch = all_training_from_epoch

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        super().setup(stage)
        train, val = self.splits["train"], self.splits["val"]
        self.splits["all"] = TensorDataset(
            *(torch.cat(pair) for pair in zip(train.tensors, val.tensors, strict=True))
        )
        if self.per_class is not None:
            images, labels = train.tensors
            keep = first_per_class(labels, self.per_class, self.hparams.num_classes)
            self.splits["train"] = TensorDataset(images[keep], labels[keep])

    def uses_all_training_images(self, epoch: int) -> bool:
        return self.all_training_from_epoch is not None and epoch >= self.all_training_from_epoch

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        if self.all_training_from_epoch is not None and (
            trainer is None or trainer.reload_dataloaders_every_n_epochs != 1
        ):
            raise ValueError(
                "data.all_training_from_epoch needs trainer.reload_dataloaders_every_n_epochs=1, "
                "so the training set can change at that epoch"
            )
        if trainer is not None and self.uses_all_training_images(trainer.current_epoch):
            return self.loader("all", shuffle=True)
        if not self.balanced:
            return self.loader("train", shuffle=True)
        labels = self.splits["train"].tensors[1]
        sampler = BalancedBatches(labels, self.hparams.batch_size, self.hparams.num_classes)
        return DataLoader(
            self.splits["train"], batch_sampler=sampler, num_workers=self.hparams.num_workers
        )
