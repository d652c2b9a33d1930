"""GAN model, losses and optimiser schedule (papers/gan/model.py, papers/gan/schedule.py)."""

import math

import pytest
import torch
from torch import nn

from papers.gan.model import (
    Discriminator,
    Generator,
    Maxout,
    discriminator_loss,
    generator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
    sigmoid_bias_from_marginals,
)
from papers.gan.schedule import Schedule, learning_rate, momentum

torch.set_num_threads(1)


# --------------------------------------------------------------------------- maxout


def test_maxout_matches_hand_computation():
    layer = Maxout(in_features=2, num_units=2, num_pieces=3)
    with torch.no_grad():
        # rows = pieces; unit 0 owns rows 0-2, unit 1 owns rows 3-5 (pylearn2's layout)
        pieces = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 0.0], [0.0, -3.0], [1.0, 1.0]]
        layer.linear.weight.copy_(torch.tensor(pieces))
        layer.linear.bias.copy_(torch.tensor([0.0, 0.0, 0.0, -1.0, 0.0, 0.5]))
    x = torch.tensor([[1.0, 2.0], [-1.0, -2.0]])
    # x=(1,2): unit 0 max(1, 2, -3) = 2; unit 1 max(2-1, -6, 3+0.5) = 3.5
    # x=(-1,-2): unit 0 max(-1, -2, 3) = 3; unit 1 max(-2-1, 6, -3+0.5) = 6
    assert torch.equal(layer(x), torch.tensor([[2.0, 3.5], [3.0, 6.0]]))


def test_maxout_bad_sizes_raise():
    with pytest.raises(ValueError, match="num_pieces"):
        Maxout(4, 3, 0)


# --------------------------------------------------------------------------- init


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_configuration_initial_weight_ranges():
    torch.manual_seed(0)
    g, d = Generator(), Discriminator()
    assert [lin.weight.shape for lin in _linears(g)] == [(1200, 100), (1200, 1200), (784, 1200)]
    assert [lin.weight.shape for lin in _linears(d)] == [(1200, 784), (1200, 240), (1, 240)]
    for model, irange in ((g, 0.05), (d, 0.005)):
        for lin in _linears(model):
            assert lin.weight.abs().max() <= irange
            assert torch.all(lin.bias == 0)
        big = torch.cat([lin.weight.flatten() for lin in _linears(model)[:2]])
        assert big.abs().max() > 0.99 * irange  # uniform over the whole range
        assert big.std().item() == pytest.approx(irange / math.sqrt(3), rel=0.01)


def test_output_bias_from_marginals_reproduces_pixel_means():
    data = torch.tensor([[0.0, 1.0, 0.2, 0.0], [0.0, 1.0, 0.6, 1.0]])
    bias = sigmoid_bias_from_marginals(data)
    assert bias[0].item() == pytest.approx(math.log(1e-7 / (1 - 1e-7)), rel=1e-5)  # clipped
    assert torch.allclose(torch.sigmoid(bias[2:]), torch.tensor([0.4, 0.5]))
    g = Generator(noise_dim=3, hidden_dims=(5,), data_dim=4)
    g.init_output_bias_from_marginals_(data)
    nn.init.zeros_(g.output.weight)  # then G(z) = sigmoid(bias) = the marginals
    assert torch.allclose(g.sample(2)[:, 1:], torch.tensor([1.0, 0.4, 0.5]).expand(2, 3), atol=1e-6)


def test_marginals_need_unit_interval_and_sigmoid_output():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sigmoid_bias_from_marginals(torch.tensor([[0.0, 2.0]]))
    g = Generator(noise_dim=2, hidden_dims=(3,), data_dim=2, output_activation="linear")
    with pytest.raises(ValueError, match="output_activation='sigmoid'"):
        g.init_output_bias_from_marginals_(torch.zeros(2, 2))


# --------------------------------------------------------------------------- generator


def test_generator_noise_and_outputs():
    torch.manual_seed(0)
    g = Generator()
    x = g.sample(50)
    assert x.shape == (50, 784) and x.min() > 0 and x.max() < 1
    z = g.sample_noise(20_000)
    assert abs(z.mean().item()) < 0.01 and z.var().item() == pytest.approx(1.0, abs=0.01)
    u = Generator(noise_dim=100, noise="uniform").sample_noise(20_000)
    assert u.abs().max() <= math.sqrt(3) and u.var().item() == pytest.approx(1.0, abs=0.01)


def test_generator_mixed_activations_for_cifar_fully_connected():
    # cifar10_fully_connected.yaml: ReLU 8000 -> sigmoid 8000 -> linear 3072 (shrunk here)
    g = Generator(8, (16, 16), 12, ("relu", "sigmoid"), "linear", output_irange=0.5)
    kinds = [type(m) for m in g.net]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid, nn.Linear, nn.Identity]
    assert g.output.weight.abs().max() > 0.05


