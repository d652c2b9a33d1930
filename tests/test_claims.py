"""Claims: each rule gives each verdict on matching numbers, and the whole chain (runs, verdict,
report with plot) works on tiny data with a tiny budget."""

import importlib
import inspect
import json
import math

import pytest
import sklearn
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from wandb_records import run_contents

from common import registry
from common import reproduction as reproduce
from common.baselines import IMAGE_BASELINES, image_splits
from common.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    Arm,
    Claim,
    Close,
    Higher,
    Lower,
    Matches,
    NotWorse,
    RatioAtLeast,
    judge,
    mean_and_error,
)
from common.config import build, compose
from common.registry import Reported
from common.validate import validate

SKLEARN = sklearn.__version__


@pytest.mark.parametrize(
    ("better", "worse", "verdict"),
    [
        ([0.10, 0.11, 0.12], [0.20, 0.21, 0.22], REPRODUCED),
        ([0.10, 0.20, 0.30], [0.15, 0.25, 0.35], PARTLY),  # right way, inside the noise
        ([0.20, 0.21, 0.22], [0.10, 0.11, 0.12], NOT_REPRODUCED),
    ],
)
def test_lower_rule(better, worse, verdict):
    assert Lower("a", "b").judge({"a": better, "b": worse})[0] == verdict


@pytest.mark.parametrize(
    ("ours", "verdict"), [(0.41, REPRODUCED), (0.43, PARTLY), (0.5, NOT_REPRODUCED)]
)
def test_matches_rule(ours, verdict):
    rule = Matches("alexnet", 0.407, tolerance=0.01, partly_tolerance=0.03)
    assert rule.judge({"alexnet": [ours]})[0] == verdict


@pytest.mark.parametrize(
    ("second", "verdict"),
    [
        ([25.7, 25.8, 25.9], REPRODUCED),  # gap 0.1, well inside ±1
        ([24.0, 25.8, 27.2], PARTLY),  # gap 0.1, but the seeds spread too far to show it small
        ([23.4, 23.5, 23.6], NOT_REPRODUCED),
        ([27.9, 28.0, 28.1], NOT_REPRODUCED),  # either sign
    ],
)
def test_close_rule(second, verdict):
    values = {"a": [25.6, 25.7, 25.8], "b": second}
    assert Close("a", "b", tolerance=1.0).judge(values)[0] == verdict


@pytest.mark.parametrize(
    ("arm", "verdict"),
    [
        ([0.905, 0.906, 0.907], REPRODUCED),  # 0.4 points below, shown within 1
        ([0.950, 0.951, 0.952], REPRODUCED),  # better by any amount
        ([0.866, 0.906, 0.946], PARTLY),  # 0.4 below, but the seeds spread too far
        ([0.890, 0.891, 0.892], NOT_REPRODUCED),  # 1.9 points below
    ],
)
def test_not_worse_rule(arm, verdict):
    values = {"lora": arm, "full": [0.909, 0.910, 0.911]}
    assert NotWorse("lora", "full", margin=0.01).judge(values)[0] == verdict


def test_paired_measures_are_judged_by_their_per_seed_differences():
    # beam and greedy BLEU of the same three runs: the seeds differ a lot, the gap hardly
    values = {"beam": [87.0, 84.0, 40.0], "greedy": [85.0, 82.0, 38.5]}
    assert Higher("beam", "greedy").judge(values)[0] == PARTLY
    verdict, why = Higher("beam", "greedy", paired=True).judge(values)
    assert verdict == REPRODUCED and "per-seed differences" in why


@pytest.mark.parametrize(
    ("better", "verdict"),
    [
        ([10.0, 12.0, 11.0], REPRODUCED),  # every run met the target, no run of the other
        ([10.0, 12.0, math.inf], PARTLY),  # more often
        ([math.inf, math.inf, math.inf], NOT_REPRODUCED),
    ],
)
def test_lower_rule_counts_the_runs_that_met_an_event(better, verdict):
    values = {"a": better, "b": [math.inf, math.inf, math.inf]}
    result, why = Lower("a", "b").judge(values)
    assert result == verdict and "of 3 runs" in why


