"""common/timing.py on a fake clock: the contenders run in turn with the order rotated, the warm-up
is not counted, and a ratio is the median of the per-trial ratios (no wall-clock bound)."""

import itertools

import pytest

from common import timing


class FakeClock:
    """perf_counter for the timed functions: each call of a contender advances the clock by
    that contender's next duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def contenders(clock: FakeClock, durations: dict[str, list[float]], calls: list[str]):
    sequences = {name: itertools.chain([0.0], d) for name, d in durations.items()}  # warm-up 0 s

    def make(name: str):
        def run() -> None:
            calls.append(name)
            clock.now += next(sequences[name])

        return run

    return {name: make(name) for name in durations}


def test_contenders_run_in_turn_with_the_order_rotated(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    fns = contenders(clock, {"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]}, calls)
    times = timing.interleaved_times(fns, repeats=3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-ups, then a/b, b/a, a/b
    assert times == {"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]}


def test_a_ratio_is_the_median_of_the_pairs_so_a_slow_spell_cancels(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    # b takes twice a's time in every trial; the machine slows 5-fold in trial 2 (both slow)
    fns = contenders(clock, {"a": [1.0, 5.0, 1.0, 1.1], "b": [2.0, 10.0, 2.0, 2.0]}, calls)
    result = timing.paired_ratio(fns["a"], fns["b"], repeats=4)
    assert result["ratio"] == pytest.approx(0.5)
    assert result["ratio_low"] == pytest.approx(0.5) and result["ratio_high"] == pytest.approx(0.55)
    assert result["a_s"] == pytest.approx(1.05) and result["b_s"] == pytest.approx(2.0)
    times = {"x": [3.0, 1.0, 2.0], "ref": [1.0, 1.0, 1.0]}
    assert timing.ratio_to(times, "x", "ref") == {"ratio": 2.0, "ratio_low": 1.0, "ratio_high": 3.0}
