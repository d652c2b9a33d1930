"""Low-rank adaptation (Hu et al. 2021, Section 4.1), on any ``torch.nn`` model.

A frozen weight W0 (d x k) is adapted by a product of two small matrices, B (d x r) and A (r x k):

    h = W0 x + (alpha / r) B A x                         (Equation 3, with Section 4.1's scaling)

Only A and B are trained. At the start B = 0, so the adapted model is the pretrained one.

- :class:`LoRALinear`, :class:`LoRAEmbedding`: one adapted layer (``nn.Linear`` or GPT-2's
  ``Conv1D``, which stores its weight transposed; ``nn.Embedding``); ``merge`` folds the update into
  the weight (W = W0 + (alpha / r) B A: inference costs what the base model costs, Section 4.1's
  "no additional inference latency"), ``unmerge`` takes it out again.
- :func:`apply_lora`: adapt the layers whose names match patterns (W_q and W_v by default, as in
  most of the paper's experiments), freeze everything else but the modules named ``trainable``
  (a classification head).
- :func:`save_adapter` / :func:`load_adapter`: an adapter-only file (A, B, the trainable head),
  stamped with a digest of the base weights it was trained on, so that it is refused on another
  base; :func:`switch_adapter`: the paper's task switch on a merged model, subtract one update
  and add another.

GPT-2 computes W_q, W_k and W_v in one matrix (``c_attn``, 3 d_model outputs). The paper adapts
W_q and W_v only; the authors' ``loralib.MergedLinear`` gives each enabled third its own A and B
(``enable_lora=[True, False, True]``). ``parts=("q", "v")`` does the same here: W_k's third gets no
update. (PEFT, asked for ``c_attn``, adapts the whole fused matrix with one A and B.)

Initialisation (``init``): ``gaussian`` draws A from N(0, 1/r^2) as the paper says ("random
Gaussian initialization for A", no variance given; 1/r is PEFT's ``init_lora_weights="gaussian"``),
``kaiming_uniform`` draws A as ``nn.Linear`` draws its weight (uniform, a = sqrt(5)), which is
what the authors' ``loralib`` and PEFT's default do. B = 0 in both. For an embedding the authors'
code reverses the roles (A = 0, B ~ N(0, 1)); ``kaiming_uniform`` follows it there too.

Merging then unmerging in float32 restores W0 to rounding (about 1e-8 here), not exactly: no copy
of W0 is kept, which is the point of the method's memory saving.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers.pytorch_utils import Conv1D

from common.errors import CheckpointError, ConfigError

INITS = ("gaussian", "kaiming_uniform")
PARTS = ("q", "k", "v")  # the thirds of a fused projection, in GPT-2's order


@dataclass(frozen=True)
class LoRAConfig:
    """What :func:`apply_lora` adapts, and how; saved with every adapter."""

    r: int = 8
    alpha: float = 8.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("query", "value")
    init: str = "gaussian"
    trainable: tuple[str, ...] = field(default_factory=tuple)  # trained in full (a head)
    parts: tuple[str, ...] = ()  # of a fused q,k,v target (GPT-2's c_attn): the thirds adapted

    def __post_init__(self) -> None:
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown or len(set(self.parts)) != len(self.parts):
            raise ConfigError(
                f"lora parts={list(self.parts)}: expected distinct names among {', '.join(PARTS)} "
                "(the thirds of a target that computes q, k and v in one matrix)"
            )
        if self.init not in INITS:
            raise ConfigError(f"lora init={self.init!r}: expected one of {', '.join(INITS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora dropout={self.dropout}: expected a probability below 1")
        check_rank(self.r, None, "")


def check_rank(r: int, full_rank: int | None, name: str) -> None:
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ConfigError(f"lora r={r!r}: the rank must be a positive integer")
    if full_rank is not None and r > full_rank:
        raise ConfigError(
            f"lora r={r} is above the rank of {name} ({full_rank}): "
            "a low-rank update cannot have more directions than the matrix"
        )


class LoRALayer(nn.Module):
    """What the Linear and Embedding versions share: A, B, the scaling, merge and unmerge."""

    def __init__(
        self, base: nn.Module, d: int, k: int, r: int, alpha: float, name: str, blocks: int = 1
    ) -> None:
        """``blocks`` updates side by side (the adapted parts of a fused projection): d rows in
        all, each block's B (d / blocks x r) and A (r x k) stacked."""
        super().__init__()
        check_rank(r, min(d // blocks, k), name or type(base).__name__)
        self.base = base
        for parameter in base.parameters():
            parameter.requires_grad_(False)
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r  # Section 4.1: scale by alpha / r, so alpha is not retuned with r
        self.A = nn.Parameter(torch.empty(blocks * r, k))  # A in R^{r x k}, per block
        self.B = nn.Parameter(torch.zeros(d, r))  # B in R^{d x r}, per block
        self.merged = False

    def delta_weight(self) -> Tensor:
        """(alpha / r) B A, laid out as the base layer stores its weight."""
        raise NotImplementedError

    def merge(self) -> None:
        """W = W0 + (alpha / r) B A: the forward pass is the base layer's alone."""
        if not self.merged:
            self.base.weight.data += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    def unmerge(self) -> None:
        """W0 = W - (alpha / r) B A (to float rounding)."""
        if self.merged:
            self.base.weight.data -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False


class LoRALinear(LoRALayer):
    """h = W0 x + (alpha / r) B A dropout(x) for an ``nn.Linear`` (W0: out x in) or transformers'
    ``Conv1D`` (GPT-2's layers: h = x W0 + b with W0 stored in x out; A and B keep the paper's
    layout, the merge adds (B A)^T).

    ``parts`` (a fused q,k,v projection: one flag per third): each enabled third i gets its own
    update B_i A_i; a disabled third's rows of Delta W are zero."""

    def __init__(
        self,
        base: nn.Linear | Conv1D,
        r: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "gaussian",
        name: str = "",
        parts: tuple[bool, ...] = (),
    ) -> None:
        self.transposed = isinstance(base, Conv1D)
        k, d = base.weight.shape if self.transposed else base.weight.shape[::-1]
        if parts and d != len(parts) * k:
            raise ConfigError(
                f"lora parts: {name} maps {k} inputs to {d} outputs, not to {len(parts)} x {k} "
                "(q, k, v side by side); with parts, name only fused q,k,v layers as targets"
            )
        blocks = sum(parts) if parts else 1
        self.part_size = d // len(parts) if parts else d
        super().__init__(base, blocks * self.part_size, k, r, alpha, name, blocks)
        self.parts = parts
        # dropout on the branch's input only, as loralib and PEFT apply it (the paper names none)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if init == "gaussian":
            nn.init.normal_(self.A, std=1.0 / r)
        else:  # as nn.Linear draws its weight (the bound depends on k alone, not on the blocks)
            nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))

    def update(self) -> Tensor:
        """(alpha / r) B A as an (out, in) matrix: the parts' blocks B_i A_i, zero elsewhere."""
        if not self.parts:
            return self.B @ self.A * self.scaling  # (out, r) @ (r, in)
        blocks = zip(self.B.split(self.part_size), self.A.split(self.r), strict=True)
        zero = self.A.new_zeros(self.part_size, self.A.shape[1])
        rows = []
        for on in self.parts:
            if on:
                b, a = next(blocks)
                rows.append(b @ a)  # (part, r) @ (r, in)
            else:
                rows.append(zero)
        return torch.cat(rows) * self.scaling

    def delta_weight(self) -> Tensor:
        return self.update().T if self.transposed else self.update()

    def forward(self, x: Tensor) -> Tensor:
        h = self.base(x)  # W0 x (W0 + BA once merged)
        if self.merged:
            return h
        # (..., in) @ (in, r) @ (r, out): never forms the d x k product
        z = self.dropout(x) @ self.A.T  # (..., blocks * r)
        if not self.parts:
            return h + z @ self.B.T * self.scaling
        updates = iter(
            zi @ bi.T
            for zi, bi in zip(z.split(self.r, -1), self.B.split(self.part_size), strict=True)
        )  # (..., part_size) per enabled part
        zero = h.new_zeros(*h.shape[:-1], self.part_size)
        update = torch.cat([next(updates) if on else zero for on in self.parts], -1)
        return h + update * self.scaling