def test_lower_rule_respects_a_minimum_gap():
    values = {"a": [0.100, 0.100, 0.101], "b": [0.105, 0.105, 0.106]}
    assert Lower("a", "b").judge(values)[0] == REPRODUCED
    assert Lower("a", "b", min_gap=0.02).judge(values)[0] == PARTLY


@pytest.mark.parametrize(
    ("tanh", "verdict"), [([60.0], REPRODUCED), ([30.0], PARTLY), ([12.0], NOT_REPRODUCED)]
)
def test_ratio_rule(tanh, verdict):
    rule = RatioAtLeast("tanh", "relu", target=6, partly=2)
    assert rule.judge({"tanh": tanh, "relu": [10.0]})[0] == verdict


TINY = (
    "trainer.max_epochs=4",
    "trainer.limit_train_batches=25",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "logger=csv",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.num_sanity_val_steps=0",
)


def sgd_learns(**changes) -> Claim:
    """A claim the quick AlexNet on digits can test in seconds: SGD beats a frozen net."""
    fields = dict(
        id="sgd-learns",
        statement="SGD lowers the test error of a frozen network",
        source="Section 5",
        paper="—",
        measure="test/error",
        rule=Lower(better="sgd", worse="frozen"),
        arms=(Arm("sgd"), Arm("frozen", ("model.lr=0.0",))),
        overrides=TINY,
        seeds=(0, 1),
        curve="val/error",
    )
    return Claim(**{**fields, **changes})


def test_mean_and_error_of_runs_that_never_met_their_event():
    # Counts until an event that never came are inf: equal ones report no spread, mixed ones nan.
    assert mean_and_error([math.inf] * 3) == (math.inf, 0.0)
    mean, error = mean_and_error([math.inf, 4.0])
    assert mean == math.inf and math.isnan(error)
    assert mean_and_error([2.0, 4.0]) == (3.0, 1.0)
    assert mean_and_error([5.0]) == (5.0, 0.0)


