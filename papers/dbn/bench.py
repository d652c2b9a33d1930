"""Speed of our RBM's CD-1 update against scikit-learn's ``BernoulliRBM`` (scripts/bench.py).

Both get the same minibatch of binary float32 data and the same size (784 visible, 500 hidden,
batches of 100 as in Hinton et al. 2006, Section 6) and make one update per call: ours is CD-1
with rbm.m's statistics, momentum and weight cost (``RBM.contrastive_divergence`` then
``momentum_update``); scikit-learn's ``partial_fit`` is one persistent-CD step (one Gibbs step
from its persistent chain) without momentum or weight cost. The Gibbs work per update is the
same: one up, one down and one up pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from common.rbm import RBM, RBM_M, Increments, bernoulli, momentum_update


def seconds_per_update(update: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of one call of ``update``, after one warm-up call."""
    update()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        update()
        times.append(time.perf_counter() - start)
    return float(torch.tensor(times).median())


def rbm_cd1_timings(
    n_visible: int = 784,
    n_hidden: int = 500,
    batch_size: int = 100,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Seconds per update of our CD-1 and of scikit-learn's ``BernoulliRBM.partial_fit``, the
    updates per second of each, and the ratio ours / scikit-learn in time (above 1: ours is
    slower)."""
    from sklearn.neural_network import BernoulliRBM

    generator = torch.Generator().manual_seed(seed)
    v = bernoulli(torch.full((batch_size, n_visible), 0.5), generator)
    torch.manual_seed(seed)
    rbm = RBM(n_visible, n_hidden)
    increments = Increments(rbm)

    def ours() -> None:
        result = rbm.contrastive_divergence(v, 1, RBM_M, generator=generator)
        momentum_update(rbm, result.gradients, increments, 0.1, 0.9, 2e-4)

    theirs = BernoulliRBM(
        n_components=n_hidden, batch_size=batch_size, learning_rate=0.1, random_state=seed
    )
    data = v.numpy()
    timings = {
        "ours_s": seconds_per_update(ours, repeats),
        "sklearn_s": seconds_per_update(lambda: theirs.partial_fit(data), repeats),
    }
    timings["ours_updates_per_s"] = 1 / timings["ours_s"]
    timings["sklearn_updates_per_s"] = 1 / timings["sklearn_s"]
    timings["ratio_ours_to_sklearn"] = timings["ours_s"] / timings["sklearn_s"]
    return timings
