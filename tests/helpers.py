"""Small helpers shared by the test files of several papers."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch

from common.config import ROOT

# Set by launchers; a CLI run started by a test must not inherit them.
_LAUNCHER_VARIABLES = (
    "LOCAL_RANK",
    "NODE_RANK",
    "WORLD_SIZE",
    "RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "PL_GLOBAL_SEED",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_PROCID",
    "TORCHELASTIC_RUN_ID",
)


def cli_env() -> dict[str, str]:
    drop = (*_LAUNCHER_VARIABLES, "LANDMARKS_DATA_DIR")
    return {k: v for k, v in os.environ.items() if k not in drop}


def cli_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "scripts" / "train.py"), *args]


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


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``scripts/train.py`` with ``args``, as a user runs it, in a clean environment."""
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, cwd=cwd, env=cli_env(), timeout=600
    )


# --- Transformer decoding (papers/transformer): the search written out by full recomputation ---

BOS, EOS = 1, 2


def argmax_decode(model: torch.nn.Module, source: torch.Tensor, limit: int) -> list[int]:
    """Greedy decoding written out: recompute everything, take the argmax, stop at EOS."""
    output = [BOS]
    with torch.no_grad():
        for _ in range(limit):
            token = int(model(source, torch.tensor([output]))[0, -1].argmax())
            output.append(token)
            if token == EOS:
                break
    return [t for t in output[1:] if t != EOS]


def sequence_score(model: torch.nn.Module, source, hypothesis: list[int], alpha: float) -> float:
    """log P(hypothesis | source) / lp(hypothesis) by teacher forcing."""
    from papers.transformer.decoding import length_penalty

    with torch.no_grad():
        logits = model(source, torch.tensor([[BOS, *hypothesis[:-1]]]))[0].log_softmax(-1)
    log_p = sum(logits[t, token].item() for t, token in enumerate(hypothesis))
    return log_p / length_penalty(len(hypothesis), alpha)


def lora_twins(ours: torch.nn.Module, theirs: torch.nn.Module) -> list[tuple[Any, Any]]:
    """Each of our LoRA layers beside PEFT's LoRA layer of the same name in ``theirs``
    (a ``PeftModel``)."""
    from papers.lora.lora import lora_layers

    inner = theirs.base_model.model
    return [(layer, inner.get_submodule(name)) for name, layer in lora_layers(ours)]


def copy_lora_into_peft(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    """Our A and B copied into PEFT's ``lora_A`` / ``lora_B`` so both models compute the same."""
    with torch.no_grad():
        for layer, peft_layer in lora_twins(ours, theirs):
            peft_layer.lora_A["default"].weight.copy_(layer.A)
            peft_layer.lora_B["default"].weight.copy_(layer.B)


def assert_same_lora_gradients(
    ours: torch.nn.Module, theirs: torch.nn.Module, rtol: float = 1e-5
) -> None:
    for layer, peft_layer in lora_twins(ours, theirs):
        for mine, peft_weight in (
            (layer.A, peft_layer.lora_A["default"].weight),
            (layer.B, peft_layer.lora_B["default"].weight),
        ):
            torch.testing.assert_close(mine.grad, peft_weight.grad, atol=1e-6, rtol=rtol)