def test_the_chain_runs_judges_and_reports(tmp_path):
    learns = sgd_learns()
    trained: dict = {}
    result = reproduce.run_claim(learns, "alexnet", learns.seeds, [], tmp_path, trained)
    assert set(result["values"]) == {"sgd", "frozen"}
    assert all(len(v) == 2 for v in result["values"].values())
    assert result["verdict"] == REPRODUCED, result["why"]
    assert (tmp_path / "runs" / "sgd-learns" / "frozen-s1" / "summary.json").is_file()
    # the learning curves: one value of val/error per epoch of each run
    assert [len(c) for c in result["curves"]["sgd"]] == [4, 4]
    # how each run ended and at which scale, for the verdict to know a budget decided it
    [first, _] = result["runs"]["frozen"]
    assert first["stopped_by"] == "budget" and first["scale"] == "the quick preset"
    assert first["evaluations"] == 4 and first["monitor"] == "val/error"
    assert first["threads"] == torch.get_num_threads()  # the numbers depend on it
    reproduce.save_result(result, tmp_path, [])

    # a claim sharing an arm (same overrides, same seed) reuses its run instead of training again
    rule = Matches("sgd", 0.5, tolerance=0.5, partly_tolerance=0.5)
    shared = Claim(**{**vars(learns), "id": "shared", "arms": (Arm("sgd"),), "rule": rule})
    again = reproduce.run_claim(shared, "alexnet", (0,), [], tmp_path, trained)
    assert again["values"]["sgd"] == result["values"]["sgd"][:1] and again["minutes"] is None
    assert not (tmp_path / "runs" / "shared").exists()
    # two arms reading two metrics of the same runs (beam and greedy BLEU of one model)
    two = Claim(
        **{
            **vars(learns),
            "id": "two-metrics",
            "arms": (Arm("sgd"), Arm("val", measure="val/error")),
            "rule": Lower("val", "sgd"),
        }
    )
    both = reproduce.run_claim(two, "alexnet", (0,), [], tmp_path, trained)
    summary = trained[next(k for k in trained if k[-1] == "seed=0" and len(k) == len(TINY) + 2)]
    assert both["values"] == {
        "sgd": [summary["metrics"]["test/error"]],
        "val": [summary["metrics"]["val/error"]],
    }
    assert both["minutes"] is None and not (tmp_path / "runs" / "two-metrics").exists()

    # a later invocation reruns an arm in its folder afresh (a run folder holds one run)
    rerun = reproduce.run_claim(learns, "alexnet", (0,), [], tmp_path, {})
    assert rerun["values"]["sgd"] == result["values"]["sgd"][:1]
    meta = json.loads((tmp_path / "runs" / "sgd-learns" / "sgd-s0" / "run.json").read_text())
    assert "resumes" not in meta

    missing = Claim(
        id="needs-cifar",
        statement="x",
        source="Section 3.3",
        paper="—",
        measure="test/error",
        rule=Lower("a", "b"),
        arms=(Arm("a"),),
        overrides=(*TINY, "data=cifar10", f"paths.data_dir={tmp_path / 'nothing'}"),
        seeds=(0,),
    )
    skipped = reproduce.run_claim(missing, "alexnet", (0,), [], tmp_path)
    assert skipped["verdict"] == NOT_RUN and "cifar10-jpeg.zip" in skipped["why"]
    assert reproduce.keep(skipped, missing, tmp_path)  # nothing measured yet: say what is missing
    reproduce.save_result(skipped, tmp_path, [])
    # a later run without data does not replace a measured result
    assert not reproduce.keep({**skipped, "id": "sgd-learns"}, learns, tmp_path)

    [imagenet] = [c for c in registry.claims("alexnet") if c.id == "ilsvrc2012"]
    assert not reproduce.keep(
        reproduce.run_claim(imagenet, "alexnet", (0,), [], tmp_path), imagenet, tmp_path
    )
    never = Claim(**{**vars(learns), "id": "never-run"})
    results = reproduce.load_results([learns, missing, imagenet, never], tmp_path, "alexnet")
    assert [r["verdict"] for r in results] == [REPRODUCED, NOT_RUN, NOT_RUN, "not run yet"]
    # verdicts are judged again by the current rule; kept runs without the rule's arm are stale
    stricter = Claim(**{**vars(learns), "rule": Lower("sgd", "frozen", min_gap=10.0)})
    assert reproduce.load_results([stricter], tmp_path, "alexnet")[0]["verdict"] == PARTLY
    renamed = Claim(**{**vars(learns), "rule": Lower("sgd", "other")})
    assert reproduce.load_results([renamed], tmp_path, "alexnet")[0]["verdict"] == "stale"
    assert "experiment=alexnet/paper" in results[2]["why"]

    report = reproduce.write_report("alexnet", results, tmp_path).read_text()
    assert "| sgd-learns: SGD lowers" in report and "**reproduced**" in report
    assert report.count("**not run here**") == 2 and "**not run yet**" in report
    assert "`python scripts/reproduce.py paper=alexnet claim=sgd-learns`" in report
    assert (tmp_path / "sgd-learns.png").stat().st_size > 1000

    # the README's table is replaced between its markers, the rest kept
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# x\nbefore\n{reproduce.MARKERS[0]}\nold table\n{reproduce.MARKERS[1]}\nafter\n"
    )
    assert reproduce.update_readme(readme, "alexnet", results)
    text = readme.read_text()
    assert "old table" not in text and "before" in text and "after" in text
    assert "| sgd-learns: SGD lowers" in text and "(../../reports/alexnet/sgd-learns.png)" in text
    assert not reproduce.update_readme(tmp_path / "no-readme.md", "alexnet", results)


ALL_ARMS = [
    pytest.param(name, claim, arm, setting, id=f"{name}-{claim.id}-{arm.name}-{index}")
    for name in registry.available()
    for claim in registry.claims(name)
    if not claim.not_run_here
    for arm in claim.arms
    for index, setting in enumerate(arm.grid or ((),))
]


