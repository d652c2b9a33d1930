"""Restricted Boltzmann machine shared by the DBN (Hinton et al. 2006) and greedy layer-wise
training (Bengio et al. 2007) papers.

Energy of a joint configuration (Hinton et al. 2006, Section 3; Bengio et al. 2007, Section 2 and,
for the Gaussian term, their treatment of continuous-valued inputs):

    E(v, h) = - v W h - c.v - b.h  [ + sum_i d_i^2 v_i^2 for Gaussian visible units ]

``v`` is a row vector of ``n_visible`` units, optionally followed by a softmax group of
``n_labels`` units (one of them is on), as in the top RBM of Hinton et al. 2006 (Figure 1).
``W`` has shape (n_visible + n_labels, n_hidden), like ``vishid`` in Hinton's Matlab code.
Hidden units are binary. Visible units are "binary" (their mean is a probability, and data may
be real values in [0, 1] used as probabilities) or "gaussian": then v_i given h is Gaussian with
mean a_i / (2 d_i^2) and variance 1 / (2 d_i^2), where a = c + W h (Bengio et al. 2007).

Learning rules are written out explicitly; when probabilities are used for the statistics they
equal minus the gradient of the free-energy difference F(v_0) - F(v_k) (the tests check this).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from common.checks import check_choice

VISIBLE_TYPES = ("binary", "gaussian")
STATISTIC_CHOICES = ("probabilities", "samples")
Statistic = Literal["probabilities", "samples"]


def bernoulli(p: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Binary states that are on with probability ``p`` (``probs > rand`` as in rbm.m)."""
    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
    return (u < p).to(p.dtype)


