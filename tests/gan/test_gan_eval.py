"""GAN evaluation: Parzen estimator, toy distributions, Figure 2, paper metadata."""

import math

import matplotlib.image
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch.distributions import Normal

from common.registry import get
from papers.gan.figures import nearest_neighbours, plot_sample_grid, sample_grid
from papers.gan.model import Discriminator
from papers.gan.parzen import (
    mean_and_standard_error,
    parzen_evaluation,
    parzen_log_likelihoods,
    select_sigma,
    sigma_grid,
)
from papers.gan.toy import (
    DENSITY_PAIRS,
    density_pair,
    fit_discriminator,
    mode_coverage,
    optimality_gap,
    ring_modes,
    sample_ring,
)

torch.set_num_threads(1)


# --------------------------------------------------------------------------- Parzen window


def _brute_force_parzen(x: torch.Tensor, mu: torch.Tensor, sigma: float) -> torch.Tensor:
    """(1/M) sum_i prod_d N(x_d; mu_id, sigma^2), one point at a time, no log tricks."""
    x, mu = x.double(), mu.double()
    out = []
    for point in x:
        densities = Normal(mu, sigma).log_prob(point).sum(1).exp()
        out.append(densities.mean().log())
    return torch.stack(out)


def test_parzen_matches_brute_force_on_tiny_case():
    torch.manual_seed(0)
    x, mu = torch.rand(7, 3), torch.rand(11, 3)
    for sigma in (0.1, 0.3, 1.0):
        fast = parzen_log_likelihoods(x, mu, sigma, batch_size=2)
        assert fast.shape == (7,)
        assert torch.allclose(fast, _brute_force_parzen(x, mu, sigma), atol=1e-10)


def test_parzen_many_sigmas_and_batch_sizes_agree():
    torch.manual_seed(1)
    x, mu = torch.rand(13, 5), torch.rand(17, 5)
    sigmas = sigma_grid()
    all_at_once = parzen_log_likelihoods(x, mu, sigmas, batch_size=1000)
    assert all_at_once.shape == (10, 13)
    for i, sigma in enumerate(sigmas.tolist()):
        assert torch.allclose(all_at_once[i], parzen_log_likelihoods(x, mu, sigma, batch_size=3))


def test_parzen_is_stable_far_from_every_sample():
    # one kernel: log p = -||x - mu||^2 / (2 sigma^2) - d log(sigma sqrt(2 pi)), about -5e5 here
    x, mu, sigma = torch.full((1, 4), 100.0), torch.zeros(1, 4), 0.1
    expected = -4 * 100.0**2 / (2 * sigma**2) - 4 * math.log(sigma * math.sqrt(2 * math.pi))
    assert parzen_log_likelihoods(x, mu, sigma).item() == pytest.approx(expected, rel=1e-12)


def test_sigma_grid_is_numpy_logspace():
    assert np.allclose(sigma_grid().numpy(), np.logspace(-1, 0, 10))


def test_select_sigma_takes_the_best_validation_mean():
    torch.manual_seed(2)
    samples, valid = torch.rand(40, 6), torch.rand(9, 6)
    sigma, means = select_sigma(samples, valid)
    brute = torch.stack([_brute_force_parzen(valid, samples, s).mean() for s in sigma_grid()])
    assert torch.allclose(means, brute, atol=1e-10)
    assert sigma == pytest.approx(sigma_grid()[brute.argmax()].item())
    # a wide gap between samples and data needs the widest kernel
    assert select_sigma(samples, valid + 3.0)[0] == pytest.approx(1.0)


def test_mean_and_standard_error_match_numpy():
    ll = torch.tensor([1.0, 2.0, 4.0, 7.0])
    mean, se = mean_and_standard_error(ll)
    assert mean == pytest.approx(3.5)
    assert se == pytest.approx(np.std([1, 2, 4, 7]) / 2)  # numpy's std: ddof 0


