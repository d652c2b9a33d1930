"""The shared RBM (common/rbm.py) against hand computation and brute-force enumeration."""

import math

import pytest
import torch

from common.rbm import (
    BENGIO_2007,
    RBM,
    RBM_M,
    CDStatistics,
    Increments,
    binary_configurations,
    momentum_update,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def sigm(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def random_rbm(
    n_visible: int, n_hidden: int, visible_type: str = "binary", n_labels: int = 0, seed: int = 0
) -> RBM:
    torch.manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, visible_type, n_labels, weight_std=1.0).double()
    with torch.no_grad():
        rbm.visible_bias.normal_()
        rbm.hidden_bias.normal_()
        if visible_type == "gaussian":
            rbm.d.uniform_(0.6, 1.2)
    return rbm


def some_visible(rbm: RBM, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if rbm.visible_type == "gaussian":
        units = torch.randn(n, rbm.n_visible, generator=g, dtype=torch.float64)
    else:
        units = torch.rand(n, rbm.n_visible, generator=g, dtype=torch.float64)
    if rbm.n_labels == 0:
        return units
    return rbm.join(units, torch.randint(rbm.n_labels, (n,), generator=g))


def brute_force_free_energy(rbm: RBM, v: torch.Tensor) -> torch.Tensor:
    """-log sum_h exp(-E(v, h)) by enumerating every hidden vector."""
    h = binary_configurations(rbm.n_hidden).unsqueeze(0)
    return -torch.logsumexp(-rbm.energy(v.unsqueeze(1), h), dim=1)


# ----- CD-1 by hand --------------------------------------------------------------------------
@pytest.mark.parametrize("statistics", [RBM_M, BENGIO_2007], ids=["rbm.m", "bengio2007"])
def test_cd1_equals_hand_computed_update(statistics: CDStatistics) -> None:
    W = [[0.5, -1.0], [2.0, 0.25]]  # W[i][j]: visible i, hidden j
    c, b, v0 = [0.1, -0.2], [-0.3, 0.4], [1.0, 0.0]
    rbm = RBM(2, 2).double()
    with torch.no_grad():
        rbm.W.copy_(torch.tensor(W))
        rbm.visible_bias.copy_(torch.tensor(c))
        rbm.hidden_bias.copy_(torch.tensor(b))
    # The implementation draws uniforms for h_0 first, then for v_1 (when sampled).
    g = torch.Generator().manual_seed(3)
    u_h0 = torch.rand(1, 2, generator=g, dtype=torch.float64)[0].tolist()
    u_v1 = torch.rand(1, 2, generator=g, dtype=torch.float64)[0].tolist()

    p_h0 = [sigm(b[j] + v0[0] * W[0][j] + v0[1] * W[1][j]) for j in range(2)]
    h0 = [1.0 if u_h0[j] < p_h0[j] else 0.0 for j in range(2)]
    p_v1 = [sigm(c[i] + h0[0] * W[i][0] + h0[1] * W[i][1]) for i in range(2)]
    sampled = statistics is BENGIO_2007
    v1 = [1.0 if u_v1[i] < p_v1[i] else 0.0 for i in range(2)] if sampled else p_v1
    p_h1 = [sigm(b[j] + v1[0] * W[0][j] + v1[1] * W[1][j]) for j in range(2)]
    pos_h = h0 if sampled else p_h0
    expected_W = [[v0[i] * pos_h[j] - v1[i] * p_h1[j] for j in range(2)] for i in range(2)]

    result = rbm.contrastive_divergence(
        torch.tensor([v0], dtype=torch.float64),
        1,
        statistics,
        generator=torch.Generator().manual_seed(3),
    )
    grads = result.gradients
    torch.testing.assert_close(grads["W"], torch.tensor(expected_W, dtype=torch.float64))
    torch.testing.assert_close(
        grads["visible_bias"], torch.tensor([v0[i] - v1[i] for i in range(2)], dtype=torch.float64)
    )
    torch.testing.assert_close(
        grads["hidden_bias"],
        torch.tensor([pos_h[j] - p_h1[j] for j in range(2)], dtype=torch.float64),
    )


# ----- free energy ---------------------------------------------------------------------------
@pytest.mark.parametrize("visible_type,n_labels", [("binary", 0), ("binary", 3), ("gaussian", 2)])
def test_free_energy_and_gradient_match_brute_force(visible_type: str, n_labels: int) -> None:
    rbm = random_rbm(4, 5, visible_type, n_labels)
    v = some_visible(rbm, 6)
    f, f_brute = rbm.free_energy(v), brute_force_free_energy(rbm, v)
    torch.testing.assert_close(f, f_brute)
    params = list(rbm.parameters())
    grads = torch.autograd.grad(f.sum(), params)
    grads_brute = torch.autograd.grad(f_brute.sum(), params)
    for grad, grad_brute in zip(grads, grads_brute, strict=True):
        torch.testing.assert_close(grad, grad_brute)
    # Closed form: dF/dW = -v p(h | v)^T.
    torch.testing.assert_close(grads[0], -v.T @ rbm.hidden_probabilities(v))


@pytest.mark.parametrize("visible_type,n_labels", [("binary", 3), ("gaussian", 0)])
def test_cd_update_equals_autograd_of_free_energy_difference(
    visible_type: str, n_labels: int
) -> None:
    rbm = random_rbm(5, 4, visible_type, n_labels)
    v0 = some_visible(rbm, 8)
    result = rbm.contrastive_divergence(v0, 2, RBM_M, generator=torch.Generator().manual_seed(0))
    vk = result.negative_visible
    difference = rbm.free_energy(v0).mean() - rbm.free_energy(vk).mean()
    names = [name for name, _ in rbm.named_parameters()]
    autograd = torch.autograd.grad(difference, list(rbm.parameters()))
    assert set(result.gradients) == set(names)
    for name, grad in zip(names, autograd, strict=True):
        torch.testing.assert_close(result.gradients[name], -grad)


# ----- partition function and AIS ------------------------------------------------------------
def test_exact_log_partition_matches_visible_enumeration() -> None:
    rbm = random_rbm(6, 5, n_labels=3)
    units = binary_configurations(6)
    v = torch.cat([rbm.join(units, torch.full((64,), y)) for y in range(3)])
    expected = torch.logsumexp(-rbm.free_energy(v), 0)
    torch.testing.assert_close(rbm.exact_log_partition(), expected)
    # p(v) sums to one over all visible vectors.
    total = rbm.log_likelihood(v, rbm.exact_log_partition()).exp().sum()
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))