@pytest.mark.parametrize(("name", "claim", "arm", "setting"), ALL_ARMS)
def test_every_arm_of_every_claim_composes_and_passes_the_config_check(
    name, claim, arm, setting, tmp_path
):
    """What reproduce.py would run: the claim's and the arm's overrides on the paper (with each
    setting of its grid), checked as a run checks its config (every data and model argument
    against its declared type)."""
    overrides = [*claim.overrides, *arm.overrides, *setting]
    cfg = compose([f"paper={name}", *overrides, "seed=0"], tmp_path)
    validate(cfg)
    build(cfg.data)
    build(cfg.model)
    if arm.grid:  # the metric that chooses among its settings is one the module logs: on
        # validation, or (Figure 1: "to make training as fast as possible") the training speed
        assert claim.select.startswith("val/") or claim.select == "train/epochs_to_target"
    parsed = OverridesParser.create().parse_overrides(overrides)
    last = {o.key_or_group: o for o in parsed}  # a grid's setting replaces the claim's value
    for override in last.values():
        key = override.key_or_group
        chosen = OmegaConf.select(cfg, key)
        if override.is_add() or OmegaConf.is_dict(chosen) or key in ("experiment", "model", "data"):
            continue  # a config group: its equality with the set-up is test_experiments' test
        # each value the arm sets reaches the run's config (no later default overrides it)
        shown = OmegaConf.to_container(chosen) if OmegaConf.is_config(chosen) else chosen
        assert shown == override.value(), (claim.id, arm.name, key)


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        pytest.param(n, c, id=f"{n}-{c.id}")
        for n in registry.available()
        for c in registry.claims(n)
    ],
)
def test_a_claims_rule_reads_the_arms_it_has(name, claim):
    """The rule judges measurements named by the claim's own arms (a misnamed arm would only
    fail after every run of the claim)."""
    verdict, why = claim.rule.judge({arm.name: [1.0, 2.0, 3.0] for arm in claim.arms})
    assert verdict and why


ALL_CLAIMS = [
    pytest.param(name, claim, id=f"{name}-{claim.id}")
    for name in registry.available()
    for claim in registry.claims(name)
]


def paper_target(rule) -> float | None:
    """The number of the paper a rule compares with, if it compares with one."""
    if isinstance(rule, Matches):
        return rule.value
    if isinstance(rule, RatioAtLeast):
        return rule.target
    return getattr(rule, "paper", None)  # e.g. the LSTM's FewerSequences


@pytest.mark.parametrize(("name", "claim"), ALL_CLAIMS)
def test_a_claims_target_is_the_number_paper_py_reports(name, claim):
    """The paper's numbers are written once, in paper.py: a rule's target is one of the entries
    the claim names, and each of those is the paper's own (not typed again in claims.py)."""
    paper = importlib.import_module(f"papers.{name}.paper")
    known = {*registry.get(name).reported}
    known |= {v for v in vars(paper).values() if isinstance(v, Reported)}
    tables = [v for v in vars(paper).values() if isinstance(v, dict)]  # e.g. TABLE_2["top1"]
    known |= {r for t in tables for r in t.values() if isinstance(r, Reported)}
    assert all(r in known for r in claim.reported), claim.id
    target = paper_target(claim.rule)
    theoretical = "beyond the paper" in claim.source or "no number" in claim.paper
    if target is not None and target != 0 and not theoretical:
        assert target in {r.value for r in claim.reported}, claim.id


TRANSFORMER = "papers/transformer"  # LoRA builds on it