def categorical(p: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One-hot rows, each drawn from the distribution in the matching row of ``p``."""
    index = torch.multinomial(p, 1, generator=generator).squeeze(1)
    return F.one_hot(index, p.shape[1]).to(p.dtype)


def binary_configurations(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """All 2**n binary vectors of length n, one per row."""
    codes = torch.arange(2**n).unsqueeze(1)
    return ((codes >> torch.arange(n)) & 1).to(dtype)


@dataclass(frozen=True)
class CDStatistics:
    """Which quantities of a CD step are probabilities and which are sampled states.

    positive_hidden: h_0 in <v_0 h_0> (the chain always starts from a sampled h_0).
    negative_visible / negative_labels: v_k of the ordinary / label units; used both to drive
        the chain and in the statistics.
    negative_hidden: h_k in <v_k h_k>.
    """

    positive_hidden: Statistic = "probabilities"
    negative_visible: Statistic = "probabilities"
    negative_labels: Statistic = "probabilities"
    negative_hidden: Statistic = "probabilities"

    def __post_init__(self) -> None:
        for name in ("positive_hidden", "negative_visible", "negative_labels", "negative_hidden"):
            check_choice(name, getattr(self, name), STATISTIC_CHOICES)


# Hinton & Salakhutdinov's rbm.m, used for the greedy stage of Hinton et al. 2006 (Section 6
# says only that hidden units are sampled and visible units are real-valued probabilities).
RBM_M = CDStatistics()
# Bengio et al. 2007, Appendix, RBMupdate: h_1 and x_2 sampled, Q(h_2 = 1 | x_2) as probabilities.
BENGIO_2007 = CDStatistics("samples", "samples", "samples", "probabilities")
# Hinton et al. 2006, Appendix B, top-level associative memory during up-down: all states
# sampled except the label units, which stay softmax probabilities (neglabprobs).
UP_DOWN = CDStatistics("samples", "samples", "probabilities", "samples")


@dataclass
class CDResult:
    """One contrastive-divergence estimate for a minibatch."""

    gradients: dict[str, Tensor]  # batch means; ascent direction of the log-likelihood
    positive_hidden: Tensor  # h_0 as used in the statistics
    negative_visible: Tensor  # v_k: end of the chain, the next state of a persistent chain
    negative_hidden: Tensor  # h_k as used in the statistics


@dataclass(frozen=True)
class AISEstimate:
    """Annealed importance sampling estimate of log Z (Salakhutdinov & Murray 2008)."""

    log_z_per_run: Tensor  # log Z_0 + log w for each independent annealing run

    @property
    def log_z(self) -> Tensor:
        """log Z_0 + log(mean importance weight); Z_hat is unbiased, log Z_hat biased low."""
        return torch.logsumexp(self.log_z_per_run, 0) - math.log(len(self.log_z_per_run))

    def bounds(self, n_std: float = 3.0) -> tuple[float, float]:
        """log(Z_hat -/+ n_std standard errors), as reported by Salakhutdinov & Murray 2008."""
        top = self.log_z_per_run.max()
        weights = torch.exp(self.log_z_per_run - top)
        mean = weights.mean()
        spread = n_std * weights.std() / math.sqrt(len(weights))
        low = torch.log(torch.clamp(mean - spread, min=torch.finfo(weights.dtype).tiny))
        return float(top + low), float(top + torch.log(mean + spread))


class RBM(nn.Module):
    """Binary hidden units; binary or Gaussian visible units; optional softmax label group."""

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        visible_type: str = "binary",
        n_labels: int = 0,
        weight_std: float = 0.1,  # rbm.m: 0.1 * randn [not stated in either paper]
    ) -> None:
        super().__init__()
        check_choice("visible_type", visible_type, VISIBLE_TYPES)
        for name, value, low in (
            ("n_visible", n_visible, 1),
            ("n_hidden", n_hidden, 1),
            ("n_labels", n_labels, 0),
        ):
            if value < low:
                raise ValueError(f"{name} must be >= {low}; got {value}")
        if n_labels == 1:
            raise ValueError("n_labels must be 0 (no label group) or >= 2; got 1")
        self.n_visible, self.n_hidden, self.n_labels = n_visible, n_hidden, n_labels
        self.visible_type = visible_type
        self.W = nn.Parameter(weight_std * torch.randn(n_visible + n_labels, n_hidden))
        self.visible_bias = nn.Parameter(torch.zeros(n_visible + n_labels))  # c
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))  # b
        if visible_type == "gaussian":
            # Bengio et al. 2007, Gaussian units: energy term d_i^2 v_i^2; start at unit variance.
            self.d = nn.Parameter(torch.full((n_visible,), 2**-0.5))

    def extra_repr(self) -> str:
        return (
            f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
            f"visible_type={self.visible_type!r}, n_labels={self.n_labels}"
        )

    # ----- layout -------------------------------------------------------------------------
    def split(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """(ordinary visible units, label units) of a visible vector or visible input."""
        return v[..., : self.n_visible], v[..., self.n_visible :]

    def join(self, units: Tensor, labels: Tensor | None = None) -> Tensor:
        """A visible vector from ordinary units and (integer or one-hot) labels."""
        if self.n_labels == 0:
            if labels is not None:
                raise ValueError("labels given to an RBM built with n_labels=0")
            return units
        if labels is None:
            raise ValueError(f"this RBM has a group of {self.n_labels} label units; pass labels")
        if labels.dim() == 1:
            labels = F.one_hot(labels.long(), self.n_labels).to(units.dtype)
        return torch.cat([units, labels.to(units.dtype)], dim=-1)

    def _check_visible(self, v: Tensor) -> None:
        expected = self.n_visible + self.n_labels
        if v.shape[-1] != expected:
            raise ValueError(
                f"visible vectors must have {expected} units "
                f"(n_visible + n_labels); got {v.shape[-1]}"
            )

    # ----- conditionals -------------------------------------------------------------------
    def hidden_input(self, v: Tensor) -> Tensor:
        return v @ self.W + self.hidden_bias

    def hidden_probabilities(self, v: Tensor) -> Tensor:
        """p(h_j = 1 | v) = sigm(b_j + sum_i v_i W_ij)."""
        return torch.sigmoid(self.hidden_input(v))

    def sample_hidden(
        self, v: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        p = self.hidden_probabilities(v)
        return p, bernoulli(p, generator)

    def visible_input(self, h: Tensor) -> Tensor:
        return h @ self.W.T + self.visible_bias

    def _mean_from_input(self, a: Tensor) -> Tensor:
        units, labels = self.split(a)
        if self.visible_type == "gaussian":
            units = units / (2 * self.d**2)
        else:
            units = torch.sigmoid(units)
        return torch.cat([units, torch.softmax(labels, dim=-1)], dim=-1)

    def _states_from_input(
        self,
        a: Tensor,
        unit_statistic: Statistic,
        label_statistic: Statistic,
        generator: torch.Generator | None,
    ) -> Tensor:
        mean = self._mean_from_input(a)
        units, labels = self.split(mean)
        if unit_statistic == "samples":
            if self.visible_type == "gaussian":
                noise = torch.randn(
                    units.shape, generator=generator, dtype=units.dtype, device=units.device
                )
                units = units + noise / (math.sqrt(2) * self.d.abs())
            else:
                units = bernoulli(units, generator)
        if self.n_labels and label_statistic == "samples":
            labels = categorical(labels, generator)
        return torch.cat([units, labels], dim=-1)

    def visible_mean(self, h: Tensor) -> Tensor:
        """E[v | h]: sigmoid, a / (2 d^2) for Gaussian units, softmax over the label group."""
        return self._mean_from_input(self.visible_input(h))

    def sample_visible(self, h: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self._states_from_input(self.visible_input(h), "samples", "samples", generator)

    def gibbs(
        self,
        v: Tensor,
        steps: int,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``steps`` rounds of alternating Gibbs sampling v -> h -> v, all states sampled.

        With ``labels`` the label units are clamped to them (Hinton et al. 2006, Figure 8).
        """
        self._check_visible(v)
        if labels is not None:
            v = self.join(self.split(v)[0], labels)
        for _ in range(steps):
            _, h = self.sample_hidden(v, generator)
            v = self.sample_visible(h, generator)
            if labels is not None:
                v = self.join(self.split(v)[0], labels)
        return v

    # ----- energies -----------------------------------------------------------------------
    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        e = -((v @ self.W) * h).sum(-1) - v @ self.visible_bias - h @ self.hidden_bias
        return e + self._quadratic(v)

    def _quadratic(self, v: Tensor) -> Tensor:
        if self.visible_type != "gaussian":
            return torch.zeros(v.shape[:-1], dtype=v.dtype, device=v.device)
        return (self.d**2 * self.split(v)[0] ** 2).sum(-1)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = -log sum_h exp(-E(v, h))
        = [sum_i d_i^2 v_i^2] - c.v - sum_j softplus(b_j + v W_j)."""
        self._check_visible(v)
        return self._quadratic(v) - v @ self.visible_bias - F.softplus(self.hidden_input(v)).sum(-1)

    def label_free_energies(self, units: Tensor) -> Tensor:
        """F([units, y]) for every label y, shape (batch, n_labels).

        Hinton et al. 2006, Section 6: most of the hidden input does not depend on the label,
        so the free energies of all labels cost little more than one.
        """
        if self.n_labels == 0:
            raise ValueError("label_free_energies needs an RBM with n_labels > 0")
        if units.shape[-1] != self.n_visible:
            raise ValueError(
                f"units must have n_visible={self.n_visible} columns; got {units.shape[-1]}"
            )
        w_units, w_labels = self.split(self.W.T)
        c_units, c_labels = self.split(self.visible_bias)
        shared = units @ w_units.T + self.hidden_bias  # (batch, n_hidden)
        per_label = shared.unsqueeze(1) + w_labels.T.unsqueeze(0)  # (batch, n_labels, n_hidden)
        f = -(units @ c_units).unsqueeze(1) - c_labels - F.softplus(per_label).sum(-1)
        if self.visible_type == "gaussian":
            f = f + (self.d**2 * units**2).sum(-1, keepdim=True)
        return f

    def label_log_probabilities(self, units: Tensor) -> Tensor:
        """log p(y | units) = log softmax(-F([units, y])): exact, no sampling."""
        return torch.log_softmax(-self.label_free_energies(units), dim=-1)

    def _visible_log_partition(self, a: Tensor) -> Tensor:
        """log of the sum (integral) over v of exp(a.v - quadratic(v)), per row of inputs a."""
        units, labels = self.split(a)
        if self.visible_type == "gaussian":
            d2 = self.d**2
            per_unit = 0.5 * torch.log(math.pi / d2) + units**2 / (4 * d2)
        else:
            per_unit = F.softplus(units)
        total = per_unit.sum(-1)
        if self.n_labels:
            total = total + torch.logsumexp(labels, dim=-1)
        return total

    # ----- learning -----------------------------------------------------------------------
    def contrastive_divergence(
        self,
        v0: Tensor,
        k: int = 1,
        statistics: CDStatistics = RBM_M,
        chain: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> CDResult:
        """CD-k estimate of the log-likelihood gradient (Hinton 2002; Hinton et al. 2006, Sec. 3).

        <v_i h_j>_0 - <v_i h_j>_k for W, and likewise for the biases; for Gaussian units
        d_i gets -2 d_i (<v_i^2>_0 - <v_i^2>_k) (Bengio et al. 2007, Gaussian units).
        ``chain``: persistent CD (Tieleman 2008): the negative chain starts from these visible
        states instead of the data; pass ``result.negative_visible`` back in on the next call.
        """
        if k < 1:
            raise ValueError(f"k (number of Gibbs steps) must be >= 1; got {k}")
        self._check_visible(v0)
        with torch.no_grad():
            p_h0, h0 = self.sample_hidden(v0, generator)
            positive_h = p_h0 if statistics.positive_hidden == "probabilities" else h0
            if chain is not None:
                self._check_visible(chain)
                _, h0 = self.sample_hidden(chain, generator)
            h = h0
            for step in range(k):
                v = self._states_from_input(
                    self.visible_input(h),
                    statistics.negative_visible,
                    statistics.negative_labels,
                    generator,
                )
                p_h = self.hidden_probabilities(v)
                if step < k - 1:
                    h = bernoulli(p_h, generator)
            if statistics.negative_hidden == "probabilities":
                negative_h = p_h
            else:
                negative_h = bernoulli(p_h, generator)
            # Means over the batch and over the chains (a persistent chain may have its own size).
            gradients = {
                "W": v0.T @ positive_h / len(v0) - v.T @ negative_h / len(v),
                "visible_bias": v0.mean(0) - v.mean(0),
                "hidden_bias": positive_h.mean(0) - negative_h.mean(0),
            }
            if self.visible_type == "gaussian":
                units0, units_k = self.split(v0)[0], self.split(v)[0]
                gradients["d"] = -2 * self.d * ((units0**2).mean(0) - (units_k**2).mean(0))
        return CDResult(gradients, positive_h, v, negative_h)

    def reconstruction_error(self, v: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """rbm.m's monitor: sum of squared differences between v and E[v | h], h ~ p(h | v),
        summed over units and averaged over the batch."""
        self._check_visible(v)
        with torch.no_grad():
            _, h = self.sample_hidden(v, generator)
            return ((v - self.visible_mean(h)) ** 2).sum(-1).mean()

    # ----- partition function -------------------------------------------------------------
    def log_likelihood(self, v: Tensor, log_z: Tensor | float) -> Tensor:
        """log p(v) = -F(v) - log Z (a log density for Gaussian units)."""
        return -self.free_energy(v) - log_z

    def exact_log_partition(self, max_hidden: int = 20, chunk: int = 4096) -> Tensor:
        """log Z by summing over all 2**n_hidden hidden vectors (v summed/integrated exactly)."""
        if self.n_hidden > max_hidden:
            raise ValueError(
                f"exact_log_partition enumerates 2**n_hidden hidden vectors; "
                f"n_hidden={self.n_hidden} exceeds max_hidden={max_hidden}"
            )
        with torch.no_grad():
            rbm = _double_copy(self)
            terms = []
            for h in binary_configurations(self.n_hidden).split(chunk):
                h = h.to(rbm.W.device)
                terms.append(h @ rbm.hidden_bias + rbm._visible_log_partition(rbm.visible_input(h)))
            return torch.logsumexp(torch.cat(terms), 0).to(self.W.dtype)

    def base_rate_visible_bias(self, data: Tensor, eps: float = 1e-3) -> Tensor:
        """Visible biases of the W = 0 base-rate RBM that matches the data means
        (Salakhutdinov & Murray 2008, Section 4.1), a good AIS starting distribution."""
        self._check_visible(data)
        mean_units, mean_labels = self.split(data.mean(0))
        if self.visible_type == "gaussian":
            units = 2 * self.d.detach() ** 2 * mean_units
        else:
            p = mean_units.clamp(eps, 1 - eps)
            units = torch.log(p) - torch.log1p(-p)
        return torch.cat([units, torch.log(mean_labels.clamp_min(eps))])

    def ais_log_partition(
        self,
        n_runs: int = 100,
        betas: Tensor | None = None,
        base_visible_bias: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> AISEstimate:
        """Annealed importance sampling (Neal 2001) as in Salakhutdinov & Murray 2008, Section 4.

        Intermediate distributions p_beta(v) ~ exp(-F_beta(v)) interpolate between the base
        RBM A (W = 0, hidden biases 0, visible biases ``base_visible_bias``) and this RBM:
            F_beta(v) = quadratic(v) - ((1 - beta) c_A + beta c).v
                        - sum_j softplus(beta (b + v W)_j)
        and each is left invariant by one Gibbs sweep at the same beta.
        """
        if betas is None:
            betas = torch.linspace(0, 1, 1001)
        betas = betas.to(dtype=self.W.dtype, device=self.W.device)
        if betas[0] != 0 or betas[-1] != 1 or bool((betas.diff() < 0).any()):
            raise ValueError("betas must rise from 0 to 1 (non-decreasing)")
        if n_runs < 2:
            raise ValueError(f"n_runs must be >= 2; got {n_runs}")
        c_a = self.visible_bias.new_zeros(self.visible_bias.shape)
        if base_visible_bias is not None:
            c_a = base_visible_bias.to(c_a)

        def free_energy(v: Tensor, beta: Tensor) -> Tensor:
            c = (1 - beta) * c_a + beta * self.visible_bias
            return self._quadratic(v) - v @ c - F.softplus(beta * self.hidden_input(v)).sum(-1)

        with torch.no_grad():
            log_z_base = self._visible_log_partition(c_a) + self.n_hidden * math.log(2)
            v = self._states_from_input(c_a.expand(n_runs, -1), "samples", "samples", generator)
            log_w = torch.zeros(n_runs, dtype=self.W.dtype, device=self.W.device)
            for i in range(1, len(betas)):
                log_w += free_energy(v, betas[i - 1]) - free_energy(v, betas[i])
                if i < len(betas) - 1:  # Gibbs sweep that leaves p_beta invariant
                    h = bernoulli(torch.sigmoid(betas[i] * self.hidden_input(v)), generator)
                    a = (1 - betas[i]) * c_a + betas[i] * self.visible_input(h)
                    v = self._states_from_input(a, "samples", "samples", generator)
        return AISEstimate(log_z_base + log_w)


def _double_copy(rbm: RBM) -> RBM:
    return copy.deepcopy(rbm).double()


# ----- parameter updates ------------------------------------------------------------------
def _buffer_name(parameter_name: str) -> str:
    return parameter_name.replace(".", "__")


class Increments(nn.Module):
    """Momentum state: one zero buffer per parameter of ``module`` (``vishidinc`` etc. in
    rbm.m). A module, so that it is saved in checkpoints."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        for name, parameter in module.named_parameters():
            self.register_buffer(_buffer_name(name), torch.zeros_like(parameter))

    def __getitem__(self, parameter_name: str) -> Tensor:
        return getattr(self, _buffer_name(parameter_name))


def momentum_update(
    module: nn.Module,
    gradients: dict[str, Tensor],
    increments: Increments | None,
    learning_rate: float,
    momentum: float = 0.0,
    weight_cost: float = 0.0,
) -> None:
    """In place, for each named gradient (an ascent direction), the rule of rbm.m:

        inc <- momentum * inc + learning_rate * (gradient - weight_cost * W)   (weight matrices)
        inc <- momentum * inc + learning_rate * gradient                       (biases, d)
        theta <- theta + inc

    ``increments=None`` is plain SGD (momentum 0), as in Bengio et al. 2007's Appendix.
    """
    parameters = dict(module.named_parameters())
    unknown = sorted(set(gradients) - set(parameters))
    if unknown:
        raise ValueError(f"gradients for unknown parameters {unknown}; known: {sorted(parameters)}")
    if increments is None and momentum != 0:
        raise ValueError(f"momentum={momentum} needs increments (pass Increments(module))")
    with torch.no_grad():
        for name, gradient in gradients.items():
            parameter = parameters[name]
            step = gradient - weight_cost * parameter if parameter.dim() == 2 else gradient
            if increments is None:
                parameter.add_(step, alpha=learning_rate)
                continue
            increment = increments[name]
            increment.mul_(momentum).add_(step, alpha=learning_rate)
            parameter.add_(increment)


class CountedUpdate(torch.optim.Optimizer):
    """An "optimiser" for Lightning's manual optimisation when the update is written by hand.

    Contrastive divergence, up-down and the Appendix's plain gradient steps change the
    parameters themselves (momentum kept in :class:`Increments` buffers), but Lightning counts
    ``trainer.global_step`` in optimiser steps. ``step(closure)`` runs the update given as the
    closure and returns its result, so each update is counted once and nothing else happens."""

    def __init__(self, parameters) -> None:
        super().__init__(parameters, defaults={})

    def step(self, closure):  # type: ignore[override]
        return closure()


def check_hand_update_setup(trainer, n_inputs: int, inputs_key: str) -> None:
    """Refuse what hand-written updates cannot do: run on several processes (nothing averages
    them) or take images whose pixel count is not the network's input size ``inputs_key``."""
    if trainer.world_size > 1:
        raise ValueError(
            "the updates are applied by hand and not averaged across processes; "
            "run on one device (trainer.devices=1)"
        )
    datamodule = trainer.datamodule
    if datamodule is not None and hasattr(datamodule, "train_images"):
        pixels = datamodule.train_images()[0].numel()
        if pixels != n_inputs:
            raise ValueError(f"the images have {pixels} pixels but {inputs_key}={n_inputs}")