def test_exact_log_partition_of_gaussian_rbm_matches_quadrature() -> None:
    rbm = random_rbm(1, 3, "gaussian")
    x = torch.linspace(-30, 30, 200_001, dtype=torch.float64).unsqueeze(1)
    expected = torch.log(torch.trapezoid(torch.exp(-rbm.free_energy(x)), x[:, 0]))
    torch.testing.assert_close(rbm.exact_log_partition(), expected)


@pytest.mark.parametrize("visible_type,n_labels", [("binary", 3), ("gaussian", 0)])
def test_ais_estimate_matches_exact_log_partition(visible_type: str, n_labels: int) -> None:
    rbm = random_rbm(8, 6, visible_type, n_labels)
    exact = rbm.exact_log_partition()
    estimate = rbm.ais_log_partition(
        200, torch.linspace(0, 1, 1001), generator=torch.Generator().manual_seed(0)
    )
    assert abs(float(estimate.log_z - exact)) < 0.05
    low, high = estimate.bounds()
    assert low < float(estimate.log_z) < high


def test_ais_from_base_rates_of_data() -> None:
    rbm = random_rbm(8, 6)
    data = (torch.rand(500, 8, generator=torch.Generator().manual_seed(2)) < 0.3).double()
    base = rbm.base_rate_visible_bias(data)
    torch.testing.assert_close(torch.sigmoid(base), data.mean(0).clamp(1e-3, 1 - 1e-3))
    estimate = rbm.ais_log_partition(
        200, torch.linspace(0, 1, 1001), base, generator=torch.Generator().manual_seed(0)
    )
    assert abs(float(estimate.log_z - rbm.exact_log_partition())) < 0.05


# ----- labels --------------------------------------------------------------------------------
def test_label_free_energy_gives_the_exact_conditional() -> None:
    rbm = random_rbm(5, 4, n_labels=4)
    units = some_visible(RBM(5, 4).double(), 7)
    # p(y | units) by enumerating every hidden vector for each label.
    free = torch.stack(
        [brute_force_free_energy(rbm, rbm.join(units, torch.full((7,), y))) for y in range(4)],
        dim=1,
    )
    exact = torch.softmax(-free, dim=1)
    torch.testing.assert_close(rbm.label_free_energies(units), free)
    torch.testing.assert_close(rbm.label_log_probabilities(units).exp(), exact)


def test_gibbs_keeps_labels_clamped() -> None:
    rbm = random_rbm(5, 4, n_labels=3)
    labels = torch.tensor([0, 2, 1, 2])
    v = rbm.gibbs(some_visible(rbm, 4), 5, labels, torch.Generator().manual_seed(0))
    torch.testing.assert_close(rbm.split(v)[1], torch.eye(3, dtype=torch.float64)[labels])
    assert set(rbm.split(v)[0].unique().tolist()) <= {0.0, 1.0}


# ----- sampling ------------------------------------------------------------------------------
def test_persistent_chains_sample_the_model_distribution() -> None:
    rbm = random_rbm(3, 2, seed=4)
    sampled = CDStatistics("probabilities", "samples", "samples", "probabilities")
    g = torch.Generator().manual_seed(0)
    chain = (torch.rand(20_000, 3, generator=g) < 0.5).double()
    data = torch.zeros(20_000, 3, dtype=torch.float64)  # the data do not move the chain
    for _ in range(30):
        chain = rbm.contrastive_divergence(data, 1, sampled, chain, g).negative_visible
    codes = (chain * torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)).sum(1).long()
    empirical = torch.bincount(codes, minlength=8).double() / len(codes)
    exact = rbm.log_likelihood(binary_configurations(3), rbm.exact_log_partition()).exp()
    torch.testing.assert_close(empirical, exact, atol=0.015, rtol=0)


