"""The LightningModule: Section 6's training of a deep belief net on digit images, its
classification test and the label-clamped samples of Figure 8.

Epochs are laid out as the paper's stages (manual optimisation; no autograd):

    [0, L * greedy_epochs)        greedy CD-1, RBM ``epoch // greedy_epochs`` (Sections 4 and 6)
    [L * greedy_epochs, ...)      up-down (Section 5, Appendix B): CD-3, 6 and 10 in the top RBM
                                  over the thirds of ``up_down_epochs`` (Section 6), CD-10 after
                                  that (the paper's final epochs on all 60,000 images)

where L is the number of RBMs. The weights are untied at the first up-down epoch.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor
from torchmetrics import MeanMetric

from common.rbm import CountedUpdate, Increments, check_hand_update_setup
from papers.dbn.judge import agreement, fit_judge, judge_labels
from papers.dbn.model import UP_DOWN_CD_STEPS, DeepBeliefNet, cd_steps_for_epoch


class DBNModule(L.LightningModule):
    """Args (plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    sizes: layer sizes (vis, hid, ..., pen, top): 784-500-500-2000 in Section 6.
    n_labels: label units joined to the top RBM (10).
    weight_std: initial weights N(0, weight_std^2) (rbm.m).
    greedy_epochs: CD epochs per RBM (30 in Section 6).
    greedy_learning_rate, greedy_weight_cost: rbm.m's epsilon (0.1) and weight cost (0.0002).
    greedy_momentum, greedy_initial_momentum, greedy_momentum_switch: rbm.m's momentum, 0.5 for
        each RBM's first 5 epochs and 0.9 after.
    up_down_epochs: up-down epochs on the 44,000 images (300 in Section 6): sets the CD schedule.
    up_down_learning_rate, up_down_momentum, up_down_weight_cost: chosen on validation in the
        paper and not given (Section 6); ours were chosen the same way on the quick preset.
    generation_gibbs_steps: Gibbs iterations with the label clamped before the down-pass (1000 in
        Figure 8); samples_per_label: samples per row of the figure; sample_seed: their seed.
    judge_examples: real training images (the training and validation splits, before
        ``data.per_class`` keeps some: all 60,000 on MNIST) the independent judge of the samples
        (papers/dbn/judge.py) learns from at test time; 0: no judge.
    """

    def __init__(
        self,
        sizes: list[int],
        n_labels: int = 10,
        weight_std: float = 0.1,
        greedy_epochs: int = 30,
        greedy_learning_rate: float = 0.1,
        greedy_weight_cost: float = 2e-4,
        greedy_momentum: float = 0.9,
        greedy_initial_momentum: float = 0.5,
        greedy_momentum_switch: int = 5,
        up_down_epochs: int = 300,
        up_down_learning_rate: float = 0.01,
        up_down_momentum: float = 0.9,
        up_down_weight_cost: float = 2e-4,
        generation_gibbs_steps: int = 1000,
        samples_per_label: int = 10,
        sample_seed: int = 0,
        judge_examples: int = 60_000,
    ) -> None:
        super().__init__()
        if greedy_epochs < 1 or up_down_epochs < 3:
            raise ValueError(
                f"greedy_epochs must be >= 1 and up_down_epochs >= 3 (one third per CD-k); got "
                f"{greedy_epochs} and {up_down_epochs}"
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.net = DeepBeliefNet(sizes, n_labels, weight_std)
        # rbm.m's momentum increments: one set per greedily trained RBM, one for up-down.
        self.greedy_increments = torch.nn.ModuleList([Increments(rbm) for rbm in self.net.rbms])
        self.up_down_increments = Increments(self.net)
        # The top RBM as the greedy stage left it (copied at untying; the RBMs below it are
        # not changed by up-down), so a test can report the error after greedy training too.
        self.greedy_top = copy.deepcopy(self.net.top).requires_grad_(False)
        self.judge = None  # fitted at test time
        self.sample_agreement: float | None = None
        self.judge_accuracy = MeanMetric()  # on the real test images
        # Training averages, logged once per epoch (a self.log per step costs more than a step).
        self.train_means = torch.nn.ModuleDict(
            {name: MeanMetric() for name in ("reconstruction_error", "error")}
        )

    # ----- the stages ----------------------------------------------------------------------
    @property
    def greedy_stage_epochs(self) -> int:
        return self.net.n_layers * self.hparams.greedy_epochs

    def greedy_layer(self, epoch: int) -> int | None:
        """The RBM trained greedily in ``epoch``; None once the up-down stage has begun."""
        return epoch // self.hparams.greedy_epochs if epoch < self.greedy_stage_epochs else None

    def greedy_momentum(self, epoch: int) -> float:
        hp = self.hparams
        within_layer = epoch % hp.greedy_epochs
        if within_layer < hp.greedy_momentum_switch:
            return hp.greedy_initial_momentum
        return hp.greedy_momentum

    def cd_steps(self, epoch: int) -> int:
        """Gibbs iterations in the top RBM in up-down epoch ``epoch`` (counted from the start)."""
        up_down_epoch = epoch - self.greedy_stage_epochs
        if up_down_epoch < 0:
            raise ValueError(f"epoch {epoch} is in the greedy stage")
        if up_down_epoch >= self.hparams.up_down_epochs:
            return UP_DOWN_CD_STEPS[-1]
        return cd_steps_for_epoch(up_down_epoch, self.hparams.up_down_epochs)

    # ----- Lightning hooks -------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        check_hand_update_setup(self.trainer, self.hparams.sizes[0], "model.sizes[0]")

    def configure_optimizers(self) -> CountedUpdate:
        return CountedUpdate(self.parameters())

    def on_train_epoch_start(self) -> None:
        if self.greedy_layer(self.current_epoch) is None and not self.net.untied:
            self.greedy_top.load_state_dict(self.net.top.state_dict())
            self.net.untie()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch
        x = pixels(images)
        epoch = self.current_epoch
        layer = self.greedy_layer(epoch)
        optimizer = self.optimizers()
        if layer is None:
            loss = optimizer.step(closure=lambda: self.up_down_update(x, labels, epoch))
        else:
            loss = optimizer.step(closure=lambda: self.greedy_update(layer, x, labels, epoch))
        self.train_means["reconstruction_error"].update(loss)
        self.train_means["error"].update(self.error(x, labels))
        return loss

    def on_train_epoch_end(self) -> None:
        epoch = self.current_epoch
        layer = self.greedy_layer(epoch)
        # The RBM trained greedily, or the number of RBMs (all of them) during up-down.
        stage = {"layer": self.net.n_layers if layer is None else layer}
        if layer is None:
            stage["cd_steps"] = self.cd_steps(epoch)
        means = {name: mean.compute() for name, mean in self.train_means.items()}
        self.log_dict({f"train/{k}": float(v) for k, v in {**means, **stage}.items()})
        for mean in self.train_means.values():
            mean.reset()

    def greedy_update(self, layer: int, x: Tensor, labels: Tensor, epoch: int) -> Tensor:
        """One CD-1 update of RBM ``layer``; its reconstruction error (rbm.m's monitor)."""
        hp = self.hparams
        metrics = self.net.greedy_step(
            layer,
            x,
            labels,
            self.greedy_increments[layer],
            hp.greedy_learning_rate,
            self.greedy_momentum(epoch),
            hp.greedy_weight_cost,
        )
        return metrics["reconstruction_error"]

    def up_down_update(self, x: Tensor, labels: Tensor, epoch: int) -> Tensor:
        """One up-down update; the squared error of the data reconstructed by the new
        generative weights from the wake phase's hid states."""
        hp = self.hparams
        result = self.net.up_down_step(
            x,
            labels,
            self.cd_steps(epoch),
            self.up_down_increments,
            hp.up_down_learning_rate,
            hp.up_down_momentum,
            hp.up_down_weight_cost,
        )
        with torch.no_grad():
            reconstruction = self.net.generative[0](result.wake_states[1])
            return ((x - reconstruction) ** 2).sum(-1).mean()

    # ----- classification (Section 6) ------------------------------------------------------
    def penultimate(self, x: Tensor) -> Tensor:
        """pen-layer probabilities from a deterministic up-pass: through the recognition
        weights once untied, through the RBMs' own weights during the greedy stage."""
        if self.net.untied:
            return self.net.up_pass(x)
        return self.net.greedy_input(self.net.n_layers - 1, x)

    def label_log_probabilities(self, x: Tensor) -> Tensor:
        """log p(label | pen): log softmax of minus the exact free energy of each label."""
        with torch.no_grad():
            return self.net.top.label_log_probabilities(self.penultimate(x))

    def error(self, x: Tensor, labels: Tensor) -> Tensor:
        return (self.label_log_probabilities(x).argmax(-1) != labels).float().mean()

    def greedy_error(self, x: Tensor, labels: Tensor) -> Tensor:
        """Per-image errors of the net as the greedy stage left it (Section 6: 2.49 %): the
        up-pass through the RBMs' own weights and the top RBM copied at untying."""
        if not self.net.untied:
            return (self.label_log_probabilities(x).argmax(-1) != labels).float()
        with torch.no_grad():
            pen = self.net.greedy_input(self.net.n_layers - 1, x)
            return (self.greedy_top.label_log_probabilities(pen).argmax(-1) != labels).float()

    def evaluate(self, split: str, batch: tuple[Tensor, Tensor]) -> Tensor:
        """Logs the split's error and NLL; returns the per-image errors."""
        images, labels = batch
        log_p = self.label_log_probabilities(pixels(images))
        errors = (log_p.argmax(-1) != labels).float()
        nll = -log_p.gather(1, labels[:, None]).mean()
        self.log(f"{split}/error", errors.mean(), on_epoch=True)
        self.log(f"{split}/nll", nll, on_epoch=True)
        return errors

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.evaluate("val", batch)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        """Also the error after the greedy stage alone and how much up-down lowered it, and
        the judge's own error on the real test images (how far to trust its agreement)."""
        errors = self.evaluate("test", batch)
        images, labels = batch
        greedy = self.greedy_error(pixels(images), labels)
        self.log("test/greedy_error", greedy.mean(), on_epoch=True)
        self.log("test/up_down_gain", (greedy - errors).mean(), on_epoch=True)
        if self.judge is not None:
            judged = judge_labels(self.judge, pixels(images)).to(labels.device)
            self.judge_accuracy.update((judged == labels).float())

    # ----- the samples judged (Figure 8) ---------------------------------------------------
    def on_test_start(self) -> None:
        """Fit the judge on real training images (all of them, not only those the DBN learnt
        from), then judge the label-clamped samples."""
        if not self.hparams.judge_examples:
            return
        images, labels = self.trainer.datamodule.splits["all"].tensors
        self.judge = fit_judge(pixels(images), labels, self.hparams.judge_examples)
        samples = self.samples()
        clamped = torch.arange(self.hparams.n_labels).repeat_interleave(samples.shape[1])
        self.sample_agreement = agreement(self.judge, samples.flatten(0, 1), clamped)

    def on_test_epoch_end(self) -> None:
        """The judge's agreement with the clamped labels, its error on real test digits, and
        the agreement relative to its accuracy on real digits (1: the samples are as
        recognisable to it as real test digits)."""
        if self.sample_agreement is None:
            return
        accuracy = float(self.judge_accuracy.compute())
        self.judge_accuracy.reset()
        self.log_dict(
            {
                "test/sample_agreement": self.sample_agreement,
                "test/judge_error": 1 - accuracy,
                "test/sample_agreement_vs_real": self.sample_agreement / accuracy,
            }
        )

    # ----- generation (Figure 8) -----------------------------------------------------------
    def on_train_end(self) -> None:
        if self.trainer.is_global_zero:
            self.save_samples(Path(self.trainer.default_root_dir) / "figure8_samples.png")

    def samples(self) -> Tensor:
        """Figure 8: ``samples_per_label`` images of each label, one row per label, from the
        current weights (a tied copy is untied first if up-down has not started)."""
        hp = self.hparams
        net = self.net if self.net.untied else untied_copy(self.net)
        labels = torch.arange(hp.n_labels, device=self.device).repeat_interleave(
            hp.samples_per_label
        )
        generator = torch.Generator(device=self.device).manual_seed(hp.sample_seed)
        images = net.generate(labels, hp.generation_gibbs_steps, generator=generator)
        return images.view(hp.n_labels, hp.samples_per_label, -1)

    def save_samples(self, path: Path) -> None:
        grid = self.samples().cpu()
        plot_grid(grid, path, f"{self.hparams.generation_gibbs_steps} Gibbs steps, label clamped")
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("samples/figure8", [str(path)], step=self.global_step)


def pixels(images: Tensor) -> Tensor:
    """uint8 images (N, C, H, W) as rows of pixel intensities in [0, 1], used as probabilities."""
    return images.flatten(1).float() / 255


def untied_copy(net: DeepBeliefNet) -> DeepBeliefNet:
    twin = copy.deepcopy(net)
    twin.untie()
    return twin


def plot_grid(grid: Tensor, path: Path, title: str) -> None:
    """A (rows, columns, pixels) tensor of square images as a PNG, one row per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns, n_pixels = grid.shape
    side = math.isqrt(n_pixels)
    padded = F.pad(grid.view(rows, columns, side, side), (1, 1, 1, 1), value=0.5)
    side += 2
    tiles = padded.permute(0, 2, 1, 3).reshape(rows * side, columns * side)
    figure, axes = plt.subplots(figsize=(columns * 0.6 + 0.6, rows * 0.6 + 0.4))
    axes.imshow(tiles.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes.set_yticks([side * (r + 0.5) - 0.5 for r in range(rows)], [str(r) for r in range(rows)])
    axes.set_xticks([])
    axes.set_ylabel("clamped label")
    axes.set_title(title, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
