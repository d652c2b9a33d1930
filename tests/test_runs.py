"""Runs a scheduler can trust: unique run folders, one owner per folder, exit statuses that say
what happened, one-line errors that leave nothing behind, honest summaries, a quiet console."""

import gzip
import json
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import cli, cli_command, cli_env
from omegaconf import OmegaConf
from test_data import write_fake_mnist

from common import data
from common.callbacks import PaperProgressBar
from common.config import ROOT, check_run_folder, resume_argv
from common.errors import (
    CheckpointError,
    ConfigError,
    DataIntegrityError,
    MissingDataError,
    RunFolderError,
)
from common.registry import get
from common.run_folder import RunFolder
from common.train import format_summary, metric_lines, train

# A short quick-AlexNet run on digits.
SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
]
# One that is still training a minute later, for the signals.
LONG = [
    "trainer.max_epochs=500",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.enable_progress_bar=false",
    "logger=csv",
]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=cli_env(),
    )


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


# -- 1. no collisions ----------------------------------------------------------------------------


def test_runs_started_together_get_their_own_folders(tmp_path):
    """The loop of the issue: two runs launched in the same second, default variant and seed."""
    runs = [start(*SHORT, f"model.lr={lr}", f"paths.log_dir={tmp_path}") for lr in (0.01, 0.02)]
    results = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in results]
    folders = sorted((tmp_path / "alexnet" / "quick").iterdir())
    assert len(folders) == 2
    lrs = sorted(OmegaConf.load(f / ".hydra" / "config.yaml").model.lr for f in folders)
    assert lrs == [0.01, 0.02]
    for folder in folders:
        meta = json.loads((folder / "run.json").read_text())
        assert "resumes" not in meta
        assert (folder / "checkpoints" / "last.ckpt").is_file()


def test_a_folder_in_use_is_refused_before_anything_is_written(tmp_path):
    run = tmp_path / "pinned"
    first = start(*LONG, f"hydra.run.dir={run}")
    try:
        wait_for(run / "run.json", first)
        config = (run / ".hydra" / "config.yaml").read_bytes()
        second = cli(*SHORT, "model.lr=0.5", f"hydra.run.dir={run}")
        assert second.returncode == 2
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith(f"error: {run} is in use by a run that is still going (pid ")
        assert f"pid {first.pid} on " in line and line.endswith("another hydra.run.dir")
        assert (run / ".hydra" / "config.yaml").read_bytes() == config  # untouched
        # a resume of the run while it is still going is refused the same way
        resume = cli(f"ckpt_path={run}")
        assert resume.returncode == 2 and "is in use by a run that is still going" in resume.stderr
        assert not list((run / ".hydra").glob("resume_*"))
    finally:
        first.kill()
        first.communicate()
    # killed (SIGKILL), the run's lock is gone with it: it can be resumed at once
    assert RunFolder(run).holder() is None


def test_a_folder_that_holds_a_run_is_not_reused(tmp_path):
    run = tmp_path / "done"
    assert cli(*SHORT, "logger=csv", f"hydra.run.dir={run}").returncode == 0
    summary = (run / "summary.json").read_bytes()
    again = cli(*SHORT, "logger=csv", "seed=3", f"hydra.run.dir={run}")
    assert again.returncode == 2
    assert f"error: {run} already holds a run; resume it with ckpt_path={run}" in again.stderr
    assert (run / "summary.json").read_bytes() == summary
    assert "seed: 12345" in (run / ".hydra" / "config.yaml").read_text()


def test_the_lock_is_per_process(tmp_path):
    folder = RunFolder(tmp_path / "run")
    handle = folder.acquire()
    assert "pid" in folder.holder()
    with pytest.raises(RunFolderError, match="is in use by a run that is still going"):
        folder.check_free(resuming=True)
    handle.close()
    assert folder.holder() is None
    folder.check_free(resuming=False)  # no run.json: free


