"""DeepBeliefNet (papers/dbn/model.py): greedy stage, untying, up-down, classifying, generating."""

import copy

import pytest
import torch

from common.rbm import RBM_M, UP_DOWN, Increments, binary_configurations
from papers.dbn.model import DeepBeliefNet, cd_steps_for_epoch

SIZES = (6, 5, 4, 7)  # vis, hid, pen, top
N_LABELS = 3


pytestmark = pytest.mark.usefixtures("one_thread")


def small_dbn(seed: int = 0, untie: bool = True) -> DeepBeliefNet:
    torch.manual_seed(seed)
    dbn = DeepBeliefNet(SIZES, N_LABELS, weight_std=1.0).double()
    with torch.no_grad():
        for rbm in dbn.rbms:
            rbm.visible_bias.normal_()
            rbm.hidden_bias.normal_()
    if untie:
        dbn.untie()
    return dbn


def batch(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, SIZES[0], generator=g, dtype=torch.float64)
    return images, torch.randint(N_LABELS, (n,), generator=g)


def test_paper_network_has_about_1_7_million_weights() -> None:
    dbn = DeepBeliefNet()  # 784-500-500-2000 + 10 labels (Section 6)
    assert sum(rbm.W.numel() for rbm in dbn.rbms) == 784 * 500 + 500 * 500 + 510 * 2000
    assert dbn.top.n_visible == 500 and dbn.top.n_labels == 10 and dbn.top.n_hidden == 2000


def test_cd_steps_schedule_of_section_6() -> None:
    assert [cd_steps_for_epoch(e) for e in (0, 99, 100, 199, 200, 299)] == [3, 3, 6, 6, 10, 10]
    assert [cd_steps_for_epoch(e, 30) for e in (0, 9, 10, 20, 29)] == [3, 3, 6, 10, 10]
    with pytest.raises(ValueError, match="epoch must be in"):
        cd_steps_for_epoch(300)


def test_greedy_input_is_the_hidden_probabilities_below() -> None:
    dbn, (images, _) = small_dbn(untie=False), batch()
    expected = dbn.rbms[1].hidden_probabilities(dbn.rbms[0].hidden_probabilities(images))
    torch.testing.assert_close(dbn.greedy_input(2, images), expected)
    with pytest.raises(ValueError, match="layer must be in"):
        dbn.greedy_input(3, images)


@pytest.mark.parametrize("layer", [0, 2])
def test_greedy_step_applies_the_cd_update_of_that_layer(layer: int) -> None:
    dbn, (images, labels) = small_dbn(untie=False), batch()
    rbm_before = copy.deepcopy(dbn.rbms[layer])
    v = dbn.greedy_input(layer, images)
    if layer == 2:  # the top RBM sees [pen probabilities, one-hot labels]
        v = rbm_before.join(v, labels)
    expected = rbm_before.contrastive_divergence(
        v, 1, RBM_M, generator=torch.Generator().manual_seed(5)
    )
    lr = 0.05
    metrics = dbn.greedy_step(
        layer,
        images,
        labels,
        Increments(dbn.rbms[layer]),
        lr,
        0.0,
        0.0,
        generator=torch.Generator().manual_seed(5),
    )
    for name, parameter in dbn.rbms[layer].named_parameters():
        before = dict(rbm_before.named_parameters())[name]
        torch.testing.assert_close(parameter - before, lr * expected.gradients[name])
    reconstruction = ((v - expected.negative_visible) ** 2).sum(1).mean()
    torch.testing.assert_close(metrics["reconstruction_error"], reconstruction)
    other = 1 - min(layer, 1)  # a layer that was not trained keeps its weights
    torch.testing.assert_close(dbn.rbms[other].W, small_dbn(untie=False).rbms[other].W)


def test_greedy_training_lowers_reconstruction_error() -> None:
    torch.manual_seed(0)
    dbn = DeepBeliefNet((16, 12, 8, 10), 2)
    g = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(2, 16, generator=g) < 0.5).float()
    labels = torch.randint(2, (100,), generator=g)
    images = (prototypes[labels] + 0.1 * torch.rand(100, 16, generator=g)).clamp(0, 1)
    increments = Increments(dbn.rbms[0])
    errors = [
        dbn.greedy_step(0, images, labels, increments, 0.1, 0.5, 2e-4, generator=g)[
            "reconstruction_error"
        ]
        for _ in range(30)
    ]
    assert errors[-1] < 0.25 * errors[0]


def test_untie_copies_rbm_weights_into_recognition_and_generative_weights() -> None:
    dbn = small_dbn(untie=False)
    with pytest.raises(RuntimeError, match="call untie"):
        dbn.classify(batch()[0])
    dbn.untie()
    for rbm, up, down in zip(dbn.rbms[:-1], dbn.recognition, dbn.generative, strict=True):
        torch.testing.assert_close(up.weight, rbm.W)
        torch.testing.assert_close(down.weight, up.weight.T)
        torch.testing.assert_close(up.bias, rbm.hidden_bias)
        torch.testing.assert_close(down.bias, rbm.visible_bias)
    with pytest.raises(RuntimeError, match="greedy stage is over"):
        dbn.greedy_step(0, *batch(), Increments(dbn.rbms[0]))


