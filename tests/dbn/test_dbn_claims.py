"""What the DBN claims measure (papers/dbn/claims.py): the error after the greedy stage kept
beside the error after up-down, the judge of the label-clamped samples (papers/dbn/judge.py),
and preset=paper's protocol (Section 6) on tiny fake MNIST files."""

import copy
from types import SimpleNamespace

import pytest
import torch
from helpers import digit_batch as batch
from helpers import quiet_trainer as trainer
from test_data import write_fake_mnist
from test_dbn_module import digits

from common import registry
from common.claims import NOT_RUN
from common.train import train
from papers.dbn.claims import CLAIMS, MID_SCALE_MNIST, REDUCED_MNIST
from papers.dbn.judge import agreement, fit_judge, judge_labels
from papers.dbn.module import DBNModule, pixels

pytestmark = pytest.mark.usefixtures("one_thread")


def module(**overrides) -> DBNModule:
    torch.manual_seed(0)
    settings = dict(
        sizes=[64, 16, 12, 20], greedy_epochs=2, up_down_epochs=3, generation_gibbs_steps=5
    )
    return DBNModule(**{**settings, **overrides})


# ----- greedy-stage error beside the up-down error -------------------------------------------
def test_untying_keeps_the_greedy_top_rbm_which_up_down_leaves_alone_like_the_rbms_below():
    m = module()
    greedy_state = copy.deepcopy(m.net.state_dict())
    m.trainer = SimpleNamespace(current_epoch=6)  # the first up-down epoch
    m.on_train_epoch_start()
    assert bool(m.net.untied)
    images, labels = batch()
    m.up_down_update(pixels(images), labels, epoch=6)
    for key, value in m.greedy_top.state_dict().items():
        assert torch.equal(value, greedy_state[f"rbms.2.{key}"]), key
    assert not torch.equal(m.net.top.W, m.greedy_top.W)  # up-down moved the top RBM
    for key in ("rbms.0.W", "rbms.1.W", "rbms.0.hidden_bias"):
        assert torch.equal(m.net.state_dict()[key], greedy_state[key]), key


def test_greedy_error_is_the_greedy_nets_free_energy_classification():
    m = module()
    images, labels = batch()
    x = pixels(images)
    assert torch.equal(m.greedy_error(x, labels).mean(), m.error(x, labels))  # still tied
    twin = copy.deepcopy(m.net)
    m.greedy_top.load_state_dict(m.net.top.state_dict())
    m.net.untie()
    with torch.no_grad():  # up-down would change these; greedy_error must not see them
        m.net.top.W.add_(1.0)
        m.net.recognition[0].weight.mul_(-1)
    pen = twin.greedy_input(2, x)
    expected = twin.top.label_free_energies(pen).argmin(-1) != labels
    assert torch.equal(m.greedy_error(x, labels), expected.float())


def test_a_test_run_reports_greedy_error_gain_and_judged_samples(tmp_path):
    m = module(sizes=[64, 32, 32, 64], judge_examples=500, samples_per_label=3)
    data = digits(tmp_path)
    t = trainer(tmp_path, max_epochs=9, enable_checkpointing=False)
    t.fit(m, datamodule=data)
    [result] = t.test(m, datamodule=data, verbose=False)
    gain = result["test/greedy_error"] - result["test/error"]
    assert result["test/up_down_gain"] == pytest.approx(gain, abs=1e-6)
    assert 0 <= result["test/sample_agreement"] <= 1
    accuracy = 1 - result["test/judge_error"]
    assert accuracy > 0.9  # the judge on real 8x8 digits
    ratio = result["test/sample_agreement"] / accuracy
    assert result["test/sample_agreement_vs_real"] == pytest.approx(ratio, rel=1e-5)


