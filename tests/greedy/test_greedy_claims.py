"""Bengio et al. 2007's claims and what they need: the continuous-input data of Table 1
(papers/greedy/data.py), regression and depth in GreedyModule, the claims' configs, and the
AtLeast rule (common/claims.py)."""

import pytest
import torch

from common import registry
from common.claims import NOT_REPRODUCED, PARTLY, REPRODUCED, AtLeast
from common.config import build
from common.errors import MissingDataError
from papers.greedy.claims import (
    CLAIMS,
    FINETUNE_RATES,
    MAX_FINETUNE_EPOCHS,
    PATIENCE,
    PRETRAIN_EPOCHS,
)
from papers.greedy.data import TabularDataModule, min_max_scale, split_sizes
from papers.greedy.model import hidden_sizes
from papers.greedy.module import GreedyModule, inputs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("values", "verdict"),
    [([0.95, 0.96, 0.97], REPRODUCED), ([0.7, 0.95, 1.0], PARTLY), ([0.3, 0.4], NOT_REPRODUCED)],
)
def test_at_least_rule(values, verdict):
    rule = AtLeast("dbn", target=0.9, partly=0.5)
    result, why = rule.judge({"dbn": values})
    assert result == verdict and "against 0.9" in why


def test_at_least_rule_with_a_zero_bar_tells_a_positive_gain_from_noise():
    rule = AtLeast("gain", target=0.0, partly=0.0)
    assert rule.judge({"gain": [0.010, 0.011, 0.012]})[0] == REPRODUCED
    assert rule.judge({"gain": [-0.010, 0.005, 0.020]})[0] == PARTLY
    assert rule.judge({"gain": [-0.01, -0.02]})[0] == NOT_REPRODUCED


# ----- Table 1 data ----------------------------------------------------------------------------
def diabetes(tmp_path) -> TabularDataModule:
    data = TabularDataModule("diabetes", str(tmp_path), batch_size=10)
    data.setup()
    return data


def test_diabetes_is_split_60_20_20_inputs_scaled_by_the_training_range_target_standardised(
    tmp_path,
):
    data = diabetes(tmp_path)
    sizes = {name: len(split) for name, split in data.splits.items()}
    assert sizes == {"train": 266, "val": 88, "test": 88}  # 442 examples
    train_x, train_y = data.splits["train"].tensors
    assert train_x.shape[1] == 10
    assert torch.allclose(train_x.min(0).values, torch.zeros(10))
    assert torch.allclose(train_x.max(0).values, torch.ones(10))
    test_x = data.splits["test"].tensors[0]
    assert test_x.min() >= 0 and test_x.max() <= 1  # clipped with the training range
    assert abs(float(train_y.mean())) < 1e-5 and abs(float(train_y.std()) - 1) < 1e-5


def test_min_max_scale_uses_the_training_range_and_clips():
    train = torch.tensor([[0.0, 10.0], [2.0, 20.0]])
    scaled = min_max_scale(torch.tensor([[1.0, 25.0], [-1.0, 15.0]]), train)
    assert torch.equal(scaled, torch.tensor([[0.5, 1.0], [0.0, 0.5]]))


def test_abalone_uses_the_papers_split_and_says_where_the_file_goes(tmp_path):
    assert split_sizes(4177, "abalone", 0.2) == (2177, 1000, 1000)
    with pytest.raises(MissingDataError, match=r"abalone/abalone.data"):
        TabularDataModule("abalone", str(tmp_path), batch_size=10).setup()


def test_abalone_file_is_parsed_into_sex_one_hot_measurements_and_rings(tmp_path):
    (tmp_path / "abalone").mkdir()
    rows = [
        "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15",
        "I,0.33,0.255,0.08,0.205,0.0895,0.0395,0.055,7",
    ]
    (tmp_path / "abalone" / "abalone.data").write_text("\n".join(rows * 2) + "\n")
    from papers.greedy.data import load_abalone_arrays

    x, rings = load_abalone_arrays(tmp_path)
    assert x.shape == (4, 10)
    assert x[0, :3].tolist() == [1, 0, 0] and x[1, :3].tolist() == [0, 0, 1]
    assert x[0, 3] == pytest.approx(0.455) and rings.tolist() == [15, 7, 15, 7]


def test_unknown_tabular_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        TabularDataModule("cotton", str(tmp_path), batch_size=10)


# ----- regression and depth in the module -------------------------------------------------------
def test_depth_sets_the_number_of_hidden_layers():
    assert hidden_sizes(2, 50, depth=2) == (50, 50)
    assert hidden_sizes(3, 50, depth=2) == (50, 20)
    with pytest.raises(ValueError, match="depth"):
        hidden_sizes(2, 50, depth=0)


def test_float_inputs_pass_through_and_images_are_scaled():
    x = torch.rand(3, 10)
    assert torch.equal(inputs(x), x)
    images = torch.full((2, 1, 2, 2), 255, dtype=torch.uint8)
    assert torch.equal(inputs(images), torch.ones(2, 4))


def test_regression_reports_the_mean_squared_error():
    torch.manual_seed(0)
    m = GreedyModule(n_inputs=10, n_outputs=1, task="regression", width=8, depth=2)
    x, y = torch.rand(5, 10), torch.randn(5)
    errors, nll = m.evaluate((x, y))
    expected = (m.net(x).squeeze(-1) - y) ** 2
    assert torch.allclose(errors, expected.detach()) and torch.equal(errors, nll)
    with pytest.raises(ValueError, match="task must be one of"):
        GreedyModule(n_inputs=10, task="ranking")


