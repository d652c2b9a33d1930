"""Seeds, determinism and exact resume.

Lightning checkpoints hold the model, optimiser, schedulers and loops but not the random number
generators, so a resumed run would draw different dropout masks and shuffles. :class:`RNGState`
stores the python, numpy and torch generators in the checkpoint and restores them on resume, which
makes a resumed run bit-identical to an uninterrupted one on CPU.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch, and the data-loader workers (through Lightning)."""
    L.seed_everything(seed, workers=True, verbose=False)


class RNGState(L.Callback):
    """Saves and restores every random number generator with the checkpoint."""

    def state_dict(self) -> dict[str, Any]:
        version, keys, position = random.getstate()[:3]
        np_state = np.random.get_state()  # noqa: NPY002 (the global one is what we save)
        state = {
            "python": (version, list(keys), position),
            "numpy": (np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version, keys, position = state["python"]
        random.setstate((version, tuple(keys), position))
        name, keys_tensor, *rest = state["numpy"]
        np.random.set_state((name, keys_tensor.numpy(), *rest))  # noqa: NPY002
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