class LoRAEmbedding(LoRALayer):
    """An embedding is a Linear map of one-hot inputs x (vocab): h = W0 x + (alpha / r) B A x,
    with A (r x vocab) looked up by row and B (dim x r), the orientation of loralib and PEFT.
    ``nn.Embedding`` stores W0 transposed (vocab x dim), so the merge adds (B A)^T."""

    def __init__(
        self,
        base: nn.Embedding,
        r: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "gaussian",
        name: str = "",
    ) -> None:
        if dropout > 0:
            raise ConfigError(
                f"{name or 'an embedding'}: LoRA dropout on one-hot inputs is undefined"
            )
        super().__init__(base, base.embedding_dim, base.num_embeddings, r, alpha, name)
        if init == "gaussian":  # the paper's roles: A random, B zero
            nn.init.normal_(self.A, std=1.0 / r)
        else:  # loralib's (and PEFT's) reversed roles: the looked-up A zero, B from N(0, 1)
            nn.init.zeros_(self.A)
            nn.init.normal_(self.B)

    def delta_weight(self) -> Tensor:
        return (self.B @ self.A).T * self.scaling  # (vocab, dim), as nn.Embedding stores W0

    def forward(self, ids: Tensor) -> Tensor:
        h = self.base(ids)
        if self.merged:
            return h
        b = self.base
        rows = F.embedding(ids, self.A.T, b.padding_idx, b.max_norm, b.norm_type,
                           b.scale_grad_by_freq, b.sparse)  # fmt: skip
        return h + rows @ self.B.T * self.scaling  # (..., r) @ (r, dim)