def test_generator_bad_arguments_raise():
    with pytest.raises(ValueError, match="noise must be one of 'gaussian', 'uniform'"):
        Generator(noise="normal")
    with pytest.raises(ValueError, match="hidden_activation needs one entry per hidden layer"):
        Generator(hidden_dims=(4, 4), hidden_activation=("relu",))
    with pytest.raises(ValueError, match="hidden_activation must be one of"):
        Generator(hidden_dims=(4,), hidden_activation="tanh")


# --------------------------------------------------------------------------- discriminator


def test_discriminator_dropout_on_each_layer_input():
    torch.manual_seed(0)
    d = Discriminator()
    seen: list[torch.Tensor] = []
    maxouts = [m for m in d.net if isinstance(m, Maxout)]
    maxouts[0].register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    x = torch.rand(200, 784) + 0.5
    d.train()
    d(x)
    kept = seen[-1] != 0
    assert kept.double().mean().item() == pytest.approx(0.8, abs=0.01)
    assert torch.allclose(seen[-1][kept], 1.25 * x[kept])  # inverted dropout scale
    p = [m.p for m in d.net if isinstance(m, nn.Dropout)]
    assert p == pytest.approx([0.2, 0.5, 0.5])  # before maxout 1, maxout 2 and the sigmoid
    d.eval()
    assert torch.equal(d(x), d(x)) and d(x).shape == (200,)


def test_discriminator_bad_include_prob_raises():
    with pytest.raises(ValueError, match=r"input_include_prob must be in \(0, 1\]"):
        Discriminator(input_include_prob=0.0)


# --------------------------------------------------------------------------- losses


def test_discriminator_loss_matches_value_function_and_is_stable():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # V(D, G), Eq. (1)
    assert discriminator_loss(real, fake).item() == pytest.approx(-0.5 * value.item(), rel=1e-6)
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))
    # saturated D: naive log(sigmoid) would give inf
    saturated = discriminator_loss(torch.tensor([-200.0]), torch.tensor([200.0]))
    assert saturated.item() == pytest.approx(200.0)


def test_generator_objectives_logit_gradients():
    logits = torch.tensor([-10.0, -1.0, 0.0, 3.0], requires_grad=True)
    d = torch.sigmoid(logits.detach())
    n = len(logits)
    (grad_ns,) = torch.autograd.grad(non_saturating_generator_loss(logits), logits)
    (grad_mm,) = torch.autograd.grad(minimax_generator_loss(logits), logits)
    # d/dl -log sigmoid(l) = -(1 - D);  d/dl log(1 - sigmoid(l)) = -D
    assert torch.allclose(grad_ns, -(1 - d) / n)
    assert torch.allclose(grad_mm, -d / n)
    # Section 3: when D rejects samples (D ~ 0) the minimax gradient vanishes, the other does not
    assert grad_mm[0].abs() < 1e-4 * grad_ns[0].abs()


def test_generator_objectives_gradients_through_d_on_fixed_batch():
    torch.manual_seed(0)
    d = Discriminator(data_dim=6, num_units=(8,), num_pieces=3, irange=0.5).eval()
    fake = torch.randn(5, 6, requires_grad=True)
    logits = d(fake)
    (g_ns,) = torch.autograd.grad(generator_loss(logits, "non_saturating"), fake, retain_graph=True)
    (g_mm,) = torch.autograd.grad(generator_loss(logits, "minimax"), fake, retain_graph=True)
    dl_dx = torch.stack(
        [torch.autograd.grad(logits[i], fake, retain_graph=True)[0][i] for i in range(5)]
    )
    p = torch.sigmoid(logits.detach())[:, None]
    assert torch.allclose(g_ns, -(1 - p) * dl_dx / 5, atol=1e-7)
    assert torch.allclose(g_mm, -p * dl_dx / 5, atol=1e-7)
    # same direction per sample (same fixed point), different weights
    assert torch.allclose(g_ns * p, g_mm * (1 - p), atol=1e-7)


def test_generator_loss_unknown_objective_raises():
    with pytest.raises(ValueError, match="objective must be one of 'non_saturating', 'minimax'"):
        generator_loss(torch.zeros(2), "wasserstein")


# --------------------------------------------------------------------------- schedules


class _Pylearn2Callbacks:
    """The configuration's callbacks as pylearn2 calls them, counters and all."""

    def __init__(self):
        self.lr, self.momentum = 0.1, 0.5
        self._updates, self._monitors = 0, 0

    def after_update(self):  # ExponentialDecay(1.000004, 1e-6), called after every SGD update
        self._updates += 1
        self.lr = max(0.1 / 1.000004**self._updates, 1e-6)

    def on_monitor(self):  # MomentumAdjustor(start=1, saturate=250, final=0.7)
        self._monitors += 1
        alpha = min(max((self._monitors - 1) / 249, 0.0), 1.0)
        self.momentum = 0.5 * (1 - alpha) + 0.7 * alpha


