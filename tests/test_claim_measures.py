"""Every claim measures a metric its module logs: one short run (one batch of everything) of the
first arm of one claim per paper and measure, on fake data in the real formats where the claim
reads real data (MNIST's IDX files, CIFAR-10's JPEG zip, Tiny Shakespeare's text, Multi30k's
gzipped text, SST-2's TSV files)."""

import gzip
import io
import string
import zipfile

import numpy as np
import pytest
from omegaconf import open_dict
from PIL import Image
from test_data import idx_bytes

from common import registry
from common.config import compose
from common.data import CIFAR10_CLASSES
from common.train import train


def first_arm_per_measure() -> list:
    """(paper, claim, arm, measure): the first arm that reads each measure (an arm may read its
    own metric of the claim's runs)."""
    seen, chosen = set(), []
    for name in registry.available():
        for claim in registry.claims(name):
            for arm in () if claim.not_run_here else claim.arms:
                measure = arm.measure or claim.measure
                if (name, measure) not in seen:
                    seen.add((name, measure))
                    chosen.append(pytest.param(name, claim, arm, measure, id=f"{name}-{measure}"))
    return chosen


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory):
    """Enough images for the claims' splits (GAN: 10,000 validation images by position)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    (root / "mnist").mkdir()
    for stem, n in (("train", 10_500), ("t10k", 100)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        (root / "mnist" / f"{stem}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(images), compresslevel=1)
        )
        (root / "mnist" / f"{stem}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(labels))
        )
    (root / "cifar10-jpeg").mkdir()
    with zipfile.ZipFile(root / "cifar10-jpeg" / "cifar10-jpeg.zip", "w") as archive:
        for split, per_class in (("train", 1_210), ("test", 3)):
            for c, name in enumerate(CIFAR10_CLASSES):
                buffer = io.BytesIO()
                Image.new("RGB", (32, 32), (c * 25, 0, 0)).save(buffer, format="JPEG")
                for i in range(per_class):
                    archive.writestr(f"{split}/{name}/{i:04d}.jpg", buffer.getvalue())
    (root / "tinyshakespeare").mkdir()
    characters = "\n !$&',-.3:;?" + string.ascii_uppercase + string.ascii_lowercase
    (root / "tinyshakespeare" / "input.txt").write_text(characters * 700)  # its 65 characters
    (root / "multi30k").mkdir()
    for stem in ("train", "val", "test_2016_flickr"):
        for language, words in (("en", "a dog runs"), ("de", "ein hund rennt")):
            lines = "".join(f"{words} {i}\n" for i in range(40))
            (root / "multi30k" / f"{stem}.{language}.gz").write_bytes(gzip.compress(lines.encode()))
    (root / "sst2").mkdir()
    for stem in ("train", "dev", "test"):
        rows = "".join(f"{'a fine' if i % 2 else 'a dull'} film {i}\t{i % 2}\n" for i in range(40))
        (root / "sst2" / f"{stem}.tsv").write_text("sentence\tlabel\n" + rows)
    return root


def tiny_transformer(tmp_path, fake_data, sizes: dict[str, int]) -> str:
    """A base for LoRA on the Transformer: the quick preset, tiny, on the same sentences."""
    smoke = [o for o in registry.get("transformer").smoke_overrides if not o.startswith("data.")]
    data = [f"data.{k}={v}" for k, v in sizes.items()]
    cfg = compose(
        ["experiment=transformer/quick", *smoke, *data, "logger=none", "test=false"],
        tmp_path / "base",
    )
    with open_dict(cfg):
        cfg.paths.cache_dir = str(fake_data / ".cache")
        cfg.trainer.enable_progress_bar = False
    return train(cfg)["best_checkpoint"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("name", "claim", "arm", "measure"), first_arm_per_measure())
def test_a_claims_measure_is_a_metric_its_module_logs(
    name, claim, arm, measure, fake_data, tmp_path
):
    overrides = [f"paper={name}", *claim.overrides, *arm.overrides, "seed=0"]
    cfg = compose([*overrides, "trainer.fast_dev_run=true", "logger=none"], tmp_path / "run")
    with open_dict(cfg):
        cfg.paths.data_dir = str(fake_data)
        cfg.paths.cache_dir = str(fake_data / ".cache")
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
        if "verify_checksums" in cfg.data:
            cfg.data.verify_checksums = False
        if name == "transformer":
            # BLEU needs every sentence of a split (one evaluation batch holds all of them), and
            # the averaged checkpoint two snapshots (two small batches, a snapshot after each)
            cfg.data.eval_batch_size = 10_000
            cfg.data.max_tokens = 64
            cfg.model.snapshot_every = 1
            cfg.trainer.fast_dev_run = 2
            if cfg.data.task == "numbers":  # a few sentences are enough
                cfg.data.train_size, cfg.data.val_size, cfg.data.test_size = 200, 8, 8
        if name == "lora" and cfg.model.get("latency_trials"):
            cfg.model.latency_trials = 3
        if name == "lora" and "reverse" in cfg.data:  # LoRA on the Transformer: a tiny base
            sizes = {"train_size": 200, "val_size": 8, "test_size": 8}
            cfg.data.update(sizes, eval_batch_size=10_000)
            cfg.model.base_checkpoint = tiny_transformer(tmp_path, fake_data, sizes)
    summary = train(cfg)
    assert measure in summary["metrics"], sorted(summary["metrics"])