def test_parzen_evaluation_composes_the_protocol():
    torch.manual_seed(3)
    samples, valid, test = torch.rand(30, 4), torch.rand(8, 4), torch.rand(12, 4)
    result = parzen_evaluation(samples, valid, test, batch_size=5)
    sigma, _ = select_sigma(samples, valid)
    ll = _brute_force_parzen(test, samples, sigma)
    assert result.sigma == sigma
    assert result.mean == pytest.approx(ll.mean().item())
    assert result.standard_error == pytest.approx(ll.std(correction=0).item() / math.sqrt(12))


def test_parzen_bad_input_raises():
    with pytest.raises(ValueError, match="x has dimension 3 but samples have 4"):
        parzen_log_likelihoods(torch.zeros(2, 3), torch.zeros(2, 4), 0.1)
    with pytest.raises(ValueError, match="sigmas must be positive"):
        parzen_log_likelihoods(torch.zeros(2, 3), torch.zeros(2, 3), 0.0)


# --------------------------------------------------------------------------- Proposition 1


def test_optimal_discriminator_is_density_ratio():
    pair = density_pair("bimodal")
    x = torch.linspace(-4, 4, 41)
    p_data, p_g = pair.data.log_prob(x).exp(), pair.model.log_prob(x).exp()
    assert torch.allclose(pair.optimal_discriminator(x), p_data / (p_data + p_g), atol=1e-6)


@pytest.mark.parametrize("name", DENSITY_PAIRS)
def test_proposition_1_trained_discriminator_reaches_the_optimum(name):
    torch.manual_seed(0)
    pair = density_pair(name)
    d = Discriminator(1, (16, 16), 5, input_include_prob=1.0, hidden_include_prob=1.0)
    untrained = optimality_gap(d, pair)  # D = 1/2 everywhere
    fit_discriminator(d, pair, steps=400, batch_size=256, lr=2e-2)
    assert untrained > 0.1
    assert optimality_gap(d, pair) < 0.04


def test_unknown_density_pair_raises():
    with pytest.raises(ValueError, match="name must be one of 'shifted', 'scaled', 'bimodal'"):
        density_pair("cauchy")


# --------------------------------------------------------------------------- ring of Gaussians


def test_ring_modes_and_samples():
    modes = ring_modes(8, radius=2.0)
    assert torch.allclose(modes.norm(dim=1), torch.full((8,), 2.0))
    assert torch.allclose(modes[2], torch.tensor([0.0, 2.0]), atol=1e-6)  # 90 degrees
    x = sample_ring(16_000, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, modes).argmin(1)
    share = torch.bincount(nearest, minlength=8) / len(x)
    assert torch.allclose(share, torch.full((8,), 1 / 8), atol=0.01)
    assert torch.allclose((x - modes[nearest]).std(0), torch.tensor([0.02, 0.02]), rtol=0.03)


def test_mode_coverage():
    modes = ring_modes()
    data = sample_ring(20_000, generator=torch.Generator().manual_seed(1))
    full = mode_coverage(data, modes)
    assert full.modes_covered == 8
    assert full.high_quality_share == pytest.approx(1 - math.exp(-4.5), abs=0.004)  # P(r <= 3s)
    collapsed = modes[torch.tensor([0, 3] * 500)]  # "Helvetica scenario": two modes
    result = mode_coverage(collapsed, modes)
    assert result.modes_covered == 2 and result.high_quality_share == 1.0
    assert result.counts.tolist() == [500, 0, 0, 500, 0, 0, 0, 0]
    few = torch.cat([modes[:1].expand(995, 2), modes[1:2].expand(5, 2)])  # 0.5% < 1%
    assert mode_coverage(few, modes).modes_covered == 1
    off = mode_coverage(torch.zeros(100, 2), modes)
    assert off.modes_covered == 0 and off.high_quality_share == 0.0


def test_mode_coverage_bad_shape_raises():
    with pytest.raises(ValueError, match=r"samples must have shape \(n, 2\)"):
        mode_coverage(torch.zeros(5, 3), ring_modes())


# --------------------------------------------------------------------------- Figure 2


