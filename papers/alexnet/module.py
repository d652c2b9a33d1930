"""The LightningModule: AlexNet trained as in Section 5 on the data of Section 4.1."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from common.checks import check_choice
from papers.alexnet import augment
from papers.alexnet.model import AlexNet, ConvLocalNet, FourLayerNet


class AlexNetModule(L.LightningModule):
    """Args (all plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    net: keyword arguments of :class:`AlexNet`.
    network: "alexnet"; "four_layer" for the CIFAR-10 net of Figure 1 (:class:`FourLayerNet`,
        built from ``four_layer``'s keyword arguments instead of ``net``); "conv_local" for
        Section 3.3's CIFAR-10 net (:class:`ConvLocalNet`, from ``conv_local``'s).
    image_size, channels: of the images the DataModule serves (256 and 3 in the paper).
    crop: side of the training / test crops (224 in the paper).
    flip, translate, pca_colour, pca_std, ten_crop, subtract_mean: the Section 4.1 switches
        (``translate=False`` trains on the centre crop).
    input_scale: the network sees pixel values times this, minus the mean image: 255 as
        cuda-convnet fed them (0-255), the scale at which the paper's LRN constants (k = 2,
        alpha = 1e-4) and N(0, 0.01) initialisation act; 1 gives [0, 1], where LRN is in effect a
        constant factor 2^-0.75.
    lr, momentum, weight_decay: Section 5's SGD (0.01, 0.9, 0.0005).
    layer_weight_decay: the weight decay of named layers' weights (the network's
        ``named_layers()``), where it differs from ``weight_decay``, as cuda-convnet's layer
        files set ``wc`` per layer.
    bias_lr_factor, bias_decay: the biases' rate is ``bias_lr_factor`` times the weights', with
        weight decay or without: 2 and false as the authors' cuda-convnet layer files train them
        (epsB = 2 epsW, no wc), which the paper preset follows since Section 5 states its rule
        for the weights only; 1 and true (the weights' rule for every parameter) by default.
    lr_factor, lr_patience: divide the learning rate by 10 when the validation error stops
        improving (Section 5; the paper gives no patience, it judged by eye); ``lr_factor=None``
        keeps the rate constant (Figure 1).
    target_train_error: Figure 1's measure: the epochs (and steps) until the training error of an
        epoch first reaches this (0.25 in the paper), logged as ``train/epochs_to_target`` (the
        epochs run so far while it has not) and ``train/target_reached``; ``stop_at_target`` ends
        training there.
    clean_train_images: at test time, also the error on this many training images seen as test
        images (no augmentation, no dropout), and the gap ``test/error - test/train_error``: the
        overfitting of Sections 3.4, 4.1 and 4.2.
    """

    def __init__(
        self,
        net: dict[str, Any],
        image_size: int,
        channels: int,
        crop: int,
        flip: bool = True,
        translate: bool = True,
        pca_colour: bool = True,
        pca_std: float = 0.1,
        ten_crop: bool = True,
        subtract_mean: bool = True,
        input_scale: float = 255.0,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        layer_weight_decay: dict[str, float] | None = None,
        bias_lr_factor: float = 1.0,
        bias_decay: bool = True,
        lr_factor: float | None = 0.1,
        lr_patience: int = 5,
        network: str = "alexnet",
        four_layer: dict[str, Any] | None = None,
        conv_local: dict[str, Any] | None = None,
        target_train_error: float | None = None,
        stop_at_target: bool = False,
        clean_train_images: int = 0,
    ) -> None:
        super().__init__()
        if crop > image_size:
            raise ValueError(f"crop={crop} is larger than the images ({image_size})")
        self.save_hyperparameters(logger=False)  # the run config already holds them
        check_choice("network", network, NETWORKS)
        kwargs = {"alexnet": net, "four_layer": four_layer, "conv_local": conv_local}[network]
        self.net = NETWORKS[network](in_channels=channels, input_size=crop, **(kwargs or {}))
        layers = dict(self.net.named_layers())
        unknown = set(layer_weight_decay or {}) - set(layers)
        if unknown:
            raise ValueError(
                f"layer_weight_decay names {sorted(unknown)}; the {network} net's layers are "
                + ", ".join(layers)
            )
        # Training-set statistics, filled in once by setup() and kept in every checkpoint.
        self.register_buffer("mean_image", torch.zeros(channels, image_size, image_size))
        self.register_buffer("eigenvalues", torch.zeros(3))
        self.register_buffer("eigenvectors", torch.zeros(3, 3))
        self.register_buffer("statistics_ready", torch.tensor(False))
        num_classes = (kwargs or {}).get("num_classes", 1000)
        self.register_buffer("epochs_to_target", torch.tensor(-1))  # -1: not reached yet
        self.register_buffer("steps_to_target", torch.tensor(-1))
        # Error rates, the paper's metrics (Tables 1 and 2): 1 - top-k accuracy, per split.
        self.errors = torch.nn.ModuleDict(
            {
                f"{split}_{name}": 1 - MulticlassAccuracy(num_classes, top_k=k, average="micro")
                for split in ("train", "val", "test")
                for name, k in (("error", 1), ("top5_error", min(5, num_classes)))
            }
        )

    def setup(self, stage: str) -> None:
        if bool(self.statistics_ready) or self.trainer.datamodule is None:
            return
        images = self.trainer.datamodule.train_images()
        self.mean_image.copy_(augment.mean_image(images))
        if self.hparams.channels == 3:
            eigenvalues, eigenvectors = augment.pixel_pca(images)
            self.eigenvalues.copy_(eigenvalues)
            self.eigenvectors.copy_(eigenvectors)
        self.statistics_ready.fill_(True)

    def centred(self, images: torch.Tensor) -> torch.Tensor:
        """The network's input: pixel values times ``input_scale`` (255: cuda-convnet's 0-255),
        minus the mean image at that scale."""
        scale = self.hparams.input_scale
        x = augment.to_unit(images) * scale
        return x - self.mean_image * scale if self.hparams.subtract_mean else x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities of uint8 images, averaged over the test views (Section 4.1)."""
        hp = self.hparams
        views = augment.test_views(self.centred(images), hp.crop, hp.ten_crop)
        n, v = views.shape[:2]
        logits = self.net(views.flatten(0, 1))
        return logits.softmax(-1).view(n, v, -1).mean(1)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, labels = batch
        hp = self.hparams
        x = augment.random_crop_flip(self.centred(images), hp.crop, hp.flip, hp.translate)
        if hp.pca_colour and hp.channels == 3:
            # the statistics are of pixels in [0, 1]: the shift is scaled with the input
            eigenvalues = self.eigenvalues * hp.input_scale
            x = augment.pca_colour(x, eigenvalues, self.eigenvectors, hp.pca_std)
        logits = self.net(x)
        loss = F.cross_entropy(logits, labels)
        self.log_errors("train", logits, labels, loss)
        return loss

    def evaluate(self, split: str, batch) -> None:
        images, labels = batch
        probabilities = self(images)
        loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), labels)
        self.log_errors(split, probabilities, labels, loss)

    def validation_step(self, batch, batch_idx: int) -> None:
        self.evaluate("val", batch)

    def test_step(self, batch, batch_idx: int) -> None:
        self.evaluate("test", batch)

    def log_errors(self, split: str, scores, labels, loss) -> None:
        on_step = split == "train"
        self.log(f"{split}/loss", loss, on_step=on_step, on_epoch=True, sync_dist=True)
        for name in ("error", "top5_error"):
            metric = self.errors[f"{split}_{name}"]
            metric.update(scores, labels)
            self.log(f"{split}/{name}", metric, on_step=False, on_epoch=True)

    def on_train_epoch_end(self) -> None:
        """Figure 1: has this epoch's training error reached the target?"""
        hp = self.hparams
        if hp.target_train_error is None:
            return
        epochs = self.current_epoch + 1
        if (
            self.epochs_to_target < 0
            and self.errors["train_error"].compute() <= hp.target_train_error
        ):
            self.epochs_to_target.fill_(epochs)
            self.steps_to_target.fill_(self.global_step)
            self.trainer.should_stop = self.trainer.should_stop or hp.stop_at_target
        reached = bool(self.epochs_to_target > 0)
        self.log("train/target_reached", float(reached))
        self.log("train/epochs_to_target", float(self.epochs_to_target if reached else epochs))
        self.log(
            "train/steps_to_target", float(self.steps_to_target if reached else self.global_step)
        )

    def on_test_epoch_end(self) -> None:
        """Sections 3.4, 4.1, 4.2: the error on training images seen as test images, and the gap."""
        n = self.hparams.clean_train_images
        if not n:
            return
        images, labels = self.trainer.datamodule.train_sample(n)
        wrong = sum(
            (self(x.to(self.device)).argmax(-1).cpu() != y).sum().item()
            for x, y in zip(images.split(256), labels.split(256), strict=True)
        )
        train_error = wrong / len(labels)
        self.log("test/train_error", train_error)
        self.log("test/gap", self.errors["test_error"].compute() - train_error)

    def configure_optimizers(self):
        hp = self.hparams
        layers = dict(self.net.named_layers())
        decay = {id(layers[n].weight): d for n, d in (hp.layer_weight_decay or {}).items()}
        by_decay: dict[float, list[torch.nn.Parameter]] = {}
        for name, p in self.named_parameters():
            if not name.endswith("bias"):
                by_decay.setdefault(decay.get(id(p), hp.weight_decay), []).append(p)
        biases = [p for n, p in self.named_parameters() if n.endswith("bias")]
        groups = [
            *({"params": params, "weight_decay": d} for d, params in by_decay.items()),
            {
                "params": biases,
                "lr": hp.lr * hp.bias_lr_factor,
                "weight_decay": hp.weight_decay if hp.bias_decay else 0.0,
            },
        ]
        optimizer = torch.optim.SGD(
            groups, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
        if hp.lr_factor is None:  # a constant rate (Figure 1)
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=hp.lr_factor, patience=hp.lr_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val/error", "interval": "epoch"},
        }


NETWORKS = {"alexnet": AlexNet, "four_layer": FourLayerNet, "conv_local": ConvLocalNet}
