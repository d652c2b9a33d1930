"""DDP on CPU (2 processes, gloo) follows the same trajectory as one process with the same
global batch, and writes one run folder with one W&B run."""

import json
import socket

import pytest
import torch
from helpers import cli


def loopback_reachable() -> bool:
    """gloo's processes meet on 127.0.0.1; a fresh network namespace (``unshare -n``) has its
    loopback down, and the runs would wait for each other until their timeout."""
    with socket.socket() as server, socket.socket() as client:
        try:
            server.bind(("127.0.0.1", 0))
            server.listen()
            client.settimeout(2)
            client.connect(server.getsockname())
        except OSError:
            return False
    return True


pytestmark = pytest.mark.skipif(
    not loopback_reachable(), reason="no loopback network (e.g. under unshare -n): gloo cannot meet"
)

# No randomness that differs between one and two processes: full-size crops and no dropout.
# The data order is shared (common/data.py: every process draws the same permutation and takes
# its share of each global batch), so it can stay shuffled.
SAME_DATA = [
    "model.crop=32",
    "model.net.dropout=0",
    "data.batch_size=32",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
    "test=false",
]

# Float sums are reduced in another order across processes (gradient all-reduce), and the CPU's
# convolution kernels may pick other algorithms for 16 images than for 32, so the two runs agree to
# rounding error grown over 8 steps, not bit for bit: up to 1.5e-4 measured on this machine. A
# sharding mistake is far larger: the same run with another data order differs by 0.06-0.2.
TOLERANCE = 1e-3


@pytest.mark.ddp
@pytest.mark.timeout(900)
def test_two_processes_follow_one_process(tmp_path):
    one = cli(*SAME_DATA, "trainer=cpu", f"hydra.run.dir={tmp_path / 'one'}", "logger=csv")
    assert one.returncode == 0, one.stderr[-3000:]
    two = cli(*SAME_DATA, "trainer=ddp_cpu", f"hydra.run.dir={tmp_path / 'two'}")
    assert two.returncode == 0, two.stderr[-3000:]

    a = torch.load(tmp_path / "one/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "two/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=TOLERANCE, msg=key)
    changed = (a["net.classifier.fc8.weight"] - b["net.classifier.fc8.weight"]).abs().max()
    assert changed < TOLERANCE
    m1 = json.loads((tmp_path / "one/summary.json").read_text())["metrics"]
    m2 = json.loads((tmp_path / "two/summary.json").read_text())["metrics"]
    assert abs(m1["val/loss"] - m2["val/loss"]) < 1e-4

    # one output folder, one W&B run, metadata that knows it was two processes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert len(list((tmp_path / "two/wandb").glob("offline-run-*"))) == 1
    assert json.loads((tmp_path / "two/run.json").read_text())["world_size"] == 2
    assert "resumes" not in json.loads((tmp_path / "two/run.json").read_text())


# The Transformer's batches are cut by tokens, globally (papers/transformer/batching.py): each
# process takes its share of every global batch and the loss is divided by the global batch's
# target tokens, so two processes must make the one-process updates. No dropout, so nothing
# random differs between the two.
TRANSFORMER = [
    "experiment=transformer/quick",
    "data.train_size=200",
    "data.val_size=8",
    "data.test_size=8",
    "data.max_tokens=600",
    "model.net.n_layers=1",
    "model.net.d_model=16",
    "model.net.d_ff=32",
    "model.net.heads=2",
    "model.net.dropout=0",
    "model.warmup=10",
    "trainer.max_epochs=4",
    "trainer.enable_progress_bar=false",
    "test=false",
]


@pytest.mark.ddp
@pytest.mark.timeout(900)
def test_the_transformers_two_processes_follow_one_process(tmp_path):
    one = cli(*TRANSFORMER, "trainer=cpu", f"hydra.run.dir={tmp_path / 'one'}", "logger=csv")
    assert one.returncode == 0, one.stderr[-3000:]
    two = cli(*TRANSFORMER, "trainer=ddp_cpu", f"hydra.run.dir={tmp_path / 'two'}", "logger=csv")
    assert two.returncode == 0, two.stderr[-3000:]
    a = torch.load(tmp_path / "one/checkpoints/last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "two/checkpoints/last.ckpt", weights_only=False)
    assert a["global_step"] == b["global_step"] > 10  # the same updates, past the warm-up
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=TOLERANCE, msg=key)
