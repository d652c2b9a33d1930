"""Continuous-input data for Table 1 (Gaussian- vs binomial-input DBNs).

The paper's Abalone (UCI) and Cotton sets are not shipped with any dependency. We use
scikit-learn's diabetes regression set (442 patients, 10 continuous inputs, a disease-progression
score), which ships with the package, as the stand-in for Abalone (also a regression scored by
mean squared error). Users who have the UCI file ``abalone.data`` can run on it with
``data.dataset=abalone``: 4,177 examples, split 2,177 / 1,000 / 1,000 as in the paper.

Inputs are scaled per arm as its visible units assume: to [0, 1] with the training split's
minimum and maximum for binomial units (probabilities; Table 1 rows 3-4), standardised to the
training split's mean and unit variance for Gaussian units (rows 5-6; ``scaling="standard"``).
The target is standardised with the training split's mean and standard deviation, so the reported
mean squared error is in units of the target's training variance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from common.data import SplitDataModule, file_digest, missing, packaged

ABALONE_SPLIT = (2177, 1000, 1000)  # Table 1: train / validation / test
ABALONE_SEXES = ("M", "F", "I")


def load_diabetes_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's diabetes set: raw (unscaled) inputs and the progression score."""
    from sklearn.datasets import load_diabetes

    packaged("sklearn.datasets.load_diabetes", "scikit-learn")
    data = load_diabetes(scaled=False)
    return data.data.astype(np.float64), data.target.astype(np.float64)


def load_abalone_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """UCI ``abalone.data``: sex one-hot (3 inputs) and 7 measurements; the target is rings."""
    path = Path(data_dir) / "abalone" / "abalone.data"
    if not path.exists():
        raise missing(
            "Abalone",
            [path],
            "The UCI Machine Learning Repository's abalone.data (comma-separated, 4,177 rows); "
            "or run Table 1 on the default data.dataset=diabetes.",
        )
    file_digest(path)  # recorded with the run
    rows = [line.split(",") for line in path.read_text().split("\n") if line.strip()]
    sex = np.array([[float(r[0] == s) for s in ABALONE_SEXES] for r in rows])
    measurements = np.array([[float(v) for v in r[1:8]] for r in rows])
    rings = np.array([float(r[8]) for r in rows])
    return np.concatenate([sex, measurements], axis=1), rings


TABULAR_LOADERS = {"diabetes": load_diabetes_arrays, "abalone": load_abalone_arrays}


def split_sizes(n: int, dataset: str, test_fraction: float) -> tuple[int, int, int]:
    """(train, validation, test) sizes: Abalone's are the paper's; others split by fraction."""
    if dataset == "abalone":
        return ABALONE_SPLIT
    held_out = round(n * test_fraction)
    return n - 2 * held_out, held_out, held_out


def min_max_scale(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """x scaled by the training minimum and range, clipped to [0, 1]."""
    low, high = train.min(0).values, train.max(0).values
    return ((x - low) / (high - low).clamp_min(1e-12)).clamp(0, 1)


def standardise(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """x minus the training mean, over the training standard deviation."""
    return (x - train.mean(0)) / train.std(0).clamp_min(1e-12)


SCALINGS = {"min_max": min_max_scale, "standard": standardise}


class TabularDataModule(SplitDataModule):
    """A regression set with continuous inputs, held in memory as float tensors.

    dataset: "diabetes" (scikit-learn, no download) or "abalone" (``<data_dir>/abalone/
        abalone.data``). test_fraction: of the examples for each of validation and test
        (diabetes; Abalone uses the paper's split). split_seed: the seeded shuffle before
        splitting. scaling: of the inputs, "min_max" (to [0, 1], for binomial visible units) or
        "standard" (zero mean, unit variance, for Gaussian ones). Other arguments: those of
        :class:`common.data.SplitDataModule`.
    """

    def __init__(
        self,
        dataset: str,
        data_dir: str,
        batch_size: int,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 0,
        scaling: str = "min_max",
    ) -> None:
        super().__init__()
        if dataset not in TABULAR_LOADERS:
            raise ValueError(f"data.dataset={dataset!r}; choose one of {sorted(TABULAR_LOADERS)}")
        if scaling not in SCALINGS:
            raise ValueError(f"data.scaling={scaling!r}; choose one of {sorted(SCALINGS)}")
        self.save_hyperparameters(logger=False)
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        x, y = (torch.from_numpy(a).float() for a in TABULAR_LOADERS[hp.dataset](hp.data_dir))
        n_train, n_val, n_test = split_sizes(len(x), hp.dataset, hp.test_fraction)
        if n_train + n_val + n_test != len(x) or min(n_train, n_val, n_test) < 1:
            raise ValueError(
                f"{hp.dataset}: {len(x)} examples cannot be split {n_train}/{n_val}/{n_test}"
            )
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(hp.split_seed))
        parts = order.split([n_train, n_val, n_test])
        train_x, train_y = x[parts[0]], y[parts[0]]
        mean, std = train_y.mean(), train_y.std()
        self.splits = {
            name: TensorDataset(SCALINGS[hp.scaling](x[index], train_x), (y[index] - mean) / std)
            for name, index in zip(("train", "val", "test"), parts, strict=True)
        }
