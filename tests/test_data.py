"""Data loading on tiny fake data sets written in the real on-disk formats."""

import gzip
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common import data
from common.config import build
from common.errors import DataIntegrityError, MissingDataError
from common.train import format_summary, train


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_mnist(folder, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for stem, array in arrays.items():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    return arrays


def jpeg(colour, size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def write_fake_cifar_zip(path, per_class=2):
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "test"):
            for c, name in enumerate(data.CIFAR10_CLASSES):
                for i in range(per_class):
                    archive.writestr(f"{split}/{name}/{i:04d}.jpg", jpeg((c * 25, 0, 0)))


def test_idx_round_trip_and_bad_magic():
    array = np.arange(24).reshape(2, 3, 4)
    assert np.array_equal(data.read_idx(idx_bytes(array)), array)
    with pytest.raises(DataIntegrityError, match="bad magic number"):
        data.read_idx(b"\x01\x02\x03\x04")


def test_mnist_loads_verifies_and_caches(tmp_path):
    arrays = write_fake_mnist(tmp_path / "data" / "mnist")
    with pytest.raises(DataIntegrityError, match="decompressed MD5 differs from the official"):
        data.load_mnist(tmp_path / "data", tmp_path / "cache")
    loaded = data.load_mnist(tmp_path / "data", tmp_path / "cache", verify_checksums=False)
    assert loaded["train_images"].shape == (30, 1, 28, 28)
    assert torch.equal(
        loaded["train_images"][:, 0],
        torch.from_numpy(arrays["train-images-idx3-ubyte"].astype(np.uint8)),
    )
    assert loaded["test_labels"].tolist() == list(range(10))
    assert len(list((tmp_path / "cache").glob("mnist-*.pt"))) == 1
    again = data.load_mnist(tmp_path / "data", tmp_path / "cache", verify_checksums=False)
    assert torch.equal(again["train_images"], loaded["train_images"])


def test_missing_mnist_names_the_files(tmp_path):
    with pytest.raises(MissingDataError, match=r"mnist/train-images-idx3-ubyte.gz"):
        data.load_mnist(tmp_path, tmp_path / "cache")


def test_cifar_zip_maps_folders_to_the_official_labels(tmp_path):
    write_fake_cifar_zip(tmp_path / "cifar10-jpeg" / "cifar10-jpeg.zip")
    with pytest.raises(DataIntegrityError, match="sha256"):
        data.load_cifar10(tmp_path, tmp_path / "cache")
    loaded = data.load_cifar10(tmp_path, tmp_path / "cache", verify_checksums=False)
    assert loaded["train_images"].shape == (20, 3, 32, 32)
    labels = loaded["train_labels"]
    reds = loaded["train_images"][:, 0].float().mean((1, 2))
    # the red level encodes the official index: airplane 0 ... truck 9
    assert torch.allclose(reds, labels.float() * 25, atol=3)


def test_digits_split_sizes_and_global_batch(make_config):
    module = data.ImageDataModule(
        "digits", "", "", batch_size=64, num_classes=10, channels=1, val_size=180, image_size=32
    )
    module.setup()
    sizes = {k: len(v) for k, v in module.splits.items()}
    assert sizes == {"train": 1257, "val": 180, "test": 360}
    assert module.splits["train"].tensors[0].shape[1:] == (1, 32, 32)
    assert data.per_device_batch_size(64, 2) == 32
    with pytest.raises(ValueError, match="does not split evenly over 3 processes"):
        data.per_device_batch_size(64, 3)
    with pytest.raises(ValueError, match="data.dataset='svhn'; choose one of"):
        data.ImageDataModule("svhn", "", "", 1, 10, 1, 1)


def write_fake_imagenet(root, classes=3, per_class=2):
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                (folder / f"{i}.JPEG").write_bytes(jpeg((80 * c, 40, 200), size=(60 + i, 40)))


def test_paper_preset_runs_on_a_tiny_image_folder(make_config, tmp_path):
    """preset=paper end to end (256 resize, random 224 crops, PCA colour, 10-crop test, the
    full-size convolutional layers) on a 3-class ImageFolder; fc layers shrunk to keep it quick."""
    write_fake_imagenet(tmp_path / "data" / "imagenet")
    cfg = make_config(
        "preset=paper",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.num_classes=3",
        "data.batch_size=2",
        "data.num_workers=0",
        "model.net.hidden=16",
        "trainer.max_steps=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "logger=csv",
    )
    summary = train(cfg)
    assert summary["steps"] == 2 and summary["preset"] == "paper"
    assert 0.0 <= summary["metrics"]["test/error"] <= 1.0
    state = torch.load(summary["last_checkpoint"], weights_only=True)["state_dict"]
    assert state["mean_image"].shape == (3, 256, 256)
    assert state["net.features.conv1.weight"].shape == (96, 3, 11, 11)
    assert state["eigenvalues"].min() > -1e-6 and state["eigenvalues"].max() > 0.01


def test_missing_image_folder_names_the_layout(make_config, tmp_path):
    cfg = make_config("preset=paper", f"paths.data_dir={tmp_path}", "logger=none")
    with pytest.raises(MissingDataError, match=r"imagenet/train/<class>/<image>.JPEG"):
        train(cfg)


def test_any_idx_set_by_config(make_config, tmp_path):
    """Another data set in MNIST's IDX layout, named by data.idx (the issue's clothing images)."""
    folder = tmp_path / "fashion"
    write_fake_mnist(folder)
    for path in folder.iterdir():  # other file names than MNIST's
        path.rename(folder / path.name.replace("t10k", "test").replace("-ubyte", ""))
    idx = [
        "data.idx.folder=fashion",
        "data.idx.train_images=train-images-idx3",
        "data.idx.train_labels=train-labels-idx1",
        "data.idx.test_images=test-images-idx3",
        "data.idx.test_labels=test-labels-idx1",
    ]
    cfg = make_config("data=mnist", f"paths.data_dir={tmp_path}", "data.val_size=5", *idx)
    module = build(cfg.data)
    with pytest.raises(DataIntegrityError, match="its decompressed MD5 differs"):
        module.setup()  # the MD5s are MNIST's
    cfg = make_config(
        "data=mnist",
        f"paths.data_dir={tmp_path}",
        "data.val_size=5",
        *idx,
        "data.verify_checksums=false",
    )
    module = build(cfg.data)
    module.setup()
    assert len(module.splits["train"]) == 25 and len(module.splits["test"]) == 10
    # a run on it records which files it read, and does not set MNIST's numbers beside its own
    short = ("trainer.max_steps=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1")
    summary = train(
        make_config(
            "data=mnist",
            f"paths.data_dir={tmp_path}",
            "data.val_size=5",
            "data.batch_size=5",
            *idx,
            "data.verify_checksums=false",
            "logger=csv",
            *short,
        )
    )
    files = {str(p.resolve()): data.file_digest(p) for p in folder.iterdir()}
    assert summary["data"]["files"] == files and summary["data"]["data_dir"] == str(tmp_path)
    assert summary["data"]["paper_data"] is False and summary["paper_vs_ours"] == []
    run = json.loads((Path(summary["output_dir"]) / "run.json").read_text())
    assert run["data"] == summary["data"]
    assert "not known to be the paper's data set" in format_summary(summary)
    with pytest.raises(DataIntegrityError, match=r"data.idx has unknown keys \['colour'\]"):
        data.load_mnist(tmp_path, tmp_path / "cache", idx={"colour": "x"})


def test_a_verifying_run_never_reads_an_unverified_cache(tmp_path):
    """Once files were decoded without the MD5 check, a run that asks for it still checks."""
    write_fake_mnist(tmp_path / "mnist")  # random files: not the official MD5s
    data.load_mnist(tmp_path, tmp_path / "cache", verify_checksums=False)
    with pytest.raises(DataIntegrityError, match="its decompressed MD5 differs"):
        data.load_mnist(tmp_path, tmp_path / "cache", verify_checksums=True)
