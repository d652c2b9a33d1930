"""The LightningModule: Algorithm 1 of Goodfellow et al. (2014) with the authors' MNIST recipe,
the Parzen-window evaluation of Table 1 and the samples of Figure 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor

from common.checks import check_choice
from papers.gan.conv import ConvDiscriminator, DeconvGenerator
from papers.gan.figures import plot_sample_grid
from papers.gan.game import AdversarialGame
from papers.gan.model import Discriminator, Generator
from papers.gan.parzen import parzen_evaluation, select_sigma
from papers.gan.schedule import Schedule

PREPROCESSING = ("unit", "gcn")
NETWORKS = ("fully_connected", "convolutional")


def global_contrast_normalize(x: Tensor, scale: float = 55.0, min_divisor: float = 1e-8) -> Tensor:
    """Pylearn2's ``global_contrast_normalize(X, scale)``: each row minus its mean, divided by its
    Euclidean norm over ``scale`` (the CIFAR-10 configuration's ``gcn: 55.``)."""
    x = x - x.mean(1, keepdim=True)
    norm = x.norm(dim=1, keepdim=True) / scale
    return x / torch.where(norm < min_divisor, torch.ones_like(norm), norm)


class GANModule(AdversarialGame):
    """Args (plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    channels, image_size: shape of the images the DataModule serves (1 and 28 for MNIST).
    generator, discriminator: keyword arguments of :class:`Generator` and :class:`Discriminator`
        (their ``data_dim`` is channels * image_size**2), or with ``network="convolutional"``
        of ``conv.py``'s :class:`DeconvGenerator` and :class:`ConvDiscriminator` (Figure 2d).
    k: discriminator steps per generator step (Algorithm 1; k = 1 in the paper).
    generator_objective: "non_saturating" (maximise log D(G(z)), Section 3, the authors' code)
        or "minimax" (minimise log(1 - D(G(z))), Eq. 1 as written).
    updates: "simultaneous" (the authors' code, which made Table 1: both players' gradients from
        one forward pass; papers/gan/game.py) or "alternating" (Algorithm 1 as printed: D's
        step, then G's through the updated D; with the MNIST recipe G collapses, README).
    init_output_bias_from_marginals: start G's sigmoid output at the training pixel means.
    preprocess: "unit" (pixels / 255, MNIST and TFD) or "gcn" (global contrast normalisation
        with ``gcn_scale``, CIFAR-10).
    schedule: keyword arguments of :class:`Schedule` (lr 0.1 decaying per update, momentum 0.5
        rising to 0.7 per epoch).
    parzen: ``num_samples`` generated samples, ``num_valid`` validation images to choose sigma
        on, ``batch_size`` for the distances, ``metric``: the name of the logged number.
    figure: ``rows`` and ``cols`` of samples in Figure 2 (plus the nearest-neighbour column).
    eval_seed: seed of the noise behind every evaluation and figure (the same z each time).
    early_threshold, early_iterations: the test logs ``test/early_grad_norm_g``, the mean norm
        of G's gradient over ``early_iterations`` iterations from the first one where the mean
        D(G(z)) is at most ``early_threshold`` (Section 3: does G's gradient vanish once D wins?
        1 starts at G's first step), and ``test/early_window_start``, that iteration.
    network: "fully_connected" (MNIST, TFD, CIFAR-10 Fig. 2c) or "convolutional"
        (CIFAR-10 Fig. 2d).
    """

    def __init__(
        self,
        channels: int,
        image_size: int,
        generator: dict[str, Any],
        discriminator: dict[str, Any],
        k: int = 1,
        generator_objective: str = "non_saturating",
        updates: str = "simultaneous",
        init_output_bias_from_marginals: bool = True,
        preprocess: str = "unit",
        gcn_scale: float = 55.0,
        schedule: dict[str, Any] | None = None,
        parzen: dict[str, Any] | None = None,
        figure: dict[str, Any] | None = None,
        eval_seed: int = 0,
        early_threshold: float = 1.0,
        early_iterations: int = 100,
        network: str = "fully_connected",
    ) -> None:
        super().__init__()
        if preprocess not in PREPROCESSING:
            raise ValueError(f"preprocess must be one of {PREPROCESSING}; got {preprocess!r}")
        check_choice("network", network, NETWORKS)
        if network == "convolutional" and init_output_bias_from_marginals:
            raise ValueError(
                "the convolutional G has a linear output: set init_output_bias_from_marginals=false"
            )
        self.save_hyperparameters()
        self.start_game()
        if network == "convolutional":
            self.generator = DeconvGenerator(self.image_shape, **generator)
            self.discriminator = ConvDiscriminator(self.image_shape, **discriminator)
        else:
            data_dim = channels * image_size**2
            self.generator = Generator(data_dim=data_dim, **generator)
            self.discriminator = Discriminator(data_dim=data_dim, **discriminator)
        self.schedule = Schedule(**(schedule or {}))
        self.parzen = {
            "num_samples": 10_000,
            "num_valid": 1_000,
            "batch_size": 1_000,
            "metric": "parzen_ll",
            **(parzen or {}),
        }
        self.figure = {"rows": 4, "cols": 5, **(figure or {})}
        self.register_buffer("output_bias_ready", torch.tensor(False))
        self.evaluation_images: list[Tensor] = []

    # ------------------------------------------------------------------ data

    @property
    def image_shape(self) -> tuple[int, int, int]:
        hp = self.hparams
        return hp.channels, hp.image_size, hp.image_size

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8 images (N, C, H, W) -> the model's space, flattened (N, C*H*W)."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"the data serves images of shape {tuple(images.shape[1:])}; the model expects "
                f"{self.image_shape} (set model.channels and model.image_size)"
            )
        x = images.flatten(1).float()
        if self.hparams.preprocess == "gcn":
            return global_contrast_normalize(x, self.hparams.gcn_scale)
        return x / 255

    def for_display(self, x: Tensor) -> Tensor:
        """Flattened model-space images -> (N, H*W*C) in [0, 1], as the figures draw them.

        GCN images are divided by their largest absolute value and mapped from [-1, 1]
        (pylearn2's ``adjust_for_viewer``)."""
        if self.hparams.preprocess == "gcn":
            x = (x / x.abs().amax(1, keepdim=True).clamp_min(1e-8) + 1) / 2
        return x.view(-1, *self.image_shape).permute(0, 2, 3, 1).flatten(1)

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        if datamodule is None or bool(self.output_bias_ready):
            return
        if self.hparams.init_output_bias_from_marginals:
            self.generator.init_output_bias_from_marginals_(
                self.preprocess(datamodule.train_images())
            )
        self.output_bias_ready.fill_(True)

    # ------------------------------------------------------------------ Algorithm 1

    def before_update(self, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """The configuration's schedules: lr of update t (t = iterations so far, so D's and G's
        updates of one iteration share it) and momentum of the epoch."""
        lr, momentum = self.schedule.apply(optimizer, int(self.iterations), self.current_epoch)
        return {"lr": lr, "momentum": momentum}

    def configure_optimizers(self):
        s = self.schedule
        return [
            torch.optim.SGD(net.parameters(), lr=s.base_lr, momentum=s.init_momentum)
            for net in (self.discriminator, self.generator)
        ]

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """n samples of G from the fixed evaluation noise (the same each call)."""
        generator = torch.Generator(device=self.device).manual_seed(self.hparams.eval_seed)
        z = self.generator.sample_noise(n, generator)
        return torch.cat([self.generator(chunk) for chunk in z.split(self.parzen["batch_size"])])

    def gathered(self, images: list[Tensor]) -> Tensor:
        """Preprocessed ``images`` of every process in the split's order: process r of W holds
        positions r, r + W, ... (common.data.SplitDataModule), so the (W, n) stack is transposed."""
        x = self.all_gather(torch.cat(images))
        return x.transpose(0, 1).flatten(0, 1) if x.ndim == 3 else x

    def validation_step(self, batch, batch_idx: int) -> None:
        self.evaluation_images.append(self.preprocess(batch[0]))

    def on_validation_epoch_end(self) -> None:
        """val/parzen_ll: the mean log-likelihood of the first num_valid validation images under
        the Parzen window on num_samples samples, at the best sigma of the grid."""
        valid = self.gathered(self.evaluation_images)[: self.parzen["num_valid"]]
        self.evaluation_images = []
        sigma, means = select_sigma(
            self.samples(self.parzen["num_samples"]), valid, batch_size=self.parzen["batch_size"]
        )
        self.log("val/parzen_ll", means.max().float())
        self.log("val/parzen_sigma", sigma)

    def test_step(self, batch, batch_idx: int) -> None:
        self.evaluation_images.append(self.preprocess(batch[0]))

    def validation_images(self) -> Tensor:
        """The first num_valid validation images (parzen_ll.py's ``--limit_size``)."""
        images = [
            self.preprocess(x.to(self.device)) for x, _ in self.trainer.datamodule.val_dataloader()
        ]
        return self.gathered(images)[: self.parzen["num_valid"]]

    def on_test_epoch_end(self) -> None:
        """Table 1's protocol: sigma on validation, mean and standard error on the test set."""
        # under DDP the split is padded with a few repeats at its end: keep its own images
        test = self.gathered(self.evaluation_images)[: len(self.trainer.datamodule.splits["test"])]
        self.evaluation_images = []
        result = parzen_evaluation(
            self.samples(self.parzen["num_samples"]),
            self.validation_images(),
            test,
            batch_size=self.parzen["batch_size"],
        )
        name = self.parzen["metric"]
        self.log(f"test/{name}", result.mean)
        self.log(f"test/{name}_se", result.standard_error)
        self.log(f"test/{name}_sigma", result.sigma)
        self.log_early_grad_norm()
        if self.trainer.is_global_zero:
            self.save_figure_2()

    def save_figure_2(self) -> Path:
        """Figure 2: samples with the nearest training example of the last column, as
        ``figure2.png`` in the run folder and, with a W&B logger, as the image ``figure2``."""
        rows, cols = self.figure["rows"], self.figure["cols"]
        train = self.preprocess(self.trainer.datamodule.train_images().to(self.device))
        c, h, w = self.image_shape
        path = Path(self.trainer.default_root_dir) / "figure2.png"
        plot_sample_grid(
            self.for_display(self.samples(rows * cols)),
            self.for_display(train),
            path,
            rows,
            cols,
            (h, w) if c == 1 else (h, w, c),
        )
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("figure2", [str(path)], step=self.global_step)
        return path
