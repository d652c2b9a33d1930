"""Section 7: what the learned update is, measured on trained adapters.

Section 7.2 compares the input directions two adapters read. With A = U S V^T (A is r x k), the
right-singular vectors V span the k-dimensional input directions that B A x depends on; for two
adapters the normalised subspace similarity of their top i and top j directions is

    phi(A_1, A_2, i, j) = || V_1[:, :i]^T V_2[:, :j] ||_F^2 / min(i, j)      (in [0, 1])

1 when one span holds the other, about max(i, j) / k for unrelated random directions.

Section 7.3 asks whether Delta W = (alpha / r) B A points where W already points (Table 7): with
U, V the top-r left and right singular vectors of a matrix M, project W onto them,

    || U^T W V ||_F,       M = Delta W, W itself, or a random matrix,

and the amplification factor || Delta W ||_F / || U^T W V ||_F (M = Delta W): how much larger the
update is along its own directions than W is there.
"""

from __future__ import annotations

import statistics

import torch
from torch import Tensor, nn

from papers.lora.lora import LoRALayer, lora_layers


def top_directions(matrix: Tensor, count: int, side: str) -> Tensor:
    """The ``count`` leading singular vectors of ``matrix`` as columns: its ``left`` (output) or
    ``right`` (input) side."""
    u, _, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    return u[:, :count] if side == "left" else vh[:count].T


def subspace_similarity(a_1: Tensor, a_2: Tensor, i: int, j: int) -> float:
    """phi(A_1, A_2, i, j) of Section 7.2, for A_1 (r_1 x k) and A_2 (r_2 x k)."""
    if a_1.shape[1] != a_2.shape[1]:
        raise ValueError(f"A matrices read inputs of sizes {a_1.shape[1]} and {a_2.shape[1]}")
    if not (1 <= i <= a_1.shape[0] and 1 <= j <= a_2.shape[0]):
        raise ValueError(
            f"i = {i}, j = {j}: expected 1 <= i <= {a_1.shape[0]}, j <= {a_2.shape[0]}"
        )
    v_1, v_2 = top_directions(a_1, i, "right"), top_directions(a_2, j, "right")
    return float((v_1.T @ v_2).square().sum() / min(i, j))


def projection(weight: Tensor, directions_of: Tensor, r: int) -> float:
    """|| U^T W V ||_F with U, V the top-r singular vectors of ``directions_of``."""
    u = top_directions(directions_of, r, "left")
    v = top_directions(directions_of, r, "right")
    return float(torch.linalg.matrix_norm(u.T @ weight.double() @ v))


def table_7(layer: LoRALayer, seed: int = 0) -> dict[str, float]:
    """Table 7's numbers for one adapted layer: W projected on the top-r directions of Delta W,
    of W and of a random Gaussian matrix; the Frobenius norms; the amplification factor."""
    weight = layer.base.weight.detach()
    delta = layer.delta_weight().detach()  # laid out as W
    r = layer.r
    random = torch.randn(weight.shape, generator=torch.Generator().manual_seed(seed))
    on_delta = projection(weight, delta, r)
    return {
        "projection_delta": on_delta,
        "projection_weight": projection(weight, weight, r),
        "projection_random": projection(weight, random, r),
        "weight_norm": float(torch.linalg.matrix_norm(weight)),
        "delta_norm": float(torch.linalg.matrix_norm(delta)),
        "amplification": float(torch.linalg.matrix_norm(delta)) / on_delta,
    }


def mean_table_7(model: nn.Module, target: str) -> dict[str, float]:
    """:func:`table_7` averaged over the adapted layers whose name ends in ``target`` (the paper
    reports one layer, the 48th of GPT-3's 96)."""
    chosen = [layer for name, layer in lora_layers(model) if name.endswith(target)]
    rows = [table_7(layer, seed=n) for n, layer in enumerate(chosen)]
    if not rows:
        raise ValueError(f"no adapted layer ends in {target!r}")
    return {key: statistics.fmean(row[key] for row in rows) for key in rows[0]}


def adapter_similarity(model_1: nn.Module, model_2: nn.Module, i: int = 1, j: int = 1) -> dict:
    """phi(A_1, A_2, i, j) averaged over the layers both models adapt, and the same for random
    Gaussian matrices of A's shapes (Figure 4's baseline)."""
    second = dict(lora_layers(model_2))
    pairs = [(layer, second[name]) for name, layer in lora_layers(model_1) if name in second]
    if not pairs:
        raise ValueError("the two models adapt no layer in common")
    generator = torch.Generator().manual_seed(0)
    learned, random = [], []
    for one, two in pairs:
        learned.append(subspace_similarity(one.A.detach(), two.A.detach(), i, j))
        r_1 = torch.randn(one.A.shape, generator=generator)
        r_2 = torch.randn(two.A.shape, generator=generator)
        random.append(subspace_similarity(r_1, r_2, i, j))
    return {
        "subspace_similarity": statistics.fmean(learned),
        "subspace_similarity_random": statistics.fmean(random),
    }
