"""Small helpers shared by the test files of several papers."""

from pathlib import Path

import lightning as L
import torch


def digit_batch(n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of random 8x8 uint8 'digits' with labels 0..9 in turn."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    return images, torch.arange(n) % 10


def quiet_trainer(folder: Path, max_epochs: int, **kwargs) -> L.Trainer:
    """A deterministic Trainer without logger, progress bar, summary or sanity check."""
    return L.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
        default_root_dir=str(folder),
        **kwargs,
    )
