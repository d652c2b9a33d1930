"""Section 7 (papers/lora/subspace.py): phi of Section 7.2 on adapters of known directions, Table
7's projections on a weight of known singular values, and the module's twin adapter."""

import pytest
import torch
from torch import nn

from common import registry
from common.config import build
from common.errors import ConfigError
from common.train import train
from papers.lora.lora import LoRAEmbedding, LoRALinear
from papers.lora.module import LoRAClassifier
from papers.lora.subspace import subspace_similarity, table_7

SMOKE = registry.get("lora").smoke_overrides


def rows(*pairs: tuple[float, int], k: int = 6) -> torch.Tensor:
    """An A whose rows are scale * e_index: its input directions and their order are known."""
    a = torch.zeros(len(pairs), k)
    for row, (scale, index) in enumerate(pairs):
        a[row, index] = scale
    return a


def test_phi_compares_the_input_directions_in_order_of_their_singular_values():
    a_1 = rows((3.0, 0), (1.0, 1))  # top direction e_0, then e_1
    a_2 = rows((1.0, 0), (2.0, 1), (0.5, 2))  # top direction e_1, then e_0, then e_2
    assert subspace_similarity(a_1, a_2, 1, 1) == pytest.approx(0.0)
    assert subspace_similarity(a_1, a_2, 1, 2) == pytest.approx(1.0)  # e_0 is in A_2's top 2
    assert subspace_similarity(a_1, a_2, 2, 2) == pytest.approx(1.0)
    assert subspace_similarity(a_1, a_2, 2, 3) == pytest.approx(1.0)  # divided by min(i, j)
    assert subspace_similarity(a_1, rows((1.0, 3), (1.0, 4)), 2, 2) == pytest.approx(0.0)
    tilted = torch.tensor([[1.0, 1.0, 0, 0, 0, 0]])  # 45 degrees from e_0: cos^2 = 1/2
    assert subspace_similarity(a_1, tilted, 1, 1) == pytest.approx(0.5)


def test_phi_of_random_directions_is_about_one_over_the_input_size():
    generator = torch.Generator().manual_seed(0)
    k = 200
    draws = [
        subspace_similarity(
            torch.randn(8, k, generator=generator), torch.randn(64, k, generator=generator), 1, 1
        )
        for _ in range(300)
    ]
    assert 0.7 / k < sum(draws) / len(draws) < 1.4 / k  # E = 1 / k for one direction


def test_phi_refuses_what_it_cannot_compare():
    with pytest.raises(ValueError, match="inputs of sizes 6 and 5"):
        subspace_similarity(torch.ones(2, 6), torch.ones(2, 5), 1, 1)
    with pytest.raises(ValueError, match=r"i = 3, j = 1: expected 1 <= i <= 2, j <= 2"):
        subspace_similarity(torch.ones(2, 6), torch.ones(2, 6), 3, 1)


def linear_with(weight: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> LoRALinear:
    base = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer = LoRALinear(base, r=a.shape[0], alpha=2.0 * a.shape[0])  # scaling 2
    with torch.no_grad():
        base.weight.copy_(weight)
        layer.A.copy_(a)
        layer.B.copy_(b)
    return layer


def test_table_7_projects_w_on_the_top_directions_of_delta_w_of_w_and_of_noise():
    weight = torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.0]))[:, :4]  # singular values 5, 3, 1, 0
    # Delta W = 2 * 0.5 e_2 e_2^T: along W's weakest non-zero direction (singular value 1)
    layer = linear_with(weight, rows((0.5, 2), k=4).T, rows((1.0, 2), k=4))
    row = table_7(layer)
    assert row["projection_delta"] == pytest.approx(1.0)  # W seen along e_2: its 1
    assert row["projection_weight"] == pytest.approx(5.0)  # W's own top direction
    assert row["delta_norm"] == pytest.approx(1.0)
    assert row["weight_norm"] == pytest.approx(35**0.5)
    assert row["amplification"] == pytest.approx(1.0 / 1.0)
    assert 0 < row["projection_random"] < 5.0
    # along W's top direction, Delta W amplifies nothing W lacks: 0.1 / 5
    along_top = table_7(linear_with(weight, rows((0.05, 0), k=4).T, rows((1.0, 0), k=4)))
    assert along_top["projection_delta"] == pytest.approx(5.0)
    assert along_top["amplification"] == pytest.approx(0.1 / 5.0)


def test_table_7_reads_an_embedding_in_its_stored_layout():
    base = nn.Embedding(5, 3)  # W stored vocab x dim
    with torch.no_grad():
        base.weight.zero_()
        base.weight[4, 1] = 7.0  # one strong entry: token 4 -> dimension 1
    layer = LoRAEmbedding(base, r=1, alpha=1.0)
    with torch.no_grad():
        layer.A.copy_(rows((1.0, 4), k=5))  # reads token 4
        layer.B.copy_(rows((1.0, 1), k=3).T)  # writes dimension 1
    assert table_7(layer)["projection_delta"] == pytest.approx(7.0)


def test_a_twin_adapter_trains_beside_the_first_and_gives_phi(make_config):
    cfg = make_config("paper=lora", *SMOKE, "model.twin_rank=4", "logger=none")
    module = build(cfg.model)
    twin_a = {n for n, p in module.named_parameters() if p.requires_grad and n.startswith("twin")}
    assert any(n.endswith("query.A") for n in twin_a) and module.twin.bert is not module.net.bert
    a_shapes = {p.shape for n, p in module.twin.named_parameters() if n.endswith(".A")}
    assert a_shapes == {torch.Size([4, 384])}
    summary = train(cfg)
    metrics = summary["metrics"]
    assert 0.0 <= metrics["test/subspace_similarity"] <= 1.0
    assert 0.0 <= metrics["test/subspace_similarity_random"] < 0.05  # about 1/384 a direction
    assert metrics["test/projection_weight"] > metrics["test/projection_delta"]
    checkpoint = torch.load(summary["best_checkpoint"], weights_only=False)
    assert twin_a <= set(checkpoint["state_dict"])  # the twin is saved with the run


def test_the_twin_needs_lora():
    with pytest.raises(ConfigError, match="twin_rank trains a second LoRA adapter"):
        LoRAClassifier(method="full", twin_rank=64)
