"""Deep belief net of Hinton, Osindero & Teh 2006, "A fast learning algorithm for deep belief nets".

Generative model (Figure 1): lab <-> top <-> pen -> hid -> vis. The top two layers (with the
label units joined to pen) form an undirected RBM, the "associative memory"; the layers below are
a directed sigmoid belief net. Training has two stages:

1. Greedy layer-wise CD (Sections 4 and 6): train one RBM per layer, bottom up; each RBM sees the
   hidden probabilities of the RBM below; the labels join only the top RBM.
2. Up-down, or contrastive wake-sleep (Section 5, Appendix B): the weights below the top RBM are
   untied into recognition (bottom-up) and generative (top-down) weights that learn separately.

Pure PyTorch, one minibatch per call: the loops over epochs belong to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from common.rbm import RBM, RBM_M, UP_DOWN, Increments, bernoulli, momentum_update

# Section 6: 784-500-500-2000 with 10 label units joined to the top RBM.
MNIST_SIZES = (784, 500, 500, 2000)
N_LABELS = 10
UP_DOWN_EPOCHS = 300  # Section 6
UP_DOWN_CD_STEPS = (3, 6, 10)  # Section 6: epochs 1-100, 101-200, 201-300
GENERATION_GIBBS_STEPS = 1000  # Figure 8


def cd_steps_for_epoch(epoch: int, n_epochs: int = UP_DOWN_EPOCHS) -> int:
    """Gibbs iterations in the top RBM during up-down epoch ``epoch`` (0-based): 3, 6 and 10 in
    the first, second and last third of training (Section 6, for 300 epochs)."""
    if not 0 <= epoch < n_epochs:
        raise ValueError(f"epoch must be in [0, n_epochs={n_epochs}); got {epoch}")
    return UP_DOWN_CD_STEPS[3 * epoch // n_epochs]


class SigmoidLayer(nn.Module):
    """A directed layer of logistic units: p(out_j = 1 | x) = sigm(bias_j + sum_i x_i weight_ij)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x @ self.weight + self.bias)


@dataclass
class UpDownResult:
    """Gradient estimates of one up-down step (keys of ``named_parameters``) and the states."""

    gradients: dict[str, Tensor]
    wake_states: list[Tensor]  # [data, hid, pen, ...] from the stochastic bottom-up pass
    sleep_states: list[Tensor]  # [vis probabilities, hid, pen, ...] from the top-down pass


