"""A paper's claims as experiments with verdicts.

A :class:`Claim` says what the paper claims, where, with which number, and how we test it: the
arms to run (config overrides), the seeds, the measured quantity (a metric of the run summary)
and the :class:`Rule` that turns the measurements into a verdict. ``scripts/reproduce.py`` runs
them and writes the report. A paper declares its claims in ``papers/<name>/claims.py`` as
``CLAIMS``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Protocol

from common.registry import Reported

REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN = (
    "reproduced",
    "partly",
    "not reproduced",
    "inconclusive at this scale",
    "not run here",
)
# Fewer seeds per arm than this cannot tell an absent effect from seed noise.
MIN_SEEDS = 3


class Rule(Protocol):
    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        """(verdict, why) from the measurements of each arm over the seeds."""


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error: 0 for a single value or equal ones (e.g. every run's count
    until an event that never came, inf), nan for other values that are not all finite."""
    if len(set(values)) == 1:
        return values[0], 0.0
    if not all(math.isfinite(value) for value in values):
        return statistics.fmean(values), math.nan
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def difference(
    values: dict[str, list[float]], first: str, second: str, paired: bool = False
) -> tuple[float, float, float, float, str]:
    """The means of arms ``first`` and ``second``, the gap first - second, its standard error over
    seeds, and the gap in words. ``paired``: the arms are two measures of the same runs (seed by
    seed), so the error is that of the per-seed differences."""
    (a, a_se), (b, b_se) = mean_and_error(values[first]), mean_and_error(values[second])
    gap, gap_se = a - b, math.hypot(a_se, b_se)
    if paired:
        pairs = [x - y for x, y in zip(values[first], values[second], strict=True)]
        gap, gap_se = mean_and_error(pairs)
    kind = "standard error of the per-seed differences" if paired else "standard error"
    return a, b, gap, gap_se, f"{first} - {second} = {gap:.4g} ± {gap_se:.2g} ({kind})"


def events_met(
    better: list[float], worse: list[float], better_name: str, worse_name: str
) -> tuple[str, str]:
    """For a cost until an event (updates, minutes to a target) that some runs never met (an
    infinite cost): reproduced when every ``better`` run met it and no ``worse`` run did,
    partly when more ``better`` runs met it, not reproduced otherwise. Means would be
    infinite, and their difference undefined."""
    met_b, met_w = (sum(math.isfinite(v) for v in arm) for arm in (better, worse))
    why = (
        f"{better_name} met the target in {met_b} of {len(better)} runs, {worse_name} in "
        f"{met_w} of {len(worse)}"
    )
    if met_b == len(better) and met_w == 0:
        return REPRODUCED, why
    if met_b > met_w:
        return PARTLY, why + ": more often, not in every run"
    return NOT_REPRODUCED, why


@dataclass(frozen=True)
class Lower:
    """Arm ``better`` measures lower than arm ``worse``: reproduced when the gap exceeds twice
    its standard error over seeds (and ``min_gap``), partly when it only points the right way."""

    better: str
    worse: str
    min_gap: float = 0.0

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        if any(math.isinf(v) for arm in (self.better, self.worse) for v in values[arm]):
            return events_met(values[self.better], values[self.worse], self.better, self.worse)
        _, _, gap, gap_se, why = difference(values, self.worse, self.better)
        if gap > max(2 * gap_se, self.min_gap):
            return REPRODUCED, why
        if gap > 0:
            return PARTLY, why + ": the right direction, not told apart from seed noise"
        return NOT_REPRODUCED, why


@dataclass(frozen=True)
class Higher:
    """Arm ``better`` measures higher than arm ``worse``: reproduced when the gap exceeds twice
    its standard error over seeds and ``min_gap``, and ``better`` reaches ``factor`` times
    ``worse``; partly when it only points the right way. For measures that may be zero in the
    worse arm (a ratio of means would divide by it)."""

    better: str
    worse: str
    min_gap: float = 0.0
    factor: float = 1.0
    paired: bool = False  # two measures of the same runs: judge the per-seed differences

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        b, w, gap, gap_se, why = difference(values, self.better, self.worse, self.paired)
        short = []
        if gap <= max(2 * gap_se, self.min_gap):
            short.append(f"a gap above {self.min_gap:g} and twice its standard error")
        if b < self.factor * w:
            short.append(f"{self.factor:g} times {self.worse}")
        if not short:
            return REPRODUCED, why
        if gap > 0:
            return PARTLY, why + ": the right direction, short of " + " and ".join(short)
        return NOT_REPRODUCED, why