def test_persistent_chain_ignores_the_data_in_the_negative_phase() -> None:
    rbm = random_rbm(4, 3)
    chain = some_visible(rbm, 5, seed=7).round()
    results = [
        rbm.contrastive_divergence(
            some_visible(rbm, 5, seed), 1, BENGIO_2007, chain, torch.Generator().manual_seed(0)
        )
        for seed in (1, 2)
    ]
    torch.testing.assert_close(results[0].negative_visible, results[1].negative_visible)
    assert not torch.equal(results[0].gradients["W"], results[1].gradients["W"])
    # A persistent chain may hold more particles than the batch: statistics are means of each.
    v0, big_chain = some_visible(rbm, 5, 1), torch.cat([chain, chain])
    result = rbm.contrastive_divergence(v0, 1, RBM_M, big_chain, torch.Generator().manual_seed(0))
    vk, hk = result.negative_visible, result.negative_hidden
    torch.testing.assert_close(
        result.gradients["W"], v0.T @ result.positive_hidden / 5 - vk.T @ hk / 10
    )


def test_gaussian_visible_units_have_the_papers_mean_and_variance() -> None:
    rbm = random_rbm(2, 3, "gaussian")
    h = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64).expand(200_000, -1)
    v = rbm.sample_visible(h, torch.Generator().manual_seed(0))
    a = rbm.visible_input(h[:1])[0]
    d2 = rbm.d.detach() ** 2
    torch.testing.assert_close(v.mean(0), a / (2 * d2), atol=0.01, rtol=0)
    torch.testing.assert_close(v.var(0), 1 / (2 * d2), atol=0.01, rtol=0)
    torch.testing.assert_close(rbm.visible_mean(h[:1])[0], a / (2 * d2))


def test_reconstruction_error_with_zero_weights() -> None:
    rbm = random_rbm(3, 2)
    with torch.no_grad():
        rbm.W.zero_()
    v = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    expected = ((v - torch.sigmoid(rbm.visible_bias.detach())) ** 2).sum(1).mean()
    torch.testing.assert_close(rbm.reconstruction_error(v), expected)


# ----- updates -------------------------------------------------------------------------------
def test_momentum_update_follows_rbm_m() -> None:
    rbm = RBM(2, 1).double()
    with torch.no_grad():
        rbm.W.copy_(torch.tensor([[1.0], [-2.0]]))
        rbm.hidden_bias.fill_(0.5)
    increments = Increments(rbm)
    gradients = {
        "W": torch.tensor([[0.2], [0.4]], dtype=torch.float64),
        "hidden_bias": torch.tensor([1.0], dtype=torch.float64),
    }
    lr, momentum, cost = 0.1, 0.9, 0.01
    for _ in range(2):
        momentum_update(rbm, gradients, increments, lr, momentum, cost)
    # By hand: inc1 = lr (g - cost W0); W1 = W0 + inc1; inc2 = m inc1 + lr (g - cost W1).
    w0, g = torch.tensor([[1.0], [-2.0]], dtype=torch.float64), gradients["W"]
    inc1 = lr * (g - cost * w0)
    w1 = w0 + inc1
    w2 = w1 + momentum * inc1 + lr * (g - cost * w1)
    torch.testing.assert_close(rbm.W.detach(), w2)
    # Biases get no weight cost: 0.5 + 0.1 + (0.9 * 0.1 + 0.1).
    torch.testing.assert_close(rbm.hidden_bias.detach(), torch.tensor([0.79], dtype=torch.float64))
    torch.testing.assert_close(rbm.visible_bias.detach(), torch.zeros(2, dtype=torch.float64))


# ----- errors --------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="visible_type must be one of 'binary', 'gaussian'"):
        RBM(3, 2, visible_type="poisson")
    with pytest.raises(ValueError, match="negative_hidden must be one of"):
        CDStatistics(negative_hidden="means")
    rbm = RBM(3, 2, n_labels=2)
    with pytest.raises(ValueError, match="must have 5 units"):
        rbm.free_energy(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="k .* must be >= 1"):
        rbm.contrastive_divergence(torch.zeros(1, 5), 0)
    with pytest.raises(ValueError, match="pass labels"):
        rbm.join(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="n_labels > 0"):
        RBM(3, 2).label_free_energies(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="max_hidden=20"):
        RBM(3, 21).exact_log_partition()
    with pytest.raises(ValueError, match="betas must rise from 0 to 1"):
        RBM(3, 2).ais_log_partition(betas=torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="unknown parameters"):
        momentum_update(rbm, {"V": torch.zeros(1)}, None, 0.1)