def test_a_checkpoint_from_another_folder_starts_a_new_run(make_config, tmp_path):
    """Only a checkpoint of the run's own folder resumes it (in-process runs have no .hydra)."""
    assert RunFolder(tmp_path / "a").owns(tmp_path / "a" / "checkpoints" / "last.ckpt")
    assert not RunFolder(tmp_path / "b").owns(tmp_path / "a" / "checkpoints" / "last.ckpt")
    first = train(make_config(*SHORT, "trainer.max_epochs=1", "logger=none", run="a"))
    second = train(
        make_config(*SHORT, f"ckpt_path={first['last_checkpoint']}", "logger=csv", run="b")
    )
    assert second["csv_log"] == str(tmp_path / "b" / "csv" / "metrics.csv")  # not resume-1
    assert "resumes" not in json.loads((tmp_path / "b" / "run.json").read_text())


def test_check_run_folder_leaves_other_ranks_alone(tmp_path, monkeypatch):
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(RunFolderError, match="already holds a run"):
        check_run_folder([f"hydra.run.dir={tmp_path}"])
    monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP child writes into its owner's folder
    check_run_folder([f"hydra.run.dir={tmp_path}"])


# -- 2. exit statuses on signals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sig", "status", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")]
)
def test_a_stopped_run_exits_with_the_signal_status_and_says_how_to_resume(
    tmp_path, sig, status, name
):
    run = tmp_path / "run"
    process = start(*LONG, f"hydra.run.dir={run}")
    wait_for(run / "checkpoints" / "last.ckpt", process)
    process.send_signal(sig)
    out, err = process.communicate(timeout=300)
    assert process.returncode == status
    lines = [line for line in (out + err).splitlines() if "interrupt" in line.lower()]
    assert lines == [line for line in err.splitlines() if line.startswith("interrupted: ")]
    assert len(lines) == 1, out + err
    assert f"interrupted: stopped by {name} at epoch" in lines[0]
    assert lines[0].endswith(f"resume with: python scripts/train.py ckpt_path={run}")
    assert not (run / "summary.json").exists()
    if sig == signal.SIGTERM:  # and the printed command resumes it
        end = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] + 3
        resumed = cli(f"ckpt_path={run}", f"trainer.max_epochs={end}")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert json.loads((run / "summary.json").read_text())["epochs"] == end


