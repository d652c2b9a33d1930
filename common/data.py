"""Data shared by the papers: where data sets live, how they are checked and cached, and the
DataModules that serve them.

Loaders look in the data directory (``paths.data_dir``, overridden by ``LANDMARKS_DATA_DIR``) for
the usual on-disk formats, verify known checksums, cache the decoded arrays under
``paths.cache_dir``, download the official release only when ``data.download=true``, and otherwise
stop with a :class:`MissingDataError` that names the expected files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from common.distributed import per_device_batch_size
from common.errors import DataIntegrityError, MissingDataError

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Files: checksums and the decoded-array cache


# What the current run read: each file's resolved path and SHA-256 (every file a loader hashes:
# its data, a pretrained base's weights), and data sets shipped inside a package by name and
# version. ``common.train`` empties it as a run starts and records it with the run.
SOURCES: dict[str, str] = {}


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if algorithm == "sha256":
        SOURCES[str(Path(path).resolve())] = digest.hexdigest()
    return digest.hexdigest()


def packaged(name: str, package: str) -> None:
    """Record a data set that ``package`` ships (scikit-learn's digits): its name and version."""
    from importlib.metadata import version

    SOURCES[name] = f"{package} {version(package)}"


def verify(path: Path, expected: str | None, algorithm: str = "sha256") -> str:
    """The file's digest; a :class:`DataIntegrityError` if it differs from ``expected``."""
    actual = file_digest(path, algorithm)
    if expected is not None and actual != expected:
        raise DataIntegrityError(
            f"{path} has {algorithm} {actual}, expected {expected}: the file is damaged or is "
            "another version; replace it (or set data.verify_checksums=false to accept it as it is)"
        )
    return actual


def cached(cache_dir: Path, key: str, build: Callable[[], dict[str, torch.Tensor]]):
    """``build()``'s tensors, stored once as ``cache_dir/key.pt`` and read from there afterwards."""
    path = Path(cache_dir) / f"{key}.pt"
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception as error:  # truncated or damaged (a disk filled up, a copy cut short)
            log.warning("the decoded cache %s is unreadable (%s); decoding again", path, error)
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(arrays, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a cache file
    return arrays


def fetch_release(name: str, fetch: Callable[[], object], folder: Path) -> None:
    """Run a torchvision download; no network (or a failed transfer) is one clear error."""
    try:
        fetch()
    except Exception as error:  # URLError, HTTPError, RuntimeError (bad checksum), OSError
        raise MissingDataError(
            f"could not download {name} ({type(error).__name__}: {error}); is there a network? "
            f"Otherwise put the files in {folder} and leave data.download=false"
        ) from None


def read_gzip_or_raw(path: Path) -> bytes:
    """The bytes of ``path``, decompressed if it is a ``.gz``; a damaged file names itself."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataIntegrityError(
            f"{path} is not a readable gzip file ({error}): it is truncated or damaged; replace it"
        ) from None


def missing(name: str, expected: list[Path], hint: str) -> MissingDataError:
    files = "\n  ".join(str(p) for p in expected)
    return MissingDataError(
        f"{name} not found. Expected:\n  {files}\n{hint}\n"
        "Set the data directory with LANDMARKS_DATA_DIR=<dir> or paths.data_dir=<dir>."
    )


# ---------------------------------------------------------------------------------------------
# Formats


def read_idx(raw: bytes) -> np.ndarray:
    """An IDX array (the MNIST format): two zero bytes, a type byte, the rank, then each dimension
    as a big-endian u32, then the data."""
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise DataIntegrityError("not an unsigned-byte IDX file (bad magic number)")
    shape = struct.unpack(f">{rank}I", raw[4 : 4 + 4 * rank])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise DataIntegrityError(f"IDX header says {shape} but holds {data.size} bytes")
    return data.reshape(shape)


def decode_image(raw: bytes, channels: int) -> np.ndarray:
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB" if channels == 3 else "L")
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def read_image_zip(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images and labels of ``split/<class>/<image>`` inside a zip (an ImageFolder in a zip)."""
    with zipfile.ZipFile(path) as archive:
        names = sorted(
            n for n in archive.namelist() if n.startswith(f"{split}/") and not n.endswith("/")
        )
        classes = sorted({n.split("/")[1] for n in names})
        if not names:
            raise DataIntegrityError(f"{path} has no images under {split}/<class>/")
        images = np.stack([decode_image(archive.read(n), 3) for n in names])
    labels = np.array([classes.index(n.split("/")[1]) for n in names], dtype=np.int64)
    return images, labels, classes


# ---------------------------------------------------------------------------------------------
# Data sets as uint8 image tensors (N, C, H, W) with int64 labels


MNIST_FILES = {  # MD5 of the decompressed official files (yann.lecun.com release)
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}


def load_mnist(
    data_dir: Path,
    cache_dir: Path,
    download: bool = False,
    verify_checksums: bool = True,
    idx: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """An IDX data set in MNIST's layout: MNIST itself from ``data_dir/mnist/*-ubyte[.gz]``,
    checked against the official MD5s, or any other set of four IDX files named by ``idx``
    (``folder`` under ``data_dir`` and the file stems ``train_images``, ``train_labels``,
    ``test_images``, ``test_labels``; see ``configs/data/mnist.yaml``)."""
    names = {"folder": "mnist", **{key: stem for key, (stem, _) in MNIST_FILES.items()}}
    unknown = set(idx or {}) - set(names)
    if unknown:
        raise DataIntegrityError(f"data.idx has unknown keys {sorted(unknown)}; use {list(names)}")
    names.update(idx or {})
    folder = Path(data_dir) / names["folder"]
    stems = {key: names[key] for key in MNIST_FILES}

    def locate(stem: str) -> Path | None:
        return next((p for p in (folder / stem, folder / f"{stem}.gz") if p.exists()), None)

    if download and any(locate(stem) is None for stem in stems.values()):
        from torchvision.datasets import MNIST

        fetch_release(
            "MNIST", lambda: MNIST(str(folder.parent / "torchvision"), download=True), folder
        )
        folder = folder.parent / "torchvision" / "MNIST" / "raw"
    paths = {key: locate(stem) for key, stem in stems.items()}
    if any(p is None for p in paths.values()):
        raise missing(
            "MNIST" if names["folder"] == "mnist" else f"The IDX data set {names['folder']!r}",
            [folder / f"{stem}.gz" for stem in stems.values()],
            "The four IDX files of the official release, gzipped or not; "
            "or set data.download=true.",
        )

    def build() -> dict[str, torch.Tensor]:
        arrays = {}
        for key, path in paths.items():
            raw = read_gzip_or_raw(path)
            if verify_checksums and hashlib.md5(raw).hexdigest() != MNIST_FILES[key][1]:
                raise DataIntegrityError(
                    f"{path}: its decompressed MD5 differs from the official file's; replace it "
                    "(or set data.verify_checksums=false to accept it as it is)"
                )
            try:
                arrays[key] = torch.from_numpy(read_idx(raw).copy())
            except DataIntegrityError as error:
                raise DataIntegrityError(f"{path}: {error}") from None
        return {
            "train_images": arrays["train_images"][:, None],
            "train_labels": arrays["train_labels"].long(),
            "test_images": arrays["test_images"][:, None],
            "test_labels": arrays["test_labels"].long(),
        }

    digest = hashlib.sha256(b"".join(file_digest(p).encode() for p in paths.values()))
    # The key is the source files' checksum, and says whether their MD5s were checked when it was
    # made: a run that verifies never reads a cache an unverified run decoded.
    checked = "verified" if verify_checksums else "unverified"
    return cached(cache_dir, f"mnist-{digest.hexdigest()[:16]}-{checked}", build)


CIFAR10_JPEG_SHA256 = "05b4c8c8bf43c21250b5d4abc4621c4fed6837d691555b00c9215bfc6b363d11"
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]  # the official label order


def load_cifar10(
    data_dir: Path, cache_dir: Path, download: bool = False, verify_checksums: bool = True
) -> dict[str, torch.Tensor]:
    """CIFAR-10 from ``data_dir/cifar10-jpeg/cifar10-jpeg.zip`` (an ImageFolder of JPEGs in a zip)
    or ``data_dir/cifar-10-batches-py`` (the official release), whichever is there."""
    data_dir = Path(data_dir)
    archive = data_dir / "cifar10-jpeg" / "cifar10-jpeg.zip"
    official = data_dir / "cifar-10-batches-py"
    if archive.exists():
        digest = verify(archive, CIFAR10_JPEG_SHA256 if verify_checksums else None)

        def build() -> dict[str, torch.Tensor]:
            arrays = {}
            for split in ("train", "test"):
                images, labels, classes = read_image_zip(archive, split)
                if classes != sorted(CIFAR10_CLASSES):
                    raise DataIntegrityError(f"{archive}: classes {classes} are not CIFAR-10's")
                # map folder order (alphabetical) to the official label order
                official_index = np.array([CIFAR10_CLASSES.index(c) for c in classes])
                arrays[f"{split}_images"] = torch.from_numpy(images)
                arrays[f"{split}_labels"] = torch.from_numpy(official_index[labels])
            return arrays

        return cached(cache_dir, f"cifar10-jpeg-{digest[:16]}", build)
    if not official.exists() and download:
        from torchvision.datasets import CIFAR10

        # needs a network; writes cifar-10-batches-py
        fetch_release("CIFAR-10", lambda: CIFAR10(str(data_dir), download=True), official)
    if official.exists():
        return cached(cache_dir, "cifar10-official", lambda: read_cifar10_batches(official))
    raise missing(
        "CIFAR-10",
        [archive, official / "data_batch_1 ... data_batch_5, test_batch"],
        "Either file set works; or set data.download=true where a network exists.",
    )


def read_cifar10_batches(folder: Path) -> dict[str, torch.Tensor]:
    def read(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batches = [pickle.loads((folder / n).read_bytes(), encoding="bytes") for n in names]
        images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([b[b"labels"] for b in batches]).astype(np.int64)
        return torch.from_numpy(images), torch.from_numpy(labels)

    train_images, train_labels = read([f"data_batch_{i}" for i in range(1, 6)])
    test_images, test_labels = read(["test_batch"])
    return {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }


def load_digits_images() -> dict[str, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits (shipped with the package), as uint8 images, with the
    last 20% (stratified, fixed seed) held out as the test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    packaged("sklearn.datasets.load_digits", "scikit-learn")
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # values 0..16
    train_x, test_x, train_y, test_y = train_test_split(
        images, digits.target, test_size=0.2, stratify=digits.target, random_state=0
    )
    return {
        "train_images": torch.from_numpy(train_x),
        "train_labels": torch.from_numpy(train_y).long(),
        "test_images": torch.from_numpy(test_x),
        "test_labels": torch.from_numpy(test_y).long(),
    }


# ---------------------------------------------------------------------------------------------
# DataModules


class SplitDataModule(L.LightningDataModule):
    """Serves ``self.splits`` ("train", "val", "test") so that a run sees the same global batches
    whatever the number of processes.

    ``hparams.batch_size`` is the global batch. Every process draws the same permutation of the
    training set for each epoch (from ``hparams.seed`` and the epoch, not from the global RNG), and
    process r of W loads positions r, r + W, ... of it: the W per-process batches of a step are
    together exactly the one-process batch. (The trainer runs with
    ``use_distributed_sampler=false`` so that Lightning keeps these samplers.) Under DDP the
    evaluation splits are padded by repeating a few samples to a multiple of W."""

    splits: dict[str, Dataset]

    def loader(self, split: str, shuffle: bool) -> DataLoader:
        trainer = self.trainer
        world_size, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        sampler = DistributedSampler(
            self.splits[split],
            num_replicas=world_size,
            rank=rank,
            shuffle=shuffle,
            seed=self.hparams.seed,
        )
        return DataLoader(
            self.splits[split],
            batch_size=per_device_batch_size(self.hparams.batch_size, world_size),
            sampler=sampler,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=self.hparams.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)


class ImageDataModule(SplitDataModule):
    """An image-classification data set held in memory as uint8 tensors.

    ``batch_size`` is the global batch: under DDP each process loads ``batch_size / world_size``.
    Images are served as uint8 at their stored size, resized once to ``image_size`` if given; the
    paper's augmentation runs on the batch in the LightningModule (on the GPU when there is one).
    The validation split is the last ``val_size`` training images, after a seeded shuffle
    (``split_by="shuffle"``) or in their stored order (``split_by="position"``, e.g. MNIST images
    50,000-60,000 as in the GAN authors' configuration); ``train_size`` keeps only the first that
    many of the rest. ``idx`` names the folder and files of an IDX data set (``dataset="mnist"``,
    :func:`load_mnist`).
    """

    def __init__(
        self,
        dataset: str,
        data_dir: str,
        cache_dir: str,
        batch_size: int,
        num_classes: int,
        channels: int,
        val_size: int,
        image_size: int | None = None,
        train_size: int | None = None,
        download: bool = False,
        verify_checksums: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 0,
        split_seed: int = 0,
        split_by: str = "shuffle",
        idx: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if split_by not in ("shuffle", "position"):
            raise ValueError(f"data.split_by={split_by!r}; choose shuffle or position")
        if dataset not in LOADERS:
            raise ValueError(f"data.dataset={dataset!r}; choose one of {sorted(LOADERS)}")
        self.save_hyperparameters(logger=False)  # the run config already holds them
        self.splits: dict[str, TensorDataset] = {}

    def load(self) -> dict[str, torch.Tensor]:
        hp = self.hparams
        return LOADERS[hp.dataset](hp)

    def prepare_data(self) -> None:
        self.load()  # decodes and caches once, on local rank 0

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        arrays = self.load()
        images, labels = arrays["train_images"], arrays["train_labels"]
        if hp.image_size is not None and images.shape[-1] != hp.image_size:
            images = resize(images, hp.image_size)
            arrays["test_images"] = resize(arrays["test_images"], hp.image_size)
        if hp.split_by == "position":
            order = torch.arange(len(images))
        else:
            order = torch.randperm(
                len(images), generator=torch.Generator().manual_seed(hp.split_seed)
            )
        if not 0 < hp.val_size < len(images):
            raise ValueError(f"data.val_size={hp.val_size} must be between 0 and {len(images)}")
        train_index, val_index = order[: -hp.val_size], order[-hp.val_size :]
        if hp.train_size is not None:
            train_index = train_index[: hp.train_size]
        self.splits = {
            "train": TensorDataset(images[train_index], labels[train_index]),
            "val": TensorDataset(images[val_index], labels[val_index]),
            "test": TensorDataset(arrays["test_images"], arrays["test_labels"]),
        }

    def train_images(self) -> torch.Tensor:
        """The training images (uint8), for statistics such as a mean image or a colour PCA."""
        self.setup()
        return self.splits["train"].tensors[0]

    def train_sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` training images and their labels, e.g. to measure overfitting."""
        self.setup()
        images, labels = self.splits["train"].tensors
        return images[:n], labels[:n]


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images resized (bilinear, antialiased) so both sides are ``size``."""
    out = torch.nn.functional.interpolate(
        images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.round().clamp(0, 255).to(torch.uint8)


LOADERS: dict[str, Callable] = {
    "digits": lambda hp: load_digits_images(),
    "mnist": lambda hp: load_mnist(
        Path(hp.data_dir), Path(hp.cache_dir), hp.download, hp.verify_checksums, hp.idx
    ),
    "cifar10": lambda hp: load_cifar10(
        Path(hp.data_dir), Path(hp.cache_dir), hp.download, hp.verify_checksums
    ),
}


class ImageFolderDataModule(SplitDataModule):
    """An ImageFolder tree (``root/train/<class>/*``, ``root/val/<class>/*``), such as ILSVRC-2012,
    decoded on the fly. Each image is resized so its shorter side is ``image_size`` and its centre
    ``image_size`` square is kept (AlexNet, Section 2), and served as uint8 like
    :class:`ImageDataModule`. ``val`` doubles as the test split (ImageNet's test labels are not
    public; the paper's Table 2 reports validation numbers too)."""

    def __init__(
        self,
        root: str,
        batch_size: int,
        num_classes: int,
        image_size: int = 256,
        channels: int = 3,
        shuffle: bool = True,
        seed: int = 0,
        num_workers: int = 8,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the run config already holds them
        self.splits: dict[str, Dataset] = {}

    def folder(self, split: str) -> Path:
        path = Path(self.hparams.root) / split
        if not path.is_dir():
            raise missing(
                f"Image folder {split!r}",
                [path / "<class>/<image>.JPEG"],
                "ILSVRC-2012 in ImageFolder layout (train/ and val/, one folder per class).",
            )
        return path

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from torchvision import transforms
        from torchvision.datasets import ImageFolder

        size = self.hparams.image_size
        to_uint8 = transforms.Compose(
            [transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()]
        )
        train = ImageFolder(str(self.folder("train")), transform=to_uint8)
        val = ImageFolder(str(self.folder("val")), transform=to_uint8)
        if len(train.classes) != self.hparams.num_classes or val.classes != train.classes:
            raise DataIntegrityError(
                f"{self.hparams.root}: train has {len(train.classes)} classes, val "
                f"{len(val.classes)}; data.num_classes={self.hparams.num_classes}"
            )
        self.splits = {"train": train, "val": val, "test": val}

    def train_images(self, limit: int = 10_000) -> torch.Tensor:
        """Up to ``limit`` training images spread over the set, for statistics."""
        self.setup()
        train = self.splits["train"]
        step = max(1, len(train) // limit)
        return torch.stack([train[i][0] for i in range(0, len(train), step)][:limit])
