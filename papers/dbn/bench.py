"""Speed of our RBM's CD-1 update against scikit-learn's ``BernoulliRBM`` (scripts/bench.py).

Both get the same minibatch of binary float32 data and the same size (784 visible, 500 hidden,
batches of 100 as in Hinton et al. 2006, Section 6) and make one update per call: ours is CD-1
with rbm.m's statistics, momentum and weight cost (``RBM.contrastive_divergence`` then
``momentum_update``); scikit-learn's ``partial_fit`` is one persistent-CD step (one Gibbs step
from its persistent chain) without momentum or weight cost. The Gibbs work per update is the
same: one up, one down and one up pass.
"""

from __future__ import annotations

import statistics

import torch

from common.rbm import RBM, RBM_M, Increments, bernoulli, momentum_update
from common.timing import interleaved_times, ratio_to


def rbm_cd1_timings(
    n_visible: int = 784,
    n_hidden: int = 500,
    batch_size: int = 100,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Seconds per update (medians) of our CD-1 and of scikit-learn's
    ``BernoulliRBM.partial_fit``, called in turn trial by trial, the updates per second of each,
    and the median of the per-trial time ratios ours / scikit-learn with their spread (above 1:
    ours is slower)."""
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
    times = interleaved_times({"ours": ours, "sklearn": lambda: theirs.partial_fit(data)}, repeats)
    ratio = ratio_to(times, "ours", "sklearn")
    timings = {f"{name}_s": statistics.median(t) for name, t in times.items()}
    timings["ours_updates_per_s"] = 1 / timings["ours_s"]
    timings["sklearn_updates_per_s"] = 1 / timings["sklearn_s"]
    timings["ratio_ours_to_sklearn"] = ratio["ratio"]
    timings["ratio_low"], timings["ratio_high"] = ratio["ratio_low"], ratio["ratio_high"]
    return timings
