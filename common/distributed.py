"""Distributed training: global and per-process batch sizes, precision choice, world size.

``data.batch_size`` always means the global batch (what the paper states); each of the
``world_size`` processes loads ``batch_size / world_size`` samples, so a 2-process run follows the
same trajectory as a 1-process run with the same batch.
"""

from __future__ import annotations

import os

import torch


def per_device_batch_size(global_batch_size: int, world_size: int) -> int:
    if global_batch_size % world_size:
        raise ValueError(
            f"data.batch_size={global_batch_size} (the global batch) does not split evenly over "
            f"{world_size} processes; use a multiple of {world_size}"
        )
    return global_batch_size // world_size


def precision_for(accelerator: str) -> str:
    """What ``trainer.precision=auto`` means: ``bf16-mixed`` on GPUs that support it (Ampere and
    later), ``16-mixed`` on older GPUs, full 32-bit on CPUs."""
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def world_size() -> int:
    """Processes in the job as the launcher (Lightning, torchrun, SLURM) announces them."""
    return int(os.environ.get("WORLD_SIZE", "1"))