def test_schedules_follow_the_configuration_step_by_step():
    callbacks, schedule = _Pylearn2Callbacks(), Schedule()
    callbacks.on_monitor()  # pylearn2 monitors once before the first epoch
    step = 0
    for epoch in range(260):
        for _ in range(3):  # a few updates per epoch is enough to interleave the counters
            assert schedule.learning_rate(step) == pytest.approx(callbacks.lr, rel=1e-12)
            assert schedule.momentum(epoch) == pytest.approx(callbacks.momentum, rel=1e-12)
            callbacks.after_update()
            step += 1
        callbacks.on_monitor()


def test_schedule_values():
    assert learning_rate(0) == 0.1 and learning_rate(1) == pytest.approx(0.1 / 1.000004)
    floor = math.ceil(math.log(0.1 / 1e-6) / math.log(1.000004))  # about 2.9M updates
    assert learning_rate(floor - 1) > 1e-6 and learning_rate(floor) == 1e-6
    assert learning_rate(10**12) == 1e-6  # no overflow
    assert momentum(0) == 0.5 and momentum(1) == pytest.approx(0.5 + 0.2 / 249)
    assert momentum(249) == pytest.approx(0.7) and momentum(10_000) == pytest.approx(0.7)
    assert momentum(3, start=2, saturate=2) == 0.7 and momentum(0, start=2, saturate=2) == 0.5


def test_schedule_bad_arguments_raise():
    with pytest.raises(ValueError, match="step must be >= 0"):
        learning_rate(-1)
    with pytest.raises(ValueError, match="saturate must be >= start"):
        momentum(0, start=5, saturate=2)
    with pytest.raises(ValueError, match="optimizer must be torch.optim.SGD"):
        Schedule().apply(torch.optim.Adam([nn.Parameter(torch.zeros(1))]), 0, 0)


def test_apply_makes_torch_sgd_take_pylearn2_momentum_steps():
    # pylearn2 Momentum: v <- m v - lr g ; p <- p + v. A fast decay makes any mismatch visible.
    schedule = Schedule(base_lr=0.3, decay_factor=1.5, momentum_saturate=4)
    target = torch.tensor([1.0, -2.0])
    p = nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([p], lr=1.0, momentum=0.0)
    p_ref, v = torch.zeros(2), torch.zeros(2)
    for step in range(12):
        epoch = step // 3
        lr, m = schedule.apply(optimizer, step, epoch)
        assert (lr, m) == (schedule.learning_rate(step), schedule.momentum(epoch))
        loss = ((p - target) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        v = m * v - lr * 2 * (p_ref - target)
        p_ref = p_ref + v
        assert torch.allclose(p.detach(), p_ref, atol=1e-6)


# --------------------------------------------------------------------------- smoke tests


def _algorithm_1(g, d, data, steps, k=1, objective="non_saturating", batch=64):
    """Algorithm 1: k discriminator updates, then one generator update, SGD with momentum."""
    schedule = Schedule(base_lr=0.05)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.05)
    opt_d = torch.optim.SGD(d.parameters(), lr=0.05)
    for step in range(steps):
        schedule.apply(opt_d, step, step // 100)
        schedule.apply(opt_g, step, step // 100)
        for _ in range(k):
            loss_d = discriminator_loss(d(data(batch)), d(g.sample(batch).detach()))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = generator_loss(d(g.sample(batch)), objective)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()


@pytest.mark.parametrize("k", [1, 2])
def test_smoke_algorithm_1_moves_generator_towards_the_data(k):
    torch.manual_seed(0)
    g = Generator(noise_dim=4, hidden_dims=(32,), data_dim=1, output_activation="linear")
    d = Discriminator(1, (16,), 5, input_include_prob=1.0, hidden_include_prob=1.0)
    start = g.sample(2000).mean().item()
    _algorithm_1(g, d, lambda n: 2.0 + 0.25 * torch.randn(n, 1), steps=500, k=k)
    end = g.sample(2000).mean().item()
    assert abs(start) < 0.1 and abs(end - 2.0) < 0.6


def test_smoke_small_digits_model_one_discriminator_step_improves_it():
    torch.manual_seed(0)
    g = Generator(noise_dim=16, hidden_dims=(64, 64), data_dim=64)  # 8x8 digits
    d = Discriminator(data_dim=64, num_units=(32, 32), num_pieces=5, irange=0.05)
    real = (torch.rand(100, 64) > 0.7).float()
    g.init_output_bias_from_marginals_(real)
    fake = g.sample(100).detach()
    optimizer = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.5)

    def loss_eval() -> float:
        d.eval()
        with torch.no_grad():
            return discriminator_loss(d(real), d(fake)).item()

    before = loss_eval()
    d.train()
    loss = discriminator_loss(d(real), d(fake))
    loss.backward()
    optimizer.step()
    assert before == pytest.approx(math.log(2), abs=0.01)  # tiny weights: D = 1/2
    assert loss_eval() < before