@dataclass(frozen=True)
class NotWorse:
    """Arm ``arm`` measures no more than ``margin`` below arm ``reference`` (higher is better):
    reproduced when the gap minus twice its standard error stays above -``margin`` (shown not
    to be worse by more), partly when only the gap itself does. A non-inferiority test: an arm
    may also be better by any amount."""

    arm: str
    reference: str
    margin: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        _, _, gap, gap_se, why = difference(values, self.arm, self.reference)
        why += f" (at most {self.margin:g} below to reproduce)"
        if gap - 2 * gap_se >= -self.margin:
            return REPRODUCED, why
        if gap >= -self.margin:
            return PARTLY, why + ": within the margin, but the seeds cannot exclude a larger loss"
        return NOT_REPRODUCED, why


@dataclass(frozen=True)
class Close:
    """Arms ``first`` and ``second`` measure about the same: reproduced when the gap with twice
    its standard error over seeds stays within ``tolerance`` (the gap is shown to be small),
    partly when only the gap itself does (small, but not told apart from a larger one)."""

    first: str
    second: str
    tolerance: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        _, _, gap, gap_se, why = difference(values, self.first, self.second)
        why += f" (within ±{self.tolerance:g} to reproduce)"
        if abs(gap) + 2 * gap_se <= self.tolerance:
            return REPRODUCED, why
        if abs(gap) <= self.tolerance:
            return PARTLY, why + ": small, but the seeds cannot exclude a larger gap"
        return NOT_REPRODUCED, why


@dataclass(frozen=True)
class RatioAtLeast:
    """mean(numerator) / mean(denominator) reaches ``target`` (reproduced) or ``partly``."""

    numerator: str
    denominator: str
    target: float
    partly: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        ratio = statistics.fmean(values[self.numerator]) / statistics.fmean(
            values[self.denominator]
        )
        why = f"{self.numerator} / {self.denominator} = {ratio:.3g} (target: {self.target:g})"
        if ratio >= self.target:
            return REPRODUCED, why
        return (PARTLY if ratio >= self.partly else NOT_REPRODUCED), why


@dataclass(frozen=True)
class Matches:
    """Arm ``arm`` measures the paper's ``value`` to within ``tolerance`` (reproduced) or
    ``partly_tolerance`` (partly)."""

    arm: str
    value: float
    tolerance: float
    partly_tolerance: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        ours = statistics.fmean(values[self.arm])
        why = f"{self.arm} {ours:.4g} against the paper's {self.value:g}"
        if abs(ours - self.value) <= self.tolerance:
            return REPRODUCED, why
        return (PARTLY if abs(ours - self.value) <= self.partly_tolerance else NOT_REPRODUCED), why


@dataclass(frozen=True)
class AtLeast:
    """Arm ``arm`` measures at least ``target``: reproduced when its mean minus twice its
    standard error over seeds clears ``target``, partly when its mean clears ``partly``."""

    arm: str
    target: float
    partly: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        mean, error = mean_and_error(values[self.arm])
        why = f"{self.arm} {mean:.4g} ± {error:.2g} (standard error) against {self.target:g}"
        if mean - 2 * error >= self.target:
            return REPRODUCED, why
        return (PARTLY if mean >= self.partly else NOT_REPRODUCED), why


@dataclass(frozen=True)
class AtMost:
    """Every arm's mean measure is at most ``limit`` (reproduced) or at most ``partly``
    (partly): for a claim that holds in each of several settings, e.g. a gap to a known optimum."""

    limit: float
    partly: float

    def judge(self, values: dict[str, list[float]]) -> tuple[str, str]:
        means = {arm: statistics.fmean(v) for arm, v in values.items()}
        worst = max(means.values())
        why = ", ".join(f"{arm} {m:.3g}" for arm, m in means.items())
        why += f" (at most {self.limit:g} to reproduce, {self.partly:g} partly)"
        if worst <= self.limit:
            return REPRODUCED, why
        return (PARTLY if worst <= self.partly else NOT_REPRODUCED), why


