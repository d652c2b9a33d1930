"""Timing that a busy or drifting machine cannot tilt: the contenders run in turn, trial by
trial, so that a slow spell slows all of them (``scripts/bench.py`` and the papers' bench.py)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_times(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call, ``repeats`` trials each, the functions called in turn in every
    trial (the order rotated from trial to trial), after one warm-up call each."""
    for fn in fns.values():
        fn()
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for trial in range(repeats):
        shift = trial % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def ratio_to(times: dict[str, list[float]], name: str, reference: str) -> dict[str, float]:
    """The median of ``name``'s per-trial time ratios to ``reference`` (a trial's contenders ran
    back to back, so a slow spell scales both), and their spread, the lowest and highest."""
    ratios = [x / y for x, y in zip(times[name], times[reference], strict=True)]
    return {"ratio": statistics.median(ratios), "ratio_low": min(ratios), "ratio_high": max(ratios)}


def paired_ratio(a: Callable[[], None], b: Callable[[], None], repeats: int) -> dict[str, float]:
    """Seconds of ``a`` and ``b`` (medians) and the median of the per-trial ratios a / b, their
    spread as the lowest and highest ratio."""
    times = interleaved_times({"a": a, "b": b}, repeats)
    return {
        "a_s": statistics.median(times["a"]),
        "b_s": statistics.median(times["b"]),
        **ratio_to(times, "a", "b"),
    }
