"""The splits of the authors' configurations (goodfeli/adversarial), which take the validation
images by position rather than at random:

* MNIST (``mnist.yaml``): train = training images 0-50,000, valid = 50,000-60,000;
* CIFAR-10 (``cifar10_fully_connected.yaml``): train = 0-40,000, valid = 40,000-50,000;
* TFD (``tfd_pretrain/train.yaml``): train = the unlabelled images, valid and test = one fold's.

MNIST and CIFAR-10 use the shared :class:`ImageDataModule` with ``split_by=position``;
:class:`TFDDataModule` reads the Toronto Face Database, which cannot be downloaded (see
``configs/data/gan/tfd.yaml`` for what to provide).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from common.data import SplitDataModule, file_digest, missing
from common.errors import DataIntegrityError

# The ``folds`` matrix of TFD_48x48.mat: one column per fold, one row per image.
TFD_SETS = {"unlabeled": 0, "train": 1, "valid": 2, "test": 3}


def split_tfd(images: torch.Tensor, folds: torch.Tensor, fold: int) -> dict[str, torch.Tensor]:
    """Training (unlabelled), validation and test images of ``fold`` (0-4), as pylearn2's TFD."""
    if not 0 <= fold < folds.shape[1]:
        raise ValueError(f"data.fold={fold}; TFD has folds 0-{folds.shape[1] - 1}")
    column = folds[:, fold]
    split = {
        name: images[column == TFD_SETS[which]]
        for name, which in (("train", "unlabeled"), ("val", "valid"), ("test", "test"))
    }
    empty = [name for name, x in split.items() if len(x) == 0]
    if empty:
        raise DataIntegrityError(f"TFD fold {fold} has no images in {', '.join(empty)}")
    return split


def load_tfd(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` (N, 48, 48) uint8 and ``folds`` (N, 5) of TFD_48x48.mat."""
    from scipy.io import loadmat

    file_digest(path)  # recorded with the run
    mat = loadmat(str(path), variable_names=["images", "folds"])
    if "images" not in mat or "folds" not in mat:
        raise DataIntegrityError(f"{path} has no 'images' and 'folds' variables")
    images = torch.from_numpy(mat["images"].astype("uint8"))
    folds = torch.from_numpy(mat["folds"].astype("int64"))
    if images.ndim != 3 or len(folds) != len(images):
        raise DataIntegrityError(
            f"{path}: images {tuple(images.shape)} and folds {tuple(folds.shape)} do not match"
        )
    return images, folds


class TFDDataModule(SplitDataModule):
    """The Toronto Face Database (48x48 grey faces) from ``<data_dir>/tfd/TFD_48x48.mat``.

    Training: the unlabelled images (the authors' ``which_set: 'unlabeled'``); validation and
    test: those of fold ``fold``. Served as uint8 (N, 1, 48, 48) with dummy labels, like
    :class:`ImageDataModule`."""

    def __init__(
        self,
        data_dir: str,
        batch_size: int,
        fold: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.splits: dict[str, TensorDataset] = {}

    @property
    def path(self) -> Path:
        return Path(self.hparams.data_dir) / "tfd" / "TFD_48x48.mat"

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if not self.path.exists():
            raise missing(
                "The Toronto Face Database",
                [self.path],
                "TFD is distributed by the University of Toronto on request and cannot be "
                "downloaded here: the MATLAB file with 'images' (N x 48 x 48, uint8) and 'folds' "
                "(N x 5; 0 unlabelled, 1 train, 2 valid, 3 test).",
            )
        images, folds = load_tfd(self.path)
        self.splits = {
            name: TensorDataset(x[:, None], torch.zeros(len(x), dtype=torch.long))
            for name, x in split_tfd(images, folds, self.hparams.fold).items()
        }

    def train_images(self) -> torch.Tensor:
        self.setup()
        return self.splits["train"].tensors[0]