ADAPTABLE = {nn.Linear: LoRALinear, Conv1D: LoRALinear, nn.Embedding: LoRAEmbedding}


def matches(name: str, pattern: str) -> bool:
    """PEFT's rule: a pattern names a module by its full name or its last parts ("query" is
    ``encoder.layer.0.attention.self.query``), or is a regular expression of the full name."""
    return (
        name == pattern or name.endswith("." + pattern) or re.fullmatch(pattern, name) is not None
    )


def candidate_names(model: nn.Module) -> list[str]:
    """The last name of every layer LoRA could adapt (what a target pattern may say)."""
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if type(m) in ADAPTABLE}
    return sorted(names)


def trainable_modules(model: nn.Module, patterns: Sequence[str]) -> list[str]:
    """The modules trained in full; a pattern that names none is refused."""
    names = [n for n, _ in model.named_modules() if n and any(matches(n, p) for p in patterns)]
    missing = [p for p in patterns if not any(matches(n, p) for n in names)]
    if missing:
        raise ConfigError(
            f"lora trainable={missing} matches no module; the top-level modules are: "
            f"{', '.join(n for n, _ in model.named_children())}"
        )
    return names


def apply_lora(model: nn.Module, config: LoRAConfig) -> list[str]:
    """Adapt every Linear or Embedding whose name matches a target, in place; freeze the rest
    but the modules ``config.trainable`` names. Returns the adapted modules' names.

    A layer inside a trainable module is trained in full, not adapted: targeting every Linear
    must not wrap the classification head. A target that matches no layer is refused, with the
    names that would match."""
    in_trainable = trainable_modules(model, config.trainable)

    def trained_in_full(name: str) -> bool:
        return any(name == t or name.startswith(t + ".") for t in in_trainable)

    chosen = {
        name: module
        for name, module in model.named_modules()
        if type(module) in ADAPTABLE
        and not trained_in_full(name)
        and any(matches(name, p) for p in config.targets)
    }
    for pattern in config.targets:
        if not any(matches(name, pattern) for name in chosen):
            raise ConfigError(
                f"lora target {pattern!r} matches no Linear or Embedding layer outside the "
                f"trainable modules; the layers are named: {', '.join(candidate_names(model))}"
            )
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for name, module in chosen.items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        wrapper = ADAPTABLE[type(module)]
        kwargs = {"dropout": config.dropout, "init": config.init, "name": name}
        if config.parts:
            if wrapper is not LoRALinear:
                raise ConfigError(f"lora parts: {name} is an embedding, not a fused projection")
            kwargs["parts"] = tuple(p in config.parts for p in PARTS)
        setattr(parent, child, wrapper(module, config.r, config.alpha, **kwargs))
    for name in in_trainable:
        model.get_submodule(name).requires_grad_(True)
    return list(chosen)


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALayer]]:
    return ((n, m) for n, m in model.named_modules() if isinstance(m, LoRALayer))