# ----- the judge -------------------------------------------------------------------------------
def prototypes(n_per_class: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 6-pixel 'images', each a noisy copy of its own two lit pixels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(n_per_class)
    clean = torch.zeros(len(labels), 6)
    clean[torch.arange(len(labels)), 2 * labels] = 1
    clean[torch.arange(len(labels)), 2 * labels + 1] = 1
    return (clean + 0.1 * torch.rand(clean.shape, generator=g)).clamp(0, 1), labels


def test_judge_agrees_with_the_clamped_label_when_samples_look_like_that_class():
    images, labels = prototypes()
    judge = fit_judge(images, labels, max_examples=45)
    assert judge.n_features_in_ == 6 and list(judge.classes_) == [0, 1, 2]
    assert [w.shape for w in judge.coefs_] == [(6, 256), (256, 3)]  # one hidden layer of 256
    samples, clamped = prototypes(5, seed=1)
    assert torch.equal(judge_labels(judge, samples), clamped)
    assert agreement(judge, samples, clamped) == 1.0
    assert agreement(judge, samples, (clamped + 1) % 3) == 0.0
    message = "needs at least 30 examples: .* each of the 3 classes; it has 29 .max_examples=29"
    with pytest.raises(ValueError, match=message):
        fit_judge(images, labels, max_examples=29)


def test_the_judge_tells_apart_classes_that_no_linear_classifier_can():
    """Class 1 when exactly one of two pixels is lit (XOR): a logistic regression, linear in the
    pixels, gets at most 3 in 4 of these right; the judge gets them all."""
    g = torch.Generator().manual_seed(0)
    lit = torch.randint(0, 2, (1200, 2), generator=g)
    labels = lit[:, 0] ^ lit[:, 1]
    images = (lit + 0.1 * torch.rand(lit.shape, generator=g)).clamp(0, 1)
    judge = fit_judge(images[:1000], labels[:1000], max_examples=1000)
    assert agreement(judge, images[1000:], labels[1000:]) == 1.0


# ----- the claims and preset=paper ------------------------------------------------------------
def test_claims_share_one_reduced_set_up_and_the_paper_scale_one_is_not_run_here(make_config):
    claims = {c.id: c for c in registry.claims("dbn")}
    assert "experiment=dbn/paper" in claims["mnist-1.25"].not_run_here
    measured = [c for c in CLAIMS if not c.not_run_here]
    assert {c.overrides for c in measured} == {REDUCED_MNIST, MID_SCALE_MNIST}
    reduced, mid = (make_config("paper=dbn", *o) for o in (REDUCED_MNIST, MID_SCALE_MNIST))
    assert reduced.model == mid.model and list(mid.model.sizes) == [784, 200, 200, 500]
    assert (reduced.data.per_class, mid.data.per_class) == (300, 4400)  # 3,000 and 44,000
    assert mid.data.val_size == 10_000 and mid.data.all_training_from_epoch is None
    assert {c.measure for c in measured} == {
        "test/error",
        "test/up_down_gain",
        "test/sample_agreement_vs_real",
    }
    assert NOT_RUN == "not run here"


def test_the_same_size_backprop_net_has_the_dbns_hidden_layers_and_learns(make_config):
    """The sceptic's discriminative net of reduced-mnist-error: the DBN's hidden sizes, 10
    outputs, weight decay chosen on validation; on the 8x8 digits it is far better than chance."""
    from papers.dbn.baselines import same_size_backprop_net

    assert "papers.dbn.baselines:same_size_backprop_net" in CLAIMS[1].baselines
    cfg = make_config("paper=dbn", "model.sizes=[64,16,12,20]")
    result = same_size_backprop_net(cfg)
    weights = 64 * 16 + 16 + 16 * 12 + 12 + 12 * 20 + 20 + 20 * 10 + 10
    assert result["parameters"] == weights and result["name"].startswith(
        "backprop net 64-16-12-20-10"
    )
    assert result["measure"] == "test/error" and 0 < result["value"] < 0.5  # chance: 0.9
    assert result["setting"].startswith("alpha=") and "on validation" in result["setting"]


def test_paper_preset_is_section_6s_protocol(make_config):
    cfg = make_config("paper=dbn", "preset=paper")
    assert list(cfg.model.sizes) == [784, 500, 500, 2000] and cfg.model.n_labels == 10
    assert (cfg.model.greedy_epochs, cfg.model.up_down_epochs) == (30, 300)
    assert cfg.data.dataset == "mnist" and cfg.data.val_size == 10_000
    assert (cfg.data.per_class, cfg.data.batch_size, cfg.data.balanced) == (4400, 100, True)
    assert cfg.data.all_training_from_epoch == 3 * 30 + 300
    assert cfg.trainer.max_epochs == 3 * 30 + 300 + 59
    assert cfg.trainer.reload_dataloaders_every_n_epochs == 1


def test_paper_preset_trains_on_fake_mnist_in_balanced_batches_then_on_all_images(
    tmp_path, make_config
):
    """60 fake images: 10 for validation, 2 of each digit kept for the balanced stage
    (2 batches of 10 per epoch: 3 greedy and 3 up-down epochs), then from epoch 6 all 60 in
    shuffled batches (6 per epoch) with CD-10."""
    write_fake_mnist(tmp_path / "data" / "mnist", n_train=60, n_test=10)
    cfg = make_config(
        "paper=dbn",
        "preset=paper",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.verify_checksums=false",
        "data.val_size=10",
        "data.per_class=2",
        "data.batch_size=10",
        "data.all_training_from_epoch=6",
        "model.sizes=[784,8,8,16]",
        "model.greedy_epochs=1",
        "model.up_down_epochs=3",
        "model.generation_gibbs_steps=2",
        "model.samples_per_label=1",
        "model.judge_examples=0",  # the judge needs 100 images (test_judge_*)
        "trainer.max_epochs=7",
        "logger=none",
    )
    summary = train(cfg)
    assert summary["steps"] == 6 * 2 + 6
    assert summary["metrics"]["train/cd_steps"] == 10
    assert 0 <= summary["metrics"]["test/error"] <= 1


def test_cd1_benchmark_times_both_rbms_and_their_ratio():
    from papers.dbn.bench import rbm_cd1_timings

    t = rbm_cd1_timings(n_visible=20, n_hidden=10, batch_size=8, repeats=2)
    assert t["ours_s"] > 0 and t["sklearn_s"] > 0
    assert 0 < t["ratio_low"] <= t["ratio_ours_to_sklearn"] <= t["ratio_high"]
    assert t["ours_updates_per_s"] == pytest.approx(1 / t["ours_s"])
