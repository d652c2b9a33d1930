"""Speed of our Lightning training of the GAN against a plain PyTorch loop (for
``scripts/bench.py``).

Both train the same networks (``model.py``'s Generator and maxout Discriminator, the paper's
MNIST sizes or the quick preset's) with the authors' simultaneous updates (both players'
gradients from one forward pass, k = 1; papers/gan/game.py) and SGD with momentum, on the same
batches of random 28x28 (or 8x8) uint8 images. The plain loop is the algorithm and nothing else;
the Lightning run adds what ``GANModule`` does per iteration: manual optimisation, the
configuration's lr and momentum schedule, G's gradient norm and the logging calls. The two
run in turn, epoch by epoch, so that a busy spell of the machine slows both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from common.timing import interleaved_times, ratio_to
from papers.gan.model import discriminator_loss, generator_loss
from papers.gan.module import GANModule

# The two sizes of the presets (configs/model/gan.yaml, configs/recipe/gan/quick.yaml).
SIZES = {
    "paper": {"image_size": 28, "hidden_dims": [1200, 1200], "num_units": [240, 240]},
    "quick": {"image_size": 8, "hidden_dims": [512, 512], "num_units": [64, 64]},
}


class EpochTimer(L.Callback):
    """Wall-clock seconds of each training epoch."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def gan_module(size: str) -> GANModule:
    s = SIZES[size]
    torch.manual_seed(0)
    return GANModule(
        channels=1,
        image_size=s["image_size"],
        generator={"hidden_dims": s["hidden_dims"]},
        discriminator={"num_units": s["num_units"]},
        init_output_bias_from_marginals=False,
    )


def plain_epoch(module: GANModule, loader: DataLoader) -> Callable[[], None]:
    """One epoch of a hand-written loop of the authors' simultaneous updates over ``loader`` on
    the module's own networks, with SGD and momentum, per call."""
    g, d = module.generator, module.discriminator
    optimizer_d = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.5)
    optimizer_g = torch.optim.SGD(g.parameters(), lr=0.1, momentum=0.5)

    def epoch() -> None:
        for (images,) in loader:
            real = images.flatten(1).float() / 255
            fake = g.sample(len(real))
            seen = fake.detach().requires_grad_()
            real_logits, fake_logits = d(real), d(seen)
            optimizer_d.zero_grad()
            optimizer_g.zero_grad()
            (towards_fake,) = torch.autograd.grad(
                generator_loss(fake_logits), seen, retain_graph=True
            )
            discriminator_loss(real_logits, fake_logits).backward()
            fake.backward(towards_fake)
            optimizer_d.step()
            optimizer_g.step()

    return epoch


def lightning_epoch(module: GANModule, loader: DataLoader, timer: EpochTimer) -> Callable[[], None]:
    """One more epoch of ``GANModule`` under a Lightning Trainer per call (no validation,
    checkpoints or loggers); ``timer`` holds each epoch's seconds, without ``fit``'s set-up."""
    trainer = L.Trainer(
        max_epochs=0,
        accelerator="cpu",
        logger=False,
        callbacks=[timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )

    def epoch() -> None:
        trainer.fit_loop.max_epochs += 1
        trainer.fit(module, train_dataloaders=loader)

    return epoch


def gan_loop_timings(
    size: str = "paper", steps: int = 20, batch: int = 100, repeats: int = 5
) -> dict[str, float]:
    """Iterations per second (one update of each player) of the plain loop and of Lightning,
    epochs of ``steps`` batches of ``batch`` images run in turn, ``repeats`` trials after one
    warm-up epoch each (``common.timing.interleaved_times``); Lightning's time per iteration
    over the plain loop's, the median of the per-trial ratios (above 1: Lightning is slower),
    and their lowest and highest."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(map(repr, SIZES))}; got {size!r}")
    side = SIZES[size]["image_size"]
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (steps * batch, 1, side, side), generator=generator)
    loader = DataLoader(TensorDataset(images.to(torch.uint8)), batch_size=batch)
    timer = EpochTimer()
    times = interleaved_times(
        {
            "plain": plain_epoch(gan_module(size), loader),
            "lightning": lightning_epoch(gan_module(size), loader, timer),
        },
        repeats,
    )
    times["lightning"] = timer.seconds[1:]  # the epochs themselves, after the warm-up
    ratio = ratio_to(times, "lightning", "plain")
    plain, lightning = (statistics.median(times[k]) / steps for k in ("plain", "lightning"))
    return {
        "plain_steps_per_s": 1 / plain,
        "lightning_steps_per_s": 1 / lightning,
        "lightning_to_plain_time": ratio["ratio"],
        "lightning_to_plain_low": ratio["ratio_low"],
        "lightning_to_plain_high": ratio["ratio_high"],
    }
