"""Section 5's schedule and loss, Section 6.1's checkpoint averaging (training.py)."""

from __future__ import annotations

import math

import pytest
import torch

from papers.transformer.training import (
    average_checkpoints,
    label_smoothed_loss,
    lrate,
    per_global_token,
)


def test_lrate_at_steps_1_4000_and_8000():
    assert lrate(1, 512) == pytest.approx(512**-0.5 * 4000**-1.5)
    assert lrate(4000, 512) == pytest.approx(512**-0.5 * 4000**-0.5)  # the peak, about 7.0e-4
    assert lrate(4000, 512) == pytest.approx(6.988e-4, rel=1e-3)
    assert lrate(8000, 512) == pytest.approx(512**-0.5 * 8000**-0.5)
    assert lrate(3999, 512) < lrate(4000, 512) > lrate(4001, 512)
    with pytest.raises(ValueError, match="from 1"):
        lrate(0, 512)


def test_label_smoothed_loss_by_hand():
    logits = torch.tensor([[[2.0, 0.5, -1.0, 0.0], [0.0, 1.0, 3.0, -2.0], [1.0, 1.0, 1.0, 1.0]]])
    targets = torch.tensor([[1, 2, 0]])  # the last position is padding (pad_id 0)
    epsilon, vocab = 0.1, 4
    smoothed, nll = label_smoothed_loss(logits, targets, epsilon, pad_id=0)
    expected_smoothed = expected_nll = 0.0
    for t in range(2):
        log_p = [v - math.log(sum(math.exp(x) for x in logits[0, t])) for v in logits[0, t]]
        y = int(targets[0, t])
        q = [(1 - epsilon) * (k == y) + epsilon / vocab for k in range(vocab)]
        expected_smoothed -= sum(qk * float(lp) for qk, lp in zip(q, log_p, strict=True))
        expected_nll -= float(log_p[y])
    assert float(smoothed) == pytest.approx(expected_smoothed, rel=1e-6)
    assert float(nll) == pytest.approx(expected_nll, rel=1e-6)
    unsmoothed, _ = label_smoothed_loss(logits, targets, 0.0, pad_id=0)
    assert float(unsmoothed) == pytest.approx(expected_nll, rel=1e-6)


def test_checkpoint_averaging_is_the_mean_of_the_weights(tmp_path):
    paths = []
    for i in range(3):
        state = {"w": torch.full((2, 2), float(i)), "steps": torch.tensor(10 * i)}
        paths.append(tmp_path / f"{i}.ckpt")
        torch.save({"state_dict": state}, paths[-1])
    average = average_checkpoints(paths)
    assert torch.equal(average["w"], torch.full((2, 2), 1.0))
    assert int(average["steps"]) == 20  # integer buffers: the last checkpoint's
    torch.save({"state_dict": {"w": torch.zeros(3)}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="other.ckpt does not hold the same weights"):
        average_checkpoints([tmp_path / "other.ckpt", paths[0]])
    with pytest.raises(ValueError, match="no checkpoints"):
        average_checkpoints([])


@pytest.mark.parametrize(("world_size", "accumulate"), [(1, 1), (2, 1), (1, 3), (2, 2)])
def test_any_cut_of_a_global_batch_makes_one_processs_step(world_size, accumulate):
    """The gradient DDP (mean over processes) and Lightning (each piece's loss / accumulate)
    make from the pieces equals the gradient of the whole batch's loss per target token."""
    torch.manual_seed(0)
    weight = torch.randn(5, 7, requires_grad=True)
    inputs, targets = torch.randn(24, 7), torch.randint(0, 5, (24,))
    targets[::5] = 0  # padding: no target
    tokens = int((targets != 0).sum())

    def loss_sum(rows: slice) -> torch.Tensor:
        logits = (inputs[rows] @ weight.T).unsqueeze(0)
        return label_smoothed_loss(logits, targets[rows].unsqueeze(0), 0.1, pad_id=0)[0]

    (whole,) = torch.autograd.grad(loss_sum(slice(None)) / tokens, weight)
    pieces = world_size * accumulate
    size = 24 // pieces
    per_process = []
    for process in range(world_size):
        gradient = torch.zeros_like(weight)
        for step in range(accumulate):
            start = (process * accumulate + step) * size
            piece = per_global_token(
                loss_sum(slice(start, start + size)), tokens, world_size, accumulate
            )
            gradient += torch.autograd.grad(piece / accumulate, weight)[0]
        per_process.append(gradient)
    torch.testing.assert_close(sum(per_process) / world_size, whole)
