"""papers/lstm/claims.py: the rule on sequences until success, and claims that can run."""

import math

from common.claims import INCONCLUSIVE, NOT_REPRODUCED, PARTLY, REPRODUCED, AtMost, judge
from papers.lstm.claims import CLAIMS, FewerSequences, cap
from papers.lstm.paper import reported_for_run


def test_fewer_sequences_compares_the_mean_with_the_papers_and_fails_unmet_runs():
    rule = FewerSequences("lstm", paper=10_000, cap=30_000, factor=3.0)
    verdict, why = rule.judge({"lstm": [8_000.0, 16_000.0]})
    assert verdict == REPRODUCED and "1.20x the paper's 10,000" in why
    assert rule.judge({"lstm": [30_000.0, 40_000.0]})[0] == PARTLY  # 3.5x: met, but slower
    verdict, why = rule.judge({"lstm": [5_000.0, math.inf]})
    assert verdict == NOT_REPRODUCED and "1 of 2 runs never met the rule within 30,000" in why
    # a cap below 3x the paper's mean: a run that never met it might have met it at 2.9x
    short = FewerSequences("lstm", paper=10_000, cap=25_000, factor=3.0)
    verdict, why = judge(short, {"lstm": [5_000.0, math.inf, 6_000.0]})
    assert verdict == INCONCLUSIVE and "a cap below 3x cannot refute it" in why


def test_a_claims_cap_is_what_its_runs_can_see():
    [reber] = [c for c in CLAIMS if c.id == "reber"]
    assert reber.rule.cap == cap(reber.overrides) == 30_000  # 30 epochs of 1,000 strings
    [adding] = [c for c in CLAIMS if c.id == "adding-t100"]
    assert adding.rule.cap == 200_000  # 20 epochs of the quick data's 10,000 sequences


def test_claims_measure_metrics_the_module_logs_and_name_their_arms():
    logged = {"train/sequences_to_stop", "test/success", "test/bpc", "test/mean_abs_error"}
    logged |= {"test/strings_before_error", "test/state_growth"}  # the continual task
    for claim in CLAIMS:
        assert claim.measure in logged
        named = {getattr(claim.rule, key, None) for key in ("arm", "better", "worse")} - {None}
        assert named <= {arm.name for arm in claim.arms}
        assert named or isinstance(claim.rule, AtMost)  # AtMost judges every arm


def test_sequence_claims_quote_the_papers_own_number_for_their_task():
    # A claim's target must be the number paper.py stores for the same task and variation.
    checked = 0
    for claim in CLAIMS:
        if not isinstance(claim.rule, FewerSequences):
            continue
        options = dict(o.split("=", 1) for o in claim.overrides if "=" in o)
        task = options["task"]
        variation = {}
        if "task_options" in options:  # e.g. {q:50,p:50}
            pairs = options["task_options"].strip("{}").split(",")
            variation = {
                k: float(v) if "." in v else int(v) for k, v in (p.split(":") for p in pairs)
            }
        reported = {
            r.metric: r.value
            for r in reported_for_run(task, variation)
            if r.metric == "train/sequences_to_success"
        }
        assert reported["train/sequences_to_success"] == claim.rule.paper, claim.id
        checked += 1
    assert checked >= 6