class DeepBeliefNet(nn.Module):
    """``sizes = (vis, hid, ..., pen, top)``; ``n_labels`` softmax units join the top RBM."""

    def __init__(
        self, sizes: Sequence[int] = MNIST_SIZES, n_labels: int = N_LABELS, weight_std: float = 0.1
    ) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ValueError(
                f"sizes needs at least (visible, penultimate, top) layers; got {tuple(sizes)}"
            )
        if n_labels < 2:
            raise ValueError(f"n_labels must be >= 2; got {n_labels}")
        self.sizes, self.n_labels = tuple(sizes), n_labels
        pairs = list(zip(sizes[:-2], sizes[1:-1], strict=True))
        self.rbms = nn.ModuleList([RBM(a, b, weight_std=weight_std) for a, b in pairs])
        self.rbms.append(RBM(sizes[-2], sizes[-1], n_labels=n_labels, weight_std=weight_std))
        # Below the top RBM, after untie(): recognition[l] maps layer l up to l + 1 and
        # generative[l] maps layer l + 1 down to l.
        self.recognition = nn.ModuleList([SigmoidLayer(a, b) for a, b in pairs])
        self.generative = nn.ModuleList([SigmoidLayer(b, a) for a, b in pairs])
        self.register_buffer("untied", torch.tensor(False))

    @property
    def top(self) -> RBM:
        return self.rbms[-1]

    @property
    def n_layers(self) -> int:
        """Number of RBMs trained greedily (the top one included)."""
        return len(self.rbms)

    # ----- stage 1: greedy layer-wise training -----------------------------------------------
    def greedy_input(self, layer: int, images: Tensor) -> Tensor:
        """What RBM ``layer`` models: hidden probabilities of the RBMs below (Section 6)."""
        self._check_layer(layer)
        x = images
        with torch.no_grad():
            for rbm in self.rbms[:layer]:
                x = rbm.hidden_probabilities(x)
        return x

    def greedy_step(
        self,
        layer: int,
        images: Tensor,
        labels: Tensor | None,
        increments: Increments,
        learning_rate: float = 0.1,  # rbm.m [the paper gives no values]
        momentum: float = 0.9,  # rbm.m: 0.5 for the first 5 epochs, then 0.9
        weight_cost: float = 2e-4,  # rbm.m
        k: int = 1,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One CD-k update of RBM ``layer`` on a minibatch.

        ``increments = Increments(dbn.rbms[layer])``. Visible units are real-valued
        probabilities, hidden units are sampled; statistics as in rbm.m. The top RBM sees
        [pen probabilities, one-hot labels]; ``labels`` (integers) are needed only there.
        """
        if self.untied:
            raise RuntimeError("greedy_step after untie(): the greedy stage is over")
        rbm = self.rbms[layer]
        v = self.greedy_input(layer, images)
        if rbm is self.top:
            v = rbm.join(v, labels)
        result = rbm.contrastive_divergence(v, k, RBM_M, generator=generator)
        momentum_update(rbm, result.gradients, increments, learning_rate, momentum, weight_cost)
        error = ((v - result.negative_visible) ** 2).sum(-1).mean()
        return {"reconstruction_error": error}

    def untie(self) -> None:
        """End of the greedy stage: recognition weights = W, generative weights = W^T, with
        the RBM's hidden biases as recognition biases and its visible biases as generative ones
        (Section 5)."""
        with torch.no_grad():
            for rbm, up, down in zip(
                self.rbms[:-1], self.recognition, self.generative, strict=True
            ):
                up.weight.copy_(rbm.W)
                up.bias.copy_(rbm.hidden_bias)
                down.weight.copy_(rbm.W.T)
                down.bias.copy_(rbm.visible_bias)
        self.untied.fill_(True)

    # ----- stage 2: up-down (Appendix B) ---------------------------------------------------
    def up_down(
        self,
        images: Tensor,
        labels: Tensor,
        cd_steps: int,
        generator: torch.Generator | None = None,
    ) -> UpDownResult:
        """Gradient estimates of one contrastive wake-sleep step (Appendix B), batch means."""
        self._require_untied()
        n, top_index = images.shape[0], len(self.rbms) - 1
        gradients: dict[str, Tensor] = {}
        with torch.no_grad():
            # Wake: stochastic bottom-up pass with the recognition weights.
            wake = [images]
            for up in self.recognition:
                wake.append(bernoulli(up(wake[-1]), generator))
            # Generative weights learn to reconstruct each layer from the one above.
            for l, down in enumerate(self.generative):
                error = wake[l] - down(wake[l + 1])
                gradients[f"generative.{l}.weight"] = wake[l + 1].T @ error / n
                gradients[f"generative.{l}.bias"] = error.mean(0)
            # Top RBM: CD-k started from the wake states, label units as probabilities.
            cd = self.top.contrastive_divergence(
                self.top.join(wake[-1], labels), cd_steps, UP_DOWN, generator=generator
            )
            for name, gradient in cd.gradients.items():
                gradients[f"rbms.{top_index}.{name}"] = gradient
            # Sleep: top-down pass from the end of the Gibbs run; the visible layer stays as
            # probabilities (sleepvisprobs).
            sleep = [self.top.split(cd.negative_visible)[0]]
            for l in reversed(range(len(self.generative))):
                p = self.generative[l](sleep[0])
                sleep.insert(0, p if l == 0 else bernoulli(p, generator))
            # Recognition weights learn to recover each sleep layer from the one below.
            for l, up in enumerate(self.recognition):
                error = sleep[l + 1] - up(sleep[l])
                gradients[f"recognition.{l}.weight"] = sleep[l].T @ error / n
                gradients[f"recognition.{l}.bias"] = error.mean(0)
        return UpDownResult(gradients, wake, sleep)

    def up_down_step(
        self,
        images: Tensor,
        labels: Tensor,
        cd_steps: int,
        increments: Increments,
        learning_rate: float,
        momentum: float = 0.0,
        weight_cost: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> UpDownResult:
        """up_down() then one update of every parameter it touches; the same learning rate for
        all layers (Appendix B). ``increments = Increments(dbn)``. Values: chosen on validation
        in the paper, not given (Section 6)."""
        result = self.up_down(images, labels, cd_steps, generator)
        momentum_update(self, result.gradients, increments, learning_rate, momentum, weight_cost)
        return result

    # ----- using the model -----------------------------------------------------------------
    def up_pass(self, images: Tensor) -> Tensor:
        """Deterministic bottom-up pass: pen-layer probabilities (Section 6)."""
        self._require_untied()
        x = images
        for up in self.recognition:
            x = up(x)
        return x

    def label_log_probabilities(self, images: Tensor) -> Tensor:
        """log p(label | pen) in the top RBM, pen from the deterministic up-pass."""
        return self.top.label_log_probabilities(self.up_pass(images))

    def classify(self, images: Tensor) -> Tensor:
        """The label whose 510-unit top-RBM visible vector has the lowest free energy (Section
        6.1), pen set by a deterministic up-pass."""
        with torch.no_grad():
            return self.top.label_free_energies(self.up_pass(images)).argmin(-1)

    def generate(
        self,
        labels: Tensor,
        gibbs_steps: int = GENERATION_GIBBS_STEPS,
        initial_images: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Figure 8: Gibbs sampling in the top RBM with the label clamped, then one down-pass.

        The chain starts from a stochastic up-pass of ``initial_images``; by default random
        binary images with each pixel on with probability 0.5, the start that Figure 9's caption
        describes (Figure 8's gives none, only the 1,000 Gibbs iterations between samples).
        Returns the visible probabilities of the down-pass.
        """
        self._require_untied()
        with torch.no_grad():
            if initial_images is None:
                shape = (labels.shape[0], self.sizes[0])
                initial_images = bernoulli(
                    torch.full(shape, 0.5, dtype=self.top.W.dtype, device=self.top.W.device),
                    generator,
                )
            x = initial_images
            for up in self.recognition:
                x = bernoulli(up(x), generator)
            v = self.top.gibbs(self.top.join(x, labels), gibbs_steps, labels, generator)
            x = self.top.split(v)[0]
            for l in reversed(range(1, len(self.generative))):
                x = bernoulli(self.generative[l](x), generator)
            return self.generative[0](x)

    # ----- checks -------------------------------------------------------------------------
    def _check_layer(self, layer: int) -> None:
        if not 0 <= layer < len(self.rbms):
            raise ValueError(f"layer must be in [0, {len(self.rbms)}); got {layer}")

    def _require_untied(self) -> None:
        if not self.untied:
            raise RuntimeError(
                "call untie() after greedy training before up-down, classification or generation"
            )