def test_nearest_neighbours_match_brute_force():
    torch.manual_seed(4)
    queries, train = torch.rand(9, 5), torch.rand(50, 5)
    brute = torch.tensor([int(((train - q) ** 2).sum(1).argmin()) for q in queries])
    assert torch.equal(nearest_neighbours(queries, train, batch_size=4), brute)


def test_sample_grid_layout_and_neighbour_column():
    torch.manual_seed(5)
    rows, cols, h, w = 2, 3, 4, 5
    samples = torch.rand(rows * cols, h * w)
    train = torch.rand(30, h * w)
    train[17] = samples[cols - 1] + 0.01  # the nearest example of row 0's last sample
    grid = sample_grid(samples, train, rows, cols, (h, w), pad=1)
    assert grid.shape == (rows * (h + 1) + 1, (cols + 1) * (w + 1) + 1)

    def tile(r: int, c: int) -> np.ndarray:
        return grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w]

    assert np.allclose(tile(1, 1), samples[cols + 1].reshape(h, w).numpy())
    assert np.allclose(tile(0, cols), train[17].clamp(0, 1).reshape(h, w).numpy())
    nn_row1 = nearest_neighbours(samples[2 * cols - 1 : 2 * cols], train)[0]
    assert np.allclose(tile(1, cols), train[nn_row1].reshape(h, w).numpy())
    assert np.all(grid[0] == 1.0)  # white padding


def test_plot_sample_grid_writes_png(tmp_path):
    torch.manual_seed(6)
    samples, train = torch.rand(20, 8 * 8 * 3), torch.rand(40, 8 * 8 * 3)
    fig, grid = plot_sample_grid(samples, train, tmp_path / "fig2.png", image_shape=(8, 8, 3))
    assert isinstance(fig, Figure) and grid.shape == (4 * 9 + 1, 6 * 9 + 1, 3)
    png = matplotlib.image.imread(tmp_path / "fig2.png")
    assert png.shape[0] > 0 and png.shape[1] / png.shape[0] == pytest.approx(6 / 4, rel=0.05)


def test_sample_grid_needs_enough_samples():
    with pytest.raises(ValueError, match="need rows \\* cols = 20 samples; got 3"):
        sample_grid(torch.rand(3, 784), torch.rand(5, 784))


# --------------------------------------------------------------------------- metadata


def test_paper_metadata_reports_table_1():
    paper = get("gan")

    def reported(metric: str) -> list:
        return [r for r in paper.reported if r.metric == metric]

    gan = [r for r in reported("test/parzen_ll") if r.setting.startswith("Adversarial")]
    assert [(r.value, r.source) for r in gan] == [(225.0, "Table 1")]
    assert len(reported("test/parzen_ll")) == 4  # DBN, Stacked CAE, Deep GSN, GAN
    assert {r.value for r in reported("test/parzen_ll_tfd")} == {1909, 2110, 1890, 2057}
    assert paper.citation_key in paper.bibtex and paper.arxiv == "1406.2661"


def test_the_mixture_baseline_is_scored_by_the_papers_parzen_protocol(make_config):
    """On the quick preset's digits: a Gaussian mixture of the training images, its samples
    scored as the GAN's are, sits far above samples of uniform noise under the same protocol."""
    from common.baselines import image_splits
    from papers.gan.baselines import COMPONENTS, gaussian_mixture
    from papers.gan.parzen import parzen_evaluation

    cfg = make_config("paper=gan")
    baseline = gaussian_mixture(cfg)
    data = image_splits(cfg)
    pixels = data["train"][0].shape[1]
    chosen = int(baseline["name"].split(", ")[1].split()[0])
    assert chosen in COMPONENTS and baseline["parameters"] == chosen * (2 * pixels + 1)
    valid = torch.from_numpy(data["val"][0][:1000]).double()
    test = torch.from_numpy(data["test"][0]).double()
    noise = parzen_evaluation(torch.rand(10_000, pixels, dtype=torch.float64), valid, test)
    assert baseline["measure"] == "test/parzen_ll" and baseline["value"] > noise.mean + 10