# -- 3. one-line errors, nothing left behind -----------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.batch_size=abc", "error: data.batch_size='abc': expected int"),
        ("data.batch_size=0", "error: data.batch_size=0: expected a positive integer"),
        ("data.batch_size=-4", "error: data.batch_size=-4: expected a positive integer"),
        ("model.lr=fast", "error: model.lr='fast': expected float"),
        (
            "trainer=ddp_cpu data.batch_size=33",
            "error: data.batch_size=33 (the global batch) does not split evenly over the 2 "
            "processes the trainer asks for; use a multiple of 2",
        ),
    ],
)
def test_a_bad_value_is_one_line_and_leaves_no_run_folder(tmp_path, override, message):
    result = cli(*override.split(), f"paths.log_dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert not list(tmp_path.glob("alexnet/quick/*"))


def test_validation_checks_every_argument_against_its_declared_type(make_config):
    with pytest.raises(ConfigError, match=r"model\.weight_decay='x': expected float"):
        train(make_config("model.weight_decay=x"))
    with pytest.raises(ConfigError, match=r"data\.shuffle=3: expected bool"):
        train(make_config("data.shuffle=3"))
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs=-2"):
        train(make_config("trainer.max_epochs=-2"))
    with pytest.raises(ConfigError, match=r"data\.colour: ImageDataModule takes no such argument"):
        train(make_config("+data.colour=1"))


def mnist_run(make_config, data_dir: Path, *more: str):
    return make_config(
        "data=mnist", f"paths.data_dir={data_dir}", "data.val_size=5", "logger=none", *more
    )


def test_a_truncated_gzip_names_the_file(make_config, tmp_path):
    write_fake_mnist(tmp_path / "mnist")
    damaged = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    cfg = mnist_run(make_config, tmp_path, "data.verify_checksums=false")
    with pytest.raises(DataIntegrityError, match=rf"{damaged} is not a readable gzip file"):
        train(cfg)
    assert not Path(cfg.paths.output_dir).exists()  # the new run folder is gone again


def test_a_truncated_idx_file_names_the_file(tmp_path):
    write_fake_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
    with pytest.raises(DataIntegrityError, match=rf"{path}: IDX header says \(10,\) but holds 7"):
        data.load_mnist(tmp_path, tmp_path / "cache", verify_checksums=False)


def test_a_truncated_cache_is_rebuilt(tmp_path):
    write_fake_mnist(tmp_path / "mnist")
    first = data.load_mnist(tmp_path, tmp_path / "cache", verify_checksums=False)
    (cache,) = (tmp_path / "cache").glob("mnist-*.pt")
    cache.write_bytes(cache.read_bytes()[:200])
    again = data.load_mnist(tmp_path, tmp_path / "cache", verify_checksums=False)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert torch.load(cache, weights_only=True).keys() == first.keys()  # rewritten whole


def test_a_download_without_a_network_is_one_clear_error(tmp_path, monkeypatch):
    from urllib.error import URLError

    import torchvision.datasets

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(MissingDataError, match=r"could not download MNIST \(URLError: .*network"):
        data.load_mnist(tmp_path, tmp_path / "cache", download=True)


# -- 4. W&B sync names every part of a resumed run -------------------------------------------------


def test_after_a_resume_the_upload_command_names_every_part(make_config, tmp_path):
    train(make_config(*SHORT, "trainer.max_epochs=1", run="run"))
    summary = train(make_config(*SHORT, f"ckpt_path={tmp_path / 'run'}", run="run"))
    parts = sorted(str(p) for p in (tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(parts) == 2 and summary["wandb_runs"] == parts
    assert f"upload: wandb sync {parts[0]} {parts[1]}" in format_summary(summary)


# -- 5. resuming a finished run; a refused resume ------------------------------------------------


def test_a_finished_run_is_resumed_only_to_train_further(tmp_path):
    run = tmp_path / "run"
    assert cli(*SHORT, "logger=csv", f"hydra.run.dir={run}").returncode == 0
    summary = (run / "summary.json").read_bytes()
    again = cli(f"ckpt_path={run}")
    assert again.returncode == 2
    assert f"error: {run} has finished (2 epochs, 6 steps" in again.stderr
    assert "resume with a larger trainer.max_epochs (it ran with 2)" in again.stderr
    assert (run / "summary.json").read_bytes() == summary
    assert not list((run / ".hydra").glob("resume_*"))
    with pytest.raises(RunFolderError):  # the same limits given again are no extension
        resume_argv([f"ckpt_path={run}", "trainer.max_epochs=2"])
    assert resume_argv([f"ckpt_path={run}", "trainer.max_epochs=3"])[-3].startswith("ckpt_path=")


def test_a_refused_resume_leaves_the_other_run_as_it_was(tmp_path):
    run = tmp_path / "run"
    assert cli(*SHORT, "trainer.max_epochs=1", "logger=csv", f"hydra.run.dir={run}").returncode == 0
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    meta = (run / "run.json").read_text()
    refused = cli(f"ckpt_path={run}", "paper=dbn", "trainer.max_epochs=2")
    assert refused.returncode == 2
    assert "was written by {'paper': 'alexnet'" in refused.stderr or "does not match" in (
        refused.stderr
    )
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert (run / "run.json").read_text() == meta


def test_a_refused_resume_in_process_raises_and_undoes(make_config, tmp_path):
    train(make_config(*SHORT, "trainer.max_epochs=1", "logger=csv", run="run"))
    before = sorted((tmp_path / "run").rglob("*"))
    with pytest.raises(CheckpointError):
        train(make_config(f"ckpt_path={tmp_path / 'run'}", "model.net.hidden=64", run="run"))
    assert sorted((tmp_path / "run").rglob("*")) == before


# -- 6. progress and console ---------------------------------------------------------------------


def test_the_progress_bar_shows_the_papers_metrics():
    bar = PaperProgressBar(["train/loss", "train/error", "val/error", "val/error"])
    logged = {
        "train/loss": torch.tensor(2.5),
        "train/loss_step": torch.tensor(2.25),
        "val/error": torch.tensor(0.5),
        "train/top5": torch.tensor(0.1),
    }
    shown = bar.get_metrics(SimpleNamespace(callback_metrics=logged), None)
    assert shown == {"train/loss": 2.25, "val/error": 0.5}  # the latest step's loss; no v_num


def test_each_message_once_and_no_noise(tmp_path):
    result = cli(*SHORT, f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert out.count("GPU available: False") == 1
    assert out.count("`Trainer.fit` stopped") == 1
    for noise in ("litlogger", "anonymous setting", "LeafSpec"):
        assert noise not in out
    log = (tmp_path / "run" / "train.log").read_text()  # the file log keeps them, with times
    assert "GPU available: False" in log


# -- 7. summaries that do not mislead ------------------------------------------------------------


def test_other_methods_numbers_are_not_labelled_the_papers(make_config):
    cfg = make_config("paper=gan")
    reported = get("gan").reported_for(cfg)
    own = [r for r in reported if not r.baseline and r.metric == "test/parzen_ll"]
    assert [(r.value, r.setting) for r in own] == [(225.0, "Adversarial nets, MNIST")]
    assert {r.baseline for r in reported if r.baseline} == {"DBN", "Stacked CAE", "Deep GSN"}
    summary = {
        "paper": "GAN",
        "preset": "quick",
        "preset_description": "reduced",
        "variant": "default",
        "seed": 0,
        "epochs": 1,
        "steps": 1,
        "metrics": {"test/parzen_ll": 1.0},
        "paper_vs_ours": [
            {"metric": "test/parzen_ll", "paper": 225.0, "ours": 1.0, "source": "Table 1"}
            | {"setting": "Adversarial nets, MNIST"}
        ],
        "baselines_in_paper": [
            {"metric": "test/parzen_ll", "method": m, "value": v, "source": "Table 1"}
            for m, v in (("DBN", 138.0), ("Deep GSN", 214.0))
        ],
        "output_dir": "o",
        "best_checkpoint": None,
        "last_checkpoint": "l",
        "csv_log": None,
        "wandb_runs": [],
        "wandb_mode": None,
        "data": {"data_dir": "/data", "files": {}, "paper_data": True, "note": ""},
    }
    text = format_summary(summary)
    assert text.count("paper vs ours:") == 1
    assert "other methods in the paper (Table 1), test/parzen_ll: DBN 138, Deep GSN 214" in text


def test_a_cifar10_run_is_named_for_its_set_up_and_not_set_beside_imagenet(make_config):
    cfg = make_config("paper=alexnet", "data=alexnet/cifar10", "recipe=alexnet/cifar10")
    assert cfg.preset.name == "cifar10" and "CIFAR-10" in cfg.preset.description
    assert get("alexnet").reported_for(cfg) == ()
    four = make_config("paper=alexnet", "data=alexnet/cifar10", "recipe=alexnet/four_layer")
    assert get("alexnet").reported_for(four) == ()  # Figure 1 has no error rate
    conv_local = make_config("paper=alexnet", "data=alexnet/cifar10", "recipe=alexnet/conv_local")
    assert conv_local.preset.name == "conv_local"
    assert [r.source for r in get("alexnet").reported_for(conv_local)] == ["Section 3.3"]
    quick = make_config("paper=alexnet")
    assert quick.preset.name == "quick"


def test_metric_lines_group_by_split_and_stay_short():
    metrics = {f"train/m{i}": 0.123456 for i in range(40)} | {"train/m0_step": 1.0, "val/e": 0.5}
    lines = metric_lines(metrics)
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith("train: m0=0.1235, m1=0.1235") and lines[-1] == "val: e=0.5"
    assert "m0_step" not in " ".join(lines)