def test_a_kept_result_knows_whether_its_code_is_the_code_of_now(tmp_path):
    claim = Claim(
        id="fresh",
        statement="a is lower than b",
        source="Section 1",
        paper="—",
        measure="test/error",
        rule=Lower("a", "b"),
        arms=(Arm("a"), Arm("b")),
    )
    values = {"a": [1.0, 1.1, 1.2], "b": [2.0, 2.1, 2.2]}
    result = {"id": "fresh", "values": values, "verdict": REPRODUCED, "why": "", "minutes": 1.0}
    result["code_digest"] = reproduce.code_digest("lora")  # as run_claim records it
    reproduce.save_result(result, tmp_path, [])
    path = tmp_path / "results" / "fresh.json"

    def freshness() -> tuple[str, str]:
        [kept] = reproduce.load_results([claim], tmp_path, "lora")
        return kept["freshness"], "\n".join(reproduce.table("lora", [kept]))

    assert freshness()[0] == "current" and "stale" not in freshness()[1]
    kept = json.loads(path.read_text())
    path.write_text(json.dumps({**kept, "code_digest": "0" * 64}))  # made by other code
    state, table = freshness()
    assert state == "stale" and "(stale: the code it depends on has changed since" in table
    del kept["code_digest"]  # kept before results recorded their code
    path.write_text(json.dumps(kept))
    state, table = freshness()
    assert state == "unrecorded" and "kept before results recorded their code" in table
    # what the digest covers: the paper, the papers it imports, common/ and the configs
    files = {str(p.relative_to(reproduce.ROOT)) for p in reproduce.code_files("lora")}
    assert {"papers/lora/lora.py", "papers/transformer/model.py", "common/claims.py"} <= files
    assert "configs/model/lora.yaml" in files and "papers/alexnet/model.py" not in files
    assert not any(f.endswith(".md") for f in files)
    # the simple baselines run beside the claims: their code stales only the baselines' digest
    assert "papers/lora/baselines.py" not in files and "common/baselines.py" not in files
    every = {str(p.relative_to(reproduce.ROOT)) for p in reproduce.code_files("lora", True)}
    assert every - files == {f"{d}/baselines.py" for d in ("common", "papers/lora", TRANSFORMER)}
    assert reproduce.code_digest("lora", baselines=True) != reproduce.code_digest("lora")


def run(stopped_by: str = "stopping rule", improving: bool | None = False, scale: str = "paper"):
    """What a run records of its budget (``common.train.budget``)."""
    return {
        "stopped_by": stopped_by,
        "monitor": "val/error",
        "still_improving": improving,
        "evaluations": 10,
        "preset": "paper",
        "scale": scale,
    }


ABSENT = {"a": [0.20, 0.21, 0.22], "b": [0.10, 0.11, 0.12]}  # a is not lower: not reproduced


def test_a_measured_absence_stays_not_reproduced():
    runs = {arm: [run()] * 3 for arm in ABSENT}  # converged runs, stopped by their own rule
    assert judge(Lower("a", "b"), ABSENT, runs)[0] == NOT_REPRODUCED
    # at its budget, but past its best: the budget did not decide
    runs = {arm: [run("budget", improving=False)] * 3 for arm in ABSENT}
    assert judge(Lower("a", "b"), ABSENT, runs)[0] == NOT_REPRODUCED


@pytest.mark.parametrize(
    ("values", "runs", "says"),
    [
        # stopped at the budget while still improving
        (ABSENT, {"a": [run("budget", True)] * 3, "b": [run()] * 3}, "3 of 6 runs stopped at"),
        # one evaluation: convergence not shown
        (ABSENT, {"a": [run("budget", None)] * 3, "b": [run()] * 3}, "3 of them with one"),
        # too few seeds
        ({"a": [0.2, 0.21], "b": [0.1, 0.11]}, {}, "2 seed(s) in an arm"),
        # runs that never met their target before the cap (a cost until an event)
        ({"a": [math.inf] * 3, "b": [5.0, 6.0, 7.0]}, {}, "3 of 6 runs never met the target"),
    ],
)
def test_a_not_reproduced_that_the_scale_decided_is_inconclusive(values, runs, says):
    verdict, why = judge(Lower("a", "b"), values, runs)
    assert verdict == INCONCLUSIVE and says in why, why
    assert verdict != Lower("a", "b").judge(values)[0]  # the rule alone would refute it