def test_up_down_gradients_follow_appendix_b() -> None:
    dbn, (images, labels) = small_dbn(), batch()
    result = dbn.up_down(images, labels, 3, torch.Generator().manual_seed(0))
    wake, sleep, grads, n = result.wake_states, result.sleep_states, result.gradients, len(images)
    assert torch.equal(wake[0], images)
    for states in (wake[1:], sleep[1:]):  # hid and pen states are binary samples
        assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in states)
    # sleepvisprobs: probabilities from the generative weights, not samples.
    torch.testing.assert_close(sleep[0], dbn.generative[0](sleep[1]))
    for l in range(2):
        down, up = dbn.generative[l], dbn.recognition[l]
        wake_error = wake[l] - down(wake[l + 1])  # e.g. data - pvisprobs
        torch.testing.assert_close(grads[f"generative.{l}.weight"], wake[l + 1].T @ wake_error / n)
        torch.testing.assert_close(grads[f"generative.{l}.bias"], wake_error.mean(0))
        sleep_error = sleep[l + 1] - up(sleep[l])  # e.g. sleephidstates - psleephidstates
        torch.testing.assert_close(grads[f"recognition.{l}.weight"], sleep[l].T @ sleep_error / n)
        torch.testing.assert_close(grads[f"recognition.{l}.bias"], sleep_error.mean(0))
    assert {"rbms.2.W", "rbms.2.visible_bias", "rbms.2.hidden_bias"} <= set(grads)
    assert not any(name.startswith(("rbms.0", "rbms.1")) for name in grads)


def test_up_down_top_rbm_uses_appendix_b_statistics() -> None:
    assert (
        UP_DOWN.positive_hidden,
        UP_DOWN.negative_visible,
        UP_DOWN.negative_labels,
        UP_DOWN.negative_hidden,
    ) == ("samples", "samples", "probabilities", "samples")
    dbn, (images, labels) = small_dbn(), batch()
    grads = dbn.up_down(images, labels, 3, torch.Generator().manual_seed(0)).gradients
    # Positive label statistics are the one-hot targets; negative ones softmax probabilities,
    # so the label-bias gradient (targets - neglabprobs) sums to zero over the label group.
    label_bias = grads["rbms.2.visible_bias"][SIZES[2] :]
    torch.testing.assert_close(label_bias.sum(), torch.tensor(0.0, dtype=torch.float64))
    assert not torch.equal(label_bias, torch.zeros_like(label_bias))


def test_up_down_step_updates_recognition_and_generative_weights_separately() -> None:
    dbn, (images, labels) = small_dbn(), batch()
    before = copy.deepcopy(dbn)
    grads = (
        copy.deepcopy(before).up_down(images, labels, 3, torch.Generator().manual_seed(4)).gradients
    )
    lr = 0.1
    dbn.up_down_step(
        images, labels, 3, Increments(dbn), lr, generator=torch.Generator().manual_seed(4)
    )
    old = dict(before.named_parameters())
    for name, parameter in dbn.named_parameters():
        change = parameter - old[name]
        torch.testing.assert_close(change, lr * grads.get(name, torch.zeros_like(change)))
    for up, down in zip(dbn.recognition, dbn.generative, strict=True):
        assert not torch.allclose(up.weight, down.weight.T)


def test_classification_by_free_energy_equals_exact_conditional() -> None:
    dbn, (images, _) = small_dbn(), batch(20)
    top = dbn.top
    with torch.no_grad():  # pen states and labels that vary: a test that is not degenerate
        for up in dbn.recognition:
            up.weight *= 4
        top.W *= 2
    pen = dbn.recognition[1](dbn.recognition[0](images))  # deterministic up-pass
    hidden = binary_configurations(SIZES[3]).unsqueeze(0)
    # p(y | pen) by summing exp(-E) over every top-layer configuration for each label.
    scores = torch.stack(
        [
            torch.logsumexp(
                -top.energy(top.join(pen, torch.full((20,), y)).unsqueeze(1), hidden), 1
            )
            for y in range(N_LABELS)
        ],
        1,
    )
    exact = torch.softmax(scores, 1)
    torch.testing.assert_close(dbn.label_log_probabilities(images).exp(), exact)
    assert torch.equal(dbn.classify(images), exact.argmax(1))
    assert len(dbn.classify(images).unique()) > 1  # not a degenerate test


def test_generation_clamps_the_label_and_runs_one_down_pass() -> None:
    """A hand-built net in which label y turns on top unit y, which turns on pen unit y, which the
    generative weights map to hid unit y and to pixel y."""
    dbn = DeepBeliefNet((3, 3, 3, 3), 3).double()
    dbn.untie()
    eye = torch.eye(3, dtype=torch.float64)
    with torch.no_grad():
        dbn.top.W.copy_(torch.cat([20 * eye, 40 * eye]))  # pen rows, then label rows
        dbn.top.visible_bias.copy_(torch.tensor([-10.0] * 3 + [0.0] * 3))
        dbn.top.hidden_bias.fill_(-30)
        for up, down in zip(dbn.recognition, dbn.generative, strict=True):
            up.weight.copy_(eye)
            down.weight.copy_(40 * eye)
            down.bias.fill_(-20)
    labels = torch.tensor([2, 0, 1, 1])
    images = dbn.generate(labels, gibbs_steps=5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(images, eye[labels], atol=1e-6, rtol=0)


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least"):
        DeepBeliefNet((784, 500))
    with pytest.raises(ValueError, match="n_labels must be >= 2"):
        DeepBeliefNet(SIZES, 1)
    dbn = small_dbn(untie=False)
    with pytest.raises(ValueError, match="pass labels"):
        dbn.greedy_step(2, batch()[0], None, Increments(dbn.rbms[2]))
