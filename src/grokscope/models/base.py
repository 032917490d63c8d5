"""Shared machinery for models whose parameters carry a leading member axis M.

Every parameter has shape ``[M, ...]``: member m is an independent network (its own seed and, through the
optimizer, its own lr/wd). Forward passes take token inputs ``x: int64 [M or 1, B, S]`` and return logits
``[M, B, C]``. Hook activations are written into an optional ``cache`` dict under addressable names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import Registry

MODELS: Registry = Registry("model")


@dataclass(frozen=True)
class TaskShape:
    """What a model needs to know about its task."""

    vocab_size: int
    n_classes: int
    seq_len: int
    input_positions: tuple[int, ...]


@dataclass(frozen=True)
class ParamSpec:
    name: str  # dotted, TransformerLens-style: "blocks.0.attn.W_Q"
    shape: tuple[int, ...]  # without the member axis
    std: float  # init: N(0, std²); 0 gives zeros
    kind: str  # "weight" (in the norm, decayed), "bias", "ln_w" (init 1), "ln_b"
    trainable: bool = True


class MemberModel(nn.Module):
    """Base class: declares ``ParamSpec``s, then ``init_members`` draws each member's values from its own seed."""

    def __init__(self, M: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.M = M
        self.dtype_ = dtype
        self.specs: list[ParamSpec] = []
        self.P: dict[str, nn.Parameter] = {}
        self.groups: dict[str, list[str]] = {}

    def add(self, name: str, shape: tuple[int, ...], std: float, kind: str = "weight", group: str | None = None,
            trainable: bool = True) -> None:
        spec = ParamSpec(name, tuple(shape), std, kind, trainable)
        self.specs.append(spec)
        owner: nn.Module = self
        *path, leaf = name.split(".")
        for part in path:
            if not hasattr(owner, part):
                owner.add_module(part, nn.Module())
            owner = getattr(owner, part)
        param = nn.Parameter(torch.zeros((self.M, *shape), dtype=self.dtype_), requires_grad=trainable)
        owner.register_parameter(leaf, param)
        self.P[name] = param
        if kind == "weight":
            self.groups.setdefault(group or "other", []).append(name)

    @property
    def weight_names(self) -> list[str]:
        """Names of the weight matrices: what the weight norm sums over and decoupled decay applies to."""
        return [s.name for s in self.specs if s.kind == "weight"]

    @torch.no_grad()
    def init_members(self, seeds: list[int], init_scale: list[float] | None = None) -> None:
        """Draw member m's parameters from ``torch.Generator().manual_seed(seeds[m])`` in float64, then cast.

        The draw depends only on the seed and the parameter specs, so a member's init is the same whether it
        trains alone or packed with others, in float32 or float64. ``init_scale[m]`` (α) multiplies its weights.
        """
        assert len(seeds) == self.M
        scales = init_scale or [1.0] * self.M
        for m, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            for spec in self.specs:
                if spec.kind == "ln_w":
                    value = torch.ones(spec.shape, dtype=torch.float64)
                elif spec.std == 0.0:
                    value = torch.zeros(spec.shape, dtype=torch.float64)
                else:
                    value = torch.randn(spec.shape, generator=gen, dtype=torch.float64) * spec.std
                if spec.kind == "weight":
                    value = value * scales[m]
                self.P[spec.name][m].copy_(value.to(self.dtype_))

    def trainable(self) -> dict[str, nn.Parameter]:
        return {n: p for n, p in self.P.items() if p.requires_grad}


def gather_rows(table: Tensor, idx: Tensor) -> Tensor:
    """Per-member row lookup: ``table [M, R, k]``, ``idx int64 [M or 1, ...]`` -> ``[M, ..., k]``.

    The table trick of DESIGN.md: a projection of a token embedding is computed once on the R vocabulary rows,
    then gathered per example, instead of once per example.
    """
    M, R, k = table.shape
    offs = (torch.arange(M, device=idx.device) * R).view(M, *([1] * (idx.dim() - 1)))
    flat = F.embedding((idx + offs).reshape(-1), table.reshape(M * R, k))
    return flat.view(M, *idx.shape[1:], k)


def activation(name: str, x: Tensor) -> Tensor:
    if name == "relu":
        return torch.relu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "quadratic":
        return x * x
    raise ValueError(f"unknown activation {name!r}")


def bmm(x: Tensor, W: Tensor) -> Tensor:
    """Per-member matmul: ``x [M, ..., a]`` @ ``W [M, a, b]`` -> ``[M, ..., b]``."""
    shape = x.shape
    return torch.bmm(x.reshape(shape[0], -1, shape[-1]), W).view(*shape[:-1], W.shape[-1])


def gather_sum(table: Tensor, idx: Tensor) -> Tensor:
    """Σ_k table[m, idx[m, b, k]]: ``table [M, R, H]``, ``idx int64 [M or 1, B, K]`` -> ``[M, B, H]``.

    For a few positions a row gather is cheapest; for many (parity's n bits) a multi-hot ``[B, R]`` matmul
    avoids a scatter-add over B·K rows in the backward pass (measured ~25x faster at K=30, R=90, H=256).
    """
    if idx.shape[-1] <= 4:
        return gather_rows(table, idx).sum(-2)
    multi_hot = torch.zeros(*idx.shape[:-1], table.shape[1], dtype=table.dtype, device=table.device)
    multi_hot.scatter_add_(-1, idx, torch.ones_like(idx, dtype=table.dtype))
    return torch.matmul(multi_hot, table)  # [M|1, B, R] @ [M, R, H] broadcasts over members