def test_a_reduced_run_against_the_papers_full_scale_number_is_inconclusive():
    rule = Matches("dbn", 0.0125, tolerance=0.001, partly_tolerance=0.005)
    values = {"dbn": [0.05, 0.051, 0.052]}
    reduced = reproduce.scale("paper", ["experiment=dbn/paper", "data.per_class=300", "seed=0"])
    assert reduced == "the paper preset with data.per_class=300"
    verdict, why = judge(rule, values, {"dbn": [run(scale=reduced)] * 3})
    assert verdict == INCONCLUSIVE, why
    assert "runs at the paper preset with data.per_class=300 against the paper's full" in why
    quick = reproduce.scale("quick", ["paper=dbn", "seed=1"])
    assert judge(rule, values, {"dbn": [run(scale=quick)] * 3})[0] == INCONCLUSIVE
    # the paper's own scale (on a GPU, say): the number can be compared
    paper_scale = reproduce.scale("paper", ["experiment=dbn/paper", "trainer=gpu", "seed=0"])
    assert judge(rule, values, {"dbn": [run(scale=paper_scale)] * 3})[0] == NOT_REPRODUCED
    # a reduced scale is no reason to doubt a comparison between its own arms
    runs = {arm: [run(scale=quick)] * 3 for arm in ABSENT}
    assert judge(Lower("a", "b"), ABSENT, runs)[0] == NOT_REPRODUCED


def test_reproduced_and_partly_keep_their_word():
    capped = {"a": [run("budget", True)] * 2, "b": [run("budget", True)] * 2}
    values = {"a": [0.10, 0.11], "b": [0.20, 0.21]}
    assert judge(Lower("a", "b"), values, capped)[0] == REPRODUCED
    values = {"a": [0.10, 0.30], "b": [0.15, 0.35]}
    verdict, why = judge(Lower("a", "b"), values, capped)
    assert verdict == PARTLY and "4 of 4 runs stopped at their budget" in why


def test_a_claims_runs_form_one_wandb_group_with_its_arms_as_job_types(tmp_path):
    """After ``wandb sync`` the UI compares a claim's arms: one group per claim, the arm as the
    job type (and a tag), the seeds as runs; each run's W&B config says which data it read."""
    overrides = (*(o for o in TINY if o != "logger=csv"), "trainer.max_epochs=1")
    claim = sgd_learns(id="grouped", overrides=overrides, seeds=(0,), curve="")
    reproduce.run_claim(claim, "alexnet", claim.seeds, [], tmp_path)
    for arm in ("sgd", "frozen"):
        run = tmp_path / "runs" / "grouped" / f"{arm}-s0"
        [records] = run.glob("wandb/offline-run-*/run-*.wandb")
        recorded = run_contents(records)
        assert recorded["config"]["_run"]["group"] == "alexnet-claim-grouped"
        assert recorded["config"]["_run"]["job_type"] == arm
        assert {"claim:grouped", f"arm:{arm}"} <= set(recorded["config"]["_run"]["tags"])
        data = json.loads((run / "run.json").read_text())["data"]
        assert recorded["config"]["data"] == data
        assert data["files"] == {"sklearn.datasets.load_digits": f"scikit-learn {SKLEARN}"}
        assert data["paper_data"] is True


def test_a_claims_baselines_fit_its_own_splits_and_are_kept(tmp_path):
    """Logistic regression and LightGBM on the digits the claim's runs see: the claim's measure
    on its test split, parameters counted from the fitted models, kept beside its results."""
    claim = sgd_learns(id="with-baselines", baselines=IMAGE_BASELINES)
    logistic, trees = reproduce.run_baselines(claim, "alexnet", [], tmp_path)
    splits = image_splits(compose(["paper=alexnet", *TINY], tmp_path / "x"))
    n_test = len(splits["test"][1])
    # the quick AlexNet's digits: 8x8 resized to 32x32, bytes scaled to [0, 1]
    assert splits["train"][0].shape[1] == 32 * 32 and splits["train"][0].max() == 1.0
    assert logistic["parameters"] == 10 * 1024 + 10 and logistic["measure"] == "test/error"
    for baseline in (logistic, trees):
        assert baseline["value"] < 0.2  # digits are easy for both; chance is 0.9
        wrong = baseline["value"] * n_test  # a share of the test images
        assert wrong == pytest.approx(round(wrong), abs=1e-9)
    assert trees["parameters"] > 10 and "rounds" in trees["setting"]
    kept = json.loads((tmp_path / "baselines" / "with-baselines.json").read_text())
    assert kept["baselines"] == [logistic, trees]
    assert kept["code_digest"] == reproduce.code_digest("alexnet", baselines=True)
    [result] = reproduce.load_results([claim], tmp_path, "alexnet")
    cell = reproduce.baseline_cell(result)
    assert cell in "\n".join(reproduce.table("alexnet", [result]))
    assert "logistic regression on pixels" in cell and "10,250 parameters" in cell


