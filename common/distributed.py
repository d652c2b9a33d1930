"""Distributed training: batch sizes, strategy and precision choice, rank-zero helpers.

``data.batch_size`` always means the global batch (what the paper states); each of the
``world_size`` processes loads ``batch_size / world_size`` samples, so a 2-process run follows the
same trajectory as a 1-process run with the same batch.
"""

from __future__ import annotations

import os

import torch
from lightning.pytorch.utilities import rank_zero_only

__all__ = ["per_device_batch_size", "precision_for", "is_rank_zero", "rank_zero_only", "world_size"]


def per_device_batch_size(global_batch_size: int, world_size: int) -> int:
    if global_batch_size % world_size:
        raise ValueError(
            f"data.batch_size={global_batch_size} (the global batch) does not split evenly over "
            f"{world_size} processes; use a multiple of {world_size}"
        )
    return global_batch_size // world_size


def precision_for(accelerator: str) -> str:
    """``bf16-mixed`` on GPUs that support it, else full 32-bit."""
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def world_size() -> int:
    """Processes in the job as the launcher (Lightning, torchrun, SLURM) announces them."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_rank_zero() -> bool:
    return rank_zero_only.rank == 0