def test_a_fine_tuning_step_lowers_the_squared_error():
    torch.manual_seed(0)
    m = GreedyModule(n_inputs=10, n_outputs=1, task="regression", width=8, depth=2)
    x, y = torch.rand(20, 10), torch.randn(20)
    before = m.net.loss(x, y)
    assert torch.allclose(before, ((m.net(x).squeeze(-1) - y) ** 2).mean())
    m.finetune_update(x, y)
    assert m.net.loss(x, y) < before


def test_gaussian_input_dbn_pretrains_its_unit_widths_then_fine_tunes_on_diabetes(tmp_path):
    from helpers import quiet_trainer

    torch.manual_seed(0)
    m = GreedyModule(
        n_inputs=10,
        n_outputs=1,
        task="regression",
        width=16,
        depth=2,
        input_type="gaussian",
        pretrain_epochs=1,
        pretrain_learning_rate=0.01,
        patience=None,
    )
    d_before = m.pretrainer.rbms[0].d.detach().clone()
    trainer = quiet_trainer(tmp_path, max_epochs=3, enable_checkpointing=False)
    data = diabetes(tmp_path)
    trainer.fit(m, datamodule=data)
    assert not torch.allclose(m.pretrainer.rbms[0].d, d_before)  # d is learned by CD
    [result] = trainer.test(m, datamodule=data, verbose=False)
    assert result["test/error"] == pytest.approx(result["test/nll"])


# ----- the claims -------------------------------------------------------------------------------
def test_claims_are_registered_with_distinct_ids_and_existing_arms():
    claims = registry.claims("greedy")
    assert [c.id for c in claims] == [c.id for c in CLAIMS] and len({c.id for c in claims}) == 7
    for claim in claims:
        names = {arm.name for arm in claim.arms}
        rule = claim.rule
        assert {getattr(rule, "better", None), getattr(rule, "worse", None)} <= names | {None}


def test_every_table_2_arm_fine_tunes_as_long_and_chooses_its_rate_on_validation():
    """Each row gets the same fine-tuning budget and patience, and tries the same fine-tuning
    rates (greedy supervised pre-training also its larger rates, Section 3.1)."""
    for claim in CLAIMS[:5]:
        assert f"model.patience={PATIENCE}" in claim.overrides and claim.select == "val/error"
        for arm in claim.arms:
            epochs = int(next(o for o in arm.overrides if "max_epochs" in o).split("=")[1])
            pretraining = 0 if arm.name in ("none", "shallow") else 3 * PRETRAIN_EPOCHS
            assert epochs - pretraining == MAX_FINETUNE_EPOCHS, (claim.id, arm.name)
            rates = {o for setting in arm.grid for o in setting if "finetune" in o}
            assert rates == {f"model.finetune_learning_rate={r}" for r in FINETUNE_RATES}
            supervised = {o for setting in arm.grid for o in setting if "pretrain_learning" in o}
            if arm.name == "supervised":
                assert supervised == {
                    "model.pretrain_learning_rate=0.5",
                    "model.pretrain_learning_rate=1.0",
                }
            else:
                assert not supervised


def test_each_table_1_arm_scales_its_inputs_as_its_visible_units_assume(make_config):
    [claim] = [c for c in CLAIMS if c.id == "gaussian-beats-binomial"]
    for arm, scaling in (("gaussian", "standard"), ("binomial", "min_max")):
        [chosen] = [a for a in claim.arms if a.name == arm]
        module = build(make_config("paper=greedy", *claim.overrides, *chosen.overrides).data)
        module.setup()
        x = module.splits["train"].tensors[0]
        if scaling == "standard":
            torch.testing.assert_close(x.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
            torch.testing.assert_close(x.std(0), torch.ones(10), atol=1e-5, rtol=0)
        else:
            assert x.min() == 0.0 and x.max() == 1.0


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_claim_configs_compose(claim, make_config):
    for arm in claim.arms:
        cfg = make_config("paper=greedy", *claim.overrides, *arm.overrides)
        assert cfg.model.init in ("dbn", "autoassociator", "supervised", "none", "shallow")


def test_a_regression_run_sets_no_table_2_digit_error_beside_its_squared_error(make_config):
    greedy = registry.get("greedy")
    regression = make_config("paper=greedy", *CLAIMS[-1].overrides)
    assert regression.model.task == "regression" and greedy.reported_for(regression) == []
    assert greedy.reported_for(make_config("paper=greedy"))  # Table 2's DBN row


def test_the_regression_baselines_fit_the_claims_own_splits(make_config):
    """Ridge and LightGBM on the diabetes splits the Table 1 arms see: their test error is the
    mean squared error of the standardised target, below that of predicting its mean."""
    from papers.greedy.baselines import gradient_boosted_regression, ridge_regression

    [claim] = [c for c in CLAIMS if c.id == "gaussian-beats-binomial"]
    cfg = make_config("paper=greedy", *claim.overrides, *claim.arms[0].overrides)
    ridge, trees = ridge_regression(cfg), gradient_boosted_regression(cfg)
    assert ridge["parameters"] == 10 + 1 and ridge["measure"] == trees["measure"] == "test/error"
    module = build(cfg.data)
    module.setup()
    x, y = module.splits["test"].tensors
    predicting_the_mean = float(((y - y.mean()) ** 2).mean())
    assert 0.0 < ridge["value"] < 0.8 * predicting_the_mean  # a linear model explains some
    assert 0.0 < trees["value"] < 1.0 and "rounds" in trees["setting"]