def test_the_results_page_sets_every_paper_on_one_page(tmp_path):
    reports = tmp_path / "reports"
    markers = "<!-- verdicts:start -->\nold\n<!-- verdicts:end -->"
    (tmp_path / "README.md").write_text(f"top\n{markers}\n")
    page = reproduce.write_results_page(reports).read_text()
    for name in registry.available():
        assert f"## {name}" in page
    alexnet = len(registry.claims("alexnet"))
    not_run = sum(bool(c.not_run_here) for c in registry.claims("alexnet"))
    row = f"| {not_run} | {alexnet - not_run} | 0 |"  # nothing kept yet: not run yet, none stale
    assert row in page
    top = (tmp_path / "README.md").read_text()
    assert "old" not in top and "[alexnet](papers/alexnet/README.md) | 0 | 0 | 0 | 0 |" in top


def test_the_overview_plots_claims_with_a_baseline_or_the_papers_number(tmp_path):
    claim = sgd_learns()
    baseline = {"name": "logistic regression on pixels", "value": 0.1}
    measured = {"claim": claim, "values": {"sgd": [0.2, 0.3]}, "verdict": PARTLY}
    path = tmp_path / "overview.png"
    assert not reproduce.overview("alexnet", [{**measured, "baselines": []}], path)
    assert not path.exists()  # nothing to set beside ours
    never = {**measured, "values": {"sgd": [math.inf]}, "baselines": [baseline]}
    assert not reproduce.overview("alexnet", [never], path)
    assert reproduce.overview("alexnet", [{**measured, "baselines": [baseline]}], path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_an_arm_with_a_grid_keeps_the_run_its_validation_error_chose(tmp_path):
    """Each seed trains every setting of the grid; the arm's measure is the test error of the
    one with the lowest validation error (a frozen net's rate 0 loses to a learning one)."""
    grid = (("model.lr=0.0",), ("model.lr=0.01",))
    rule = Matches("sgd", 0.5, tolerance=0.5, partly_tolerance=0.5)
    claim = sgd_learns(id="tuned", arms=(Arm("sgd", grid=grid),), rule=rule, seeds=(0,), curve="")
    result = reproduce.run_claim(claim, "alexnet", claim.seeds, [], tmp_path)
    runs = {
        g: json.loads((tmp_path / "runs" / "tuned" / f"sgd-g{g}-s0" / "summary.json").read_text())
        for g in (0, 1)
    }
    best = min(runs, key=lambda g: runs[g]["metrics"]["val/error"])
    assert best == 1 and result["chosen"] == {"sgd": [["model.lr=0.01"]]}
    assert result["values"]["sgd"] == [runs[1]["metrics"]["test/error"]]
    assert "[chose model.lr=0.01]" in reproduce.ours(result)


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        pytest.param(n, c, id=f"{n}-{c.id}")
        for n in registry.available()
        for c in registry.claims(n)
        if c.baselines
    ],
)
def test_every_claims_baselines_are_functions_of_a_config(name, claim):
    """Each "module:function" a claim names exists and takes the config; it reports the
    claim's own measure (checked where each baseline is tested on tiny data)."""
    for target in claim.baselines:
        module, _, function = target.partition(":")
        baseline = getattr(importlib.import_module(module), function)
        assert list(inspect.signature(baseline).parameters) == ["cfg"], target
