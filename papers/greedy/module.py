"""The LightningModule: one row of Bengio et al. 2007's Table 2, a deep sigmoid network
initialised one of five ways and fine-tuned by supervised gradient descent with early stopping
on the validation error. With ``task="regression"`` (Table 1, Abalone) the output is linear and
every error is the mean squared error.

Epochs are laid out as the paper's stages (manual optimisation, plain SGD as in the Appendix):

    [0, H * pretrain_epochs)   greedy layer-wise pre-training of hidden layer
                               ``epoch // pretrain_epochs`` (H hidden layers; none for the
                               "none" and "shallow" rows)
    [H * pretrain_epochs, ...) supervised fine-tuning of the whole network, stopped when the
                               validation error has not improved for ``patience`` epochs
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric

from common.rbm import CountedUpdate, check_hand_update_setup
from papers.greedy.model import TASKS, hidden_sizes, make_network, make_pretrainer

# What each row's layer-wise pre-training minimises (or, for CD, monitors), per minibatch.
PRETRAINING_CRITERION = {
    "dbn": "reconstruction_error",
    "autoassociator": "reconstruction_cross_entropy",
    "supervised": "supervised_loss",
}


class GreedyModule(L.LightningModule):
    """Args (plain values, saved as hyperparameters so a checkpoint rebuilds the module):
    n_inputs, n_outputs: input pixels and classes (784 and 10 for MNIST); for regression, the
        number of inputs and of targets (1).
    task: "classification" (softmax output, error rate) or "regression" (linear output, mean
        squared error; Table 1's Abalone).
    init: the Table 2 row: "dbn", "autoassociator", "supervised", "none" or "shallow".
    table_2_column: Table 2's Experiment 2 (three hidden layers of ``width`` units) or 3 (the
        top one has 20 units);
        "shallow" keeps only the top hidden layer (``width`` or 20 units).
    depth: number of hidden layers (3 in Table 2, 2 in Table 1).
    width: hidden units per layer (500 to 1000, chosen on validation, in Experiment 2).
    input_type: "binary" or "gaussian" visible units of the first RBM (Table 1; "dbn" only).
    partially_supervised: train the first RBM with an added supervised gradient through a
        temporary output layer (Table 1 rows 4 and 6; "dbn" only).
    pretrain_epochs: pre-training epochs per hidden layer.
    pretrain_learning_rate: of CD-1, of the auto-associators or of greedy supervised training.
    supervised_pretrain_learning_rate: of the partially supervised gradient (None: the same).
    finetune_learning_rate: of the supervised fine-tuning.
    patience: stop fine-tuning after this many epochs without a lower validation error
        (None: never; the best-validation checkpoint is what is tested either way).
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int = 10,
        task: str = "classification",
        init: str = "dbn",
        table_2_column: int = 2,
        width: int = 500,
        depth: int = 3,
        input_type: str = "binary",
        partially_supervised: bool = False,
        pretrain_epochs: int = 10,
        pretrain_learning_rate: float = 0.05,
        supervised_pretrain_learning_rate: float | None = None,
        finetune_learning_rate: float = 0.1,
        patience: int | None = 20,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        hidden = hidden_sizes(table_2_column, width, depth)
        if init == "shallow":
            hidden = hidden[-1:]
        self.net = make_network(init, n_inputs, hidden, n_outputs, task)
        self.pretrainer = make_pretrainer(
            init, n_inputs, hidden, n_outputs, task, input_type, partially_supervised
        )
        self.n_pretrained_layers = len(hidden) if self.pretrainer is not None else 0
        # Stage and early-stopping state, kept in checkpoints so a resumed run goes on exactly.
        self.register_buffer("installed", torch.tensor(False))
        self.register_buffer("best_val_error", torch.tensor(math.inf))
        self.register_buffer("epochs_without_improvement", torch.tensor(0))
        # Averages over an epoch, logged once per epoch (a self.log per step costs more than
        # a step of these small networks).
        self.means = torch.nn.ModuleDict(
            {name: MeanMetric() for name in ("train_loss", "train_error", "val_error", "val_nll")}
        )

    # ----- the stages ----------------------------------------------------------------------
    @property
    def pretrain_stage_epochs(self) -> int:
        return self.n_pretrained_layers * self.hparams.pretrain_epochs

    def pretrain_layer(self, epoch: int) -> int | None:
        """The hidden layer pre-trained in ``epoch``; None once fine-tuning has begun."""
        if epoch < self.pretrain_stage_epochs:
            return epoch // self.hparams.pretrain_epochs
        return None

    # ----- Lightning hooks -------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        check_hand_update_setup(self.trainer, self.hparams.n_inputs, "model.n_inputs")

    def configure_optimizers(self) -> CountedUpdate:
        return CountedUpdate(self.parameters())

    def on_train_epoch_start(self) -> None:
        if self.pretrain_layer(self.current_epoch) is None and not self.installed:
            if self.pretrainer is not None:
                self.pretrainer.install(self.net)
            self.installed.fill_(True)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch
        x = inputs(images)
        layer = self.pretrain_layer(self.current_epoch)
        optimizer = self.optimizers()
        if layer is None:
            loss = optimizer.step(closure=lambda: self.finetune_update(x, labels))
            self.means["train_error"].update(self.net.error(x, labels))
        else:
            loss = optimizer.step(closure=lambda: self.pretrain_update(layer, x, labels))
        self.means["train_loss"].update(loss)
        return loss

    def pretrain_update(self, layer: int, x: Tensor, labels: Tensor) -> Tensor:
        """One step of the row's layer-wise criterion; returns that criterion (for "dbn", the
        RBM's reconstruction error)."""
        hp = self.hparams
        if hp.init == "dbn":
            metrics = self.pretrainer.step(
                layer, x, labels, hp.pretrain_learning_rate, hp.supervised_pretrain_learning_rate
            )
        else:
            metrics = self.pretrainer.step(layer, x, labels, hp.pretrain_learning_rate)
        return metrics[PRETRAINING_CRITERION[hp.init]]

    def finetune_update(self, x: Tensor, labels: Tensor) -> Tensor:
        """One plain gradient step on the negative log-likelihood of the labels (Appendix)."""
        parameters = list(self.net.parameters())
        loss = self.net.loss(x, labels)
        gradients = torch.autograd.grad(loss, parameters)
        with torch.no_grad():
            for parameter, gradient in zip(parameters, gradients, strict=True):
                parameter.sub_(self.hparams.finetune_learning_rate * gradient)
        return loss.detach()

    def on_train_epoch_end(self) -> None:
        layer = self.pretrain_layer(self.current_epoch)
        names = ["train_loss"] if layer is not None else ["train_loss", "train_error"]
        values = {f"train/{n.removeprefix('train_')}": self.means[n].compute() for n in names}
        # The layer pre-trained, or the number of hidden layers while the whole net fine-tunes.
        values["train/layer"] = torch.tensor(
            float(len(self.net.hidden) if layer is None else layer)
        )
        self.log_dict(values)
        for name in names:
            self.means[name].reset()

    # ----- evaluation --------------------------------------------------------------------------
    def evaluate(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Per-example errors and negative log-likelihoods; for regression both are the
        squared error (the Gaussian negative log-likelihood up to constants)."""
        images, targets = batch
        with torch.no_grad():
            prediction = self.net(inputs(images))
        if self.hparams.task == "regression":
            squared = ((prediction.view_as(targets) - targets) ** 2).view(len(targets), -1)
            return squared.mean(-1), squared.mean(-1)
        errors = (prediction.argmax(-1) != targets).float()
        nll = torch.nn.functional.cross_entropy(prediction, targets, reduction="none")
        return errors, nll

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        errors, nll = self.evaluate(batch)
        self.means["val_error"].update(errors)
        self.means["val_nll"].update(nll)

    def on_validation_epoch_end(self) -> None:
        error = self.means["val_error"].compute()
        self.log_dict({"val/error": error, "val/nll": self.means["val_nll"].compute()})
        self.means["val_error"].reset()
        self.means["val_nll"].reset()
        if not self.trainer.sanity_checking and self.installed:
            self.early_stopping(error)

    def early_stopping(self, val_error: Tensor) -> None:
        """Count fine-tuning epochs without a lower validation error; stop after ``patience``."""
        if val_error < self.best_val_error:
            self.best_val_error.copy_(val_error)
            self.epochs_without_improvement.zero_()
        else:
            self.epochs_without_improvement += 1
        patience = self.hparams.patience
        if patience is not None and self.epochs_without_improvement >= patience:
            self.trainer.should_stop = True

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        errors, nll = self.evaluate(batch)
        batch_size = len(errors)
        self.log("test/error", errors.mean(), on_epoch=True, batch_size=batch_size)
        self.log("test/nll", nll.mean(), on_epoch=True, batch_size=batch_size)


def inputs(images: Tensor) -> Tensor:
    """uint8 images (N, C, H, W) as rows of pixel intensities in [0, 1]; float inputs (the
    continuous sets of Table 1, already scaled by their DataModule) as they are."""
    if images.dtype == torch.uint8:
        return images.flatten(1).float() / 255
    return images.flatten(1)