def scale_limits(
    rule: Rule, values: dict[str, list[float]], runs: dict[str, list[dict]]
) -> list[str]:
    """What in the measurements says the runs' scale, not the method, decided them: too few
    seeds, runs that never met their target before their cap, runs that stopped at their budget
    while still improving (or with one evaluation, so convergence is not shown), and runs at a
    reduced scale set against the paper's full-scale number (a :class:`Matches` rule).

    ``runs`` holds, per arm, what each run recorded of its budget and scale (see
    ``common.train.budget``); a result kept before runs recorded it has none."""
    limits = []
    fewest = min(len(v) for v in values.values())
    if fewest < MIN_SEEDS:
        limits.append(
            f"{fewest} seed(s) in an arm, fewer than the {MIN_SEEDS} that tell an "
            "effect from seed noise"
        )
    measured = [v for arm in values.values() for v in arm]
    never = sum(math.isinf(v) for v in measured)
    if never and not getattr(rule, "judges_caps", False):
        limits.append(f"{never} of {len(measured)} runs never met the target before their cap")
    recorded = [run for arm in runs.values() for run in arm]
    capped = [
        r for r in recorded if r["stopped_by"] == "budget" and r["still_improving"] is not False
    ]
    if capped:
        unknown = sum(r["still_improving"] is None for r in capped)
        shown = f", {unknown} of them with one evaluation" if unknown else ""
        limits.append(
            f"{len(capped)} of {len(recorded)} runs stopped at their budget with "
            f"{capped[0]['monitor']} still improving (its best in the last quarter{shown})"
        )
    reduced = sorted({r["scale"] for r in recorded if r["scale"] != "paper"})
    if isinstance(rule, Matches) and reduced:
        limits.append(f"runs at {'; '.join(reduced)} against the paper's full-scale number")
    return limits


def judge(
    rule: Rule, values: dict[str, list[float]], runs: dict[str, list[dict]] | None = None
) -> tuple[str, str]:
    """The rule's verdict, except that a "not reproduced" which the runs' scale decided (see
    :func:`scale_limits`) is "inconclusive at this scale": a budget is never reported as a
    refutation. A "partly" keeps its word and names the limits."""
    verdict, why = rule.judge(values)
    limits = scale_limits(rule, values, runs or {}) if verdict in (NOT_REPRODUCED, PARTLY) else []
    if not limits:
        return verdict, why
    if verdict == NOT_REPRODUCED:
        return INCONCLUSIVE, f"{why}; the scale decides: {'; '.join(limits)}"
    return verdict, f"{why} ({'; '.join(limits)})"


def percent(reported: Reported, digits: int | None = None) -> str:
    """A reported rate as the paper writes it: 0.407 -> "40.7%" (``digits`` after the point:
    0.02 -> "2.0%" with 1)."""
    value = reported.value * 100
    return f"{value:g}%" if digits is None else f"{value:.{digits}f}%"


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...] = ()
    # the summary metric this arm contributes, when not the claim's: two arms may read two
    # metrics of the same runs (beam and greedy BLEU of one model), which are then trained once
    measure: str = ""
    # settings tried for each seed, each a tuple of overrides (e.g. learning rates): the run
    # with the best ``Claim.select`` metric on validation is the arm's, as the paper tuned it
    grid: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # in our own words
    source: str  # "Section 3.3", "Figure 1"
    paper: str  # the paper's number(s) in words, formatted from ``reported`` (never typed)
    measure: str  # the summary metric each run contributes, e.g. "test/error"
    rule: Rule
    arms: tuple[Arm, ...]
    overrides: tuple[str, ...] = ()  # shared by every arm: data, budget
    seeds: tuple[int, ...] = (0, 1, 2)
    minutes: float = 0.0  # per run on 2 CPU cores, as measured
    not_run_here: str = ""  # why it cannot run on a CPU (with the paper-scale command)
    curve: str = ""  # a per-epoch metric to plot as learning curves, e.g. "train/error"
    # The entries of the paper's ``paper.py`` this claim tests; a rule's target is one of them.
    reported: tuple[Reported, ...] = ()
    # The validation metric that picks each seed's run among an arm's grid, and its direction.
    select: str = "val/error"
    select_mode: str = "min"
    # The simple baselines set beside its arms on the same data ("module:function" paths, as
    # common/baselines.py's), each returning the claim's measure on the test split.
    baselines: tuple[str, ...] = ()
