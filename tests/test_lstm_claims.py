"""papers/lstm/claims.py: the rule on sequences until success, and claims that can run."""

import math

from common.claims import NOT_REPRODUCED, PARTLY, REPRODUCED
from papers.lstm.claims import CLAIMS, FewerSequences


def test_fewer_sequences_compares_the_mean_with_the_papers_and_fails_unmet_runs():
    rule = FewerSequences("lstm", paper=10_000, factor=3.0)
    verdict, why = rule.judge({"lstm": [8_000.0, 16_000.0]})
    assert verdict == REPRODUCED and "1.20x the paper's 10,000" in why
    assert rule.judge({"lstm": [30_000.0, 40_000.0]})[0] == PARTLY  # 3.5x: met, but slower
    verdict, why = rule.judge({"lstm": [5_000.0, math.inf]})
    assert verdict == NOT_REPRODUCED and "1 of 2 runs never met the rule" in why


def test_claims_measure_metrics_the_module_logs_and_name_their_arms():
    logged = {"train/sequences_to_stop", "test/success", "test/bpc"}
    for claim in CLAIMS:
        assert claim.measure in logged
        named = {getattr(claim.rule, key, None) for key in ("arm", "better", "worse")} - {None}
        assert named and named <= {arm.name for arm in claim.arms}