def adapter_parameters(model: nn.Module) -> int:
    """The entries of every A and B: what the paper's "# Trainable Parameters" counts."""
    return sum(layer.A.numel() + layer.B.numel() for _, layer in lora_layers(model))


def adapted_matrices(model: nn.Module) -> int:
    """The paper's L_LoRA: weight matrices adapted (each adapted third of a fused q,k,v one)."""
    return sum(
        sum(layer.parts) if getattr(layer, "parts", ()) else 1 for _, layer in lora_layers(model)
    )


def merge(model: nn.Module) -> None:
    """Fold every update into its weight: the model runs at the base model's speed."""
    for _, layer in lora_layers(model):
        layer.merge()


def unmerge(model: nn.Module) -> None:
    for _, layer in lora_layers(model):
        layer.unmerge()


def paper_parameter_count(adapted: int, d_model: int, r: int) -> int:
    """Section 5.1's count: |Theta| = 2 x L_LoRA x d_model x r, for ``adapted`` (L_LoRA) square
    d_model x d_model weights adapted at rank r (A and B: r x d_model each)."""
    return 2 * adapted * d_model * r


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- adapter-only files ---------------------------------------------------------------------


def base_name(name: str) -> str:
    """A parameter's name in the unadapted model (``query.base.weight`` -> ``query.weight``)."""
    return name.replace(".base.", ".")


def base_digest(model: nn.Module, config: LoRAConfig) -> str:
    """SHA-256 of the frozen base weights (names and values): what an adapter was trained on.
    The adapter's own matrices and the trainable modules (saved with it) are left out; merged
    weights are read unmerged."""
    skipped = tuple(n + "." for n in trainable_modules(model, config.trainable))
    merged = [layer for _, layer in lora_layers(model) if layer.merged]
    for layer in merged:
        layer.unmerge()
    try:
        digest = hashlib.sha256()
        for name, tensor in sorted(model.state_dict().items()):
            if name.endswith((".A", ".B")) or name.startswith(skipped):
                continue
            digest.update(base_name(name).encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    finally:
        for layer in merged:
            layer.merge()
    return digest.hexdigest()


def adapter_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """What training changed: every A and B, and the trainable modules' parameters."""
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t.detach().clone() for n, t in model.state_dict().items() if n in trained}


def save_adapter(model: nn.Module, config: LoRAConfig, path: str | Path, base: str) -> int:
    """Write the adapter (A, B, the head) with its config and the base's digest; its size in
    bytes. ``base`` names the base model for the message that refuses another."""
    state = adapter_state_dict(model)
    if any(layer.merged for _, layer in lora_layers(model)):
        raise ConfigError("unmerge the model before saving its adapter (its weights hold B A)")
    torch.save(
        {"config": asdict(config), "base": base, "digest": base_digest(model, config),
         "state_dict": state},
        path,
    )  # fmt: skip
    return Path(path).stat().st_size


def load_adapter(model: nn.Module, path: str | Path, base: str) -> LoRAConfig:
    """Adapt an unadapted ``model`` as the file says and load its weights; refused when the
    file was trained on other base weights (both named)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = LoRAConfig(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in saved["config"].items()}
    )  # noqa: E501
    if any(True for _ in lora_layers(model)):
        raise ConfigError("load_adapter adapts a plain base model; this one is adapted already")
    digest = base_digest(model, config)
    if digest != saved["digest"]:
        raise CheckpointError(
            f"{path} is an adapter of {saved['base']} (base weights {saved['digest'][:12]}), "
            f"not of this model, {base} (base weights {digest[:12]})"
        )
    apply_lora(model, config)
    load_trained(model, saved["state_dict"])
    return config


def load_trained(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load an adapter's tensors into an adapted model: every one of them must have a place."""
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise CheckpointError(
            f"the adapter holds tensors this model has no place for: {result.unexpected_keys[:5]}"
        )


def switch_adapter(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Section 4.1's task switch on a merged model: subtract this task's B A, load the other
    task's A and B (and head), add its B A."""
    unmerge(model)
    load_trained(model, state)
    merge(model)
