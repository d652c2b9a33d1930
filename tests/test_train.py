"""The training pipeline end to end: run folder, logs, summary, determinism, resume, errors."""

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from helpers import cli
from omegaconf import OmegaConf
from wandb_records import run_contents

from common.callbacks import StopOnNonFiniteLoss
from common.errors import CheckpointError, MissingDataError, NonFiniteLossError
from common.train import budget, improving, train

# Two short epochs of the quick AlexNet on digits.
SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


def test_cli_run_writes_everything_and_prints_the_summary(tmp_path, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the run records the threads it computed on
    result = cli(
        *SHORT,
        f"hydra.run.dir={run}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "trainer.enable_progress_bar=false",
        "variant=cli-test",
        "trainer.log_every_n_steps=1",
        "seed=7",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "preset: quick (reduced scale" in out
    assert "paper vs ours: test/error paper 0.407 (Table 2" in out
    assert f"checkpoints: best {run}/checkpoints/best.ckpt" in out
    assert "upload: wandb sync" in out

    config = (run / ".hydra" / "config.yaml").read_text()
    assert "variant: cli-test" in config and "seed: 7" in config
    meta = json.loads((run / "run.json").read_text())
    assert meta["seed"] == 7 and meta["world_size"] == 1 and meta["paper"] == "alexnet"
    assert meta["threads"] == 1
    assert set(meta["git"]) == {"commit", "dirty"} and torch.__version__.startswith(
        meta["packages"]["torch"]
    )
    assert "variant=cli-test" in meta["command"]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["steps"] == 6 and summary["threads"] == 1

    rows = list(csv.DictReader((run / "csv" / "metrics.csv").open()))
    epochs = {row["epoch"] for row in rows if row.get("val/error")}
    assert epochs == {"0", "1"}  # one validation row per epoch
    curve = [float(row["val/error"]) for row in rows if row.get("val/error")]
    assert summary["budget"] == {
        "stopped_by": "budget",  # max_epochs reached
        "monitor": "val/error",
        "evaluations": 2,
        "still_improving": curve[1] < curve[0],
        "preset": "quick",
    }
    assert any(row.get("test/error") for row in rows)

    [wandb_file] = (run / "wandb").glob("offline-run-*/run-*.wandb")
    recorded = run_contents(wandb_file)
    assert recorded["config"]["citation_key"] == "krizhevsky2012imagenet"
    assert recorded["config"]["seed"] == 7
    assert recorded["config"]["run"]["wandb_id"] == meta["wandb_id"]
    assert recorded["config"]["_run"]["group"] == "alexnet-quick"
    assert recorded["config"]["_run"]["name"] == "alexnet-quick-cli-test-s7"
    assert "variant:cli-test" in recorded["config"]["_run"]["tags"]
    logged_steps = [row for row in recorded["history"] if "train/loss_step" in row]
    assert len(logged_steps) == 6
    assert any("val/error" in row for row in recorded["history"])


def test_unknown_paper_lists_the_papers_without_a_traceback(tmp_path):
    result = cli("paper=nope", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown paper 'nope'; available papers: "
        "alexnet, dbn, gan, greedy, lora, lstm, transformer"
    )
    assert not (tmp_path / "run").exists()


def test_missing_data_names_the_expected_files_and_exits_cleanly(tmp_path):
    result = cli(
        "data=cifar10",
        f"paths.data_dir={tmp_path / 'empty'}",
        f"hydra.run.dir={tmp_path}",
        "logger=none",
    )
    assert result.returncode == 2
    assert "error: CIFAR-10 not found" in result.stderr
    assert str(tmp_path / "empty" / "cifar10-jpeg" / "cifar10-jpeg.zip") in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_in_process(make_config, tmp_path):
    cfg = make_config("data=mnist", f"paths.data_dir={tmp_path}", "logger=none")
    with pytest.raises(MissingDataError, match="t10k-images-idx3-ubyte.gz"):
        train(cfg)


def test_same_seed_same_numbers(make_config):
    first = train(make_config(*SHORT, "logger=none", run="a"))
    second = train(make_config(*SHORT, "logger=none", run="b"))
    assert first["metrics"] == second["metrics"]
    a, b = (weights(Path(s["last_checkpoint"])) for s in (first, second))
    assert all(torch.equal(a[k], b[k]) for k in a)
    third = train(make_config(*SHORT, "logger=none", "seed=1", run="c"))
    assert third["metrics"] != first["metrics"]


def test_resume_is_exact(make_config, tmp_path):
    """Stopped after one epoch and resumed from its folder, a run ends bit-identical to an
    uninterrupted one: weights, optimiser, metrics (dropout, crops and shuffling included)."""
    whole = train(make_config(*SHORT, "logger=csv", run="whole"))
    half = make_config(*SHORT, "trainer.max_epochs=1", run="split")
    train(half)
    resumed = train(make_config(*SHORT, f"ckpt_path={tmp_path / 'split'}", run="split"))
    assert resumed["metrics"] == whole["metrics"]
    a = torch.load(whole["last_checkpoint"], weights_only=True)
    b = torch.load(resumed["last_checkpoint"], weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert a["optimizer_states"][0]["state"].keys() == b["optimizer_states"][0]["state"].keys()
    meta = json.loads((tmp_path / "split" / "run.json").read_text())
    assert len(meta["resumes"]) == 1
    assert (tmp_path / "split" / "csv" / "metrics.csv").is_file()  # the first part is kept
    assert resumed["csv_log"] == str(tmp_path / "split" / "csv" / "resume-1" / "metrics.csv")
    assert meta["resumes"][0]["wandb_id"] == meta["wandb_id"]  # the same W&B run continues


def test_resume_argv_reapplies_the_run_overrides(tmp_path):
    from common.config import resume_argv

    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- model.lr=0.5\n- hydra.run.dir=x\n")
    argv = resume_argv([f"ckpt_path={tmp_path}", "trainer.max_epochs=9"])
    assert argv[:2] == ["model.lr=0.5", "trainer.max_epochs=9"]
    assert f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}" in argv
    assert f"hydra.run.dir={tmp_path}" in argv
    assert resume_argv(["seed=1"]) == ["seed=1"]


def test_corrupted_checkpoint_is_refused(make_config, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        train(make_config(f"ckpt_path={bad}", "logger=none"))
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        train(make_config(f"ckpt_path={tmp_path / 'missing.ckpt'}", "logger=none"))


def test_checkpoint_of_another_network_is_refused(make_config, tmp_path):
    summary = train(make_config(*SHORT, "trainer.max_epochs=1", "logger=none", run="small"))
    other = make_config(
        f"ckpt_path={summary['last_checkpoint']}",
        "model.net.hidden=256",
        "logger=none",
        run="other",
    )
    with pytest.raises(CheckpointError, match="does not match this network"):
        train(other)
    with pytest.raises(CheckpointError, match="was written by"):
        train(
            make_config(
                f"ckpt_path={summary['last_checkpoint']}",
                "preset=paper",
                "logger=none",
                run="paper",
            )
        )


class BecomesNaN(L.LightningModule):
    """One weight; the loss turns NaN in the second epoch."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        loss = (self.w * batch[0]).pow(2).mean()
        return loss * float("nan") if self.current_epoch == 1 else loss

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 1)))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    trainer = L.Trainer(
        max_epochs=3,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[
            ModelCheckpoint(dirpath=tmp_path, save_last=True),
            StopOnNonFiniteLoss(tmp_path / "last.ckpt"),
        ],
    )
    model = BecomesNaN()
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 1, step 5.*last good "):
        trainer.fit(model)
    kept = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert kept["epoch"] == 0 and torch.isfinite(kept["state_dict"]["w"]).all()


def test_non_finite_check_accepts_steps_that_return_nothing(tmp_path):
    """Manual optimisation may return no loss: Lightning passes {}, which is not an error."""
    callback = StopOnNonFiniteLoss(tmp_path / "last.ckpt")
    callback.on_train_batch_end(None, None, {}, None, 0)
    callback.on_train_batch_end(None, None, None, None, 0)
    trainer = SimpleNamespace(current_epoch=2, global_step=7)
    with pytest.raises(NonFiniteLossError, match="loss is inf at epoch 2, step 7"):
        callback.on_train_batch_end(trainer, None, {"loss": torch.tensor(float("inf"))}, None, 0)


def test_trainer_groups_compose_for_cpu_and_gpus(make_config):
    from common.distributed import precision_for

    ddp = make_config("trainer=ddp").trainer
    assert (ddp.accelerator, ddp.strategy, ddp.devices, ddp.precision) == (
        "gpu",
        "ddp",
        "auto",
        "auto",
    )
    ddp_cpu = make_config("trainer=ddp_cpu").trainer
    assert (ddp_cpu.accelerator, ddp_cpu.strategy, ddp_cpu.devices) == ("cpu", "ddp", 2)
    assert make_config().trainer.use_distributed_sampler is False
    assert precision_for("cpu") == "32-true"
    if not torch.cuda.is_available():
        assert precision_for("gpu") == "32-true"


@pytest.mark.parametrize(
    ("curve", "mode", "expected"),
    [
        ([0.9, 0.5, 0.4, 0.3], "min", True),  # best at the end
        ([0.9, 0.3, 0.4, 0.5], "min", False),  # best early: converged (or overfitting)
        ([0.3, 0.3, 0.3, 0.3, 0.3], "min", False),  # flat: its first best is the first value
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9, 0.8], "max", True),  # within the last quarter
        ([0.1, 0.2, 0.3, 0.9, 0.5, 0.6, 0.7, 0.8], "max", False),
        ([0.5], "min", None),  # one evaluation cannot show it
        ([], "min", None),
    ],
)
def test_still_improving_means_the_best_came_in_the_last_quarter(curve, mode, expected):
    assert improving(curve, mode) is expected


def test_a_run_stopped_by_its_own_rule_is_not_at_its_budget(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,val/acc\n0,0.5\n1,0.8\n2,0.7\n")
    cfg = OmegaConf.create(
        {"callbacks": {"monitor": "val/acc", "mode": "max"}, "preset": {"name": "quick"}}
    )
    early = SimpleNamespace(max_epochs=10, max_steps=-1, current_epoch=3, global_step=30)
    assert budget(cfg, early, str(log)) == {
        "stopped_by": "stopping rule",
        "monitor": "val/acc",
        "evaluations": 3,
        "still_improving": False,
        "preset": "quick",
    }
    at_steps = SimpleNamespace(max_epochs=None, max_steps=30, current_epoch=3, global_step=30)
    assert budget(cfg, at_steps, None)["stopped_by"] == "budget"
    assert budget(cfg, at_steps, None)["still_improving"] is None  # no CSV log
