"""Shared machinery for models whose parameters carry a leading member axis M.

Every parameter has shape ``[M, ...]``: member m is an independent network (its own seed and, through the
optimizer, its own lr/wd). Forward passes take token inputs ``x: int64 [M or 1, B, S]`` and return logits
``[M, B, C]``.

Two implementations of each model's forward, chosen by ``MemberModel.forward``:
- the *fast* path (``fast_forward``): vocabulary tables, prefix tables, the transformer's last layer at the
  readout query only (DESIGN.md); used when nothing asks for activations, i.e. in training;
- the *reference* path (``reference_forward``): a plain implementation computing every position of every
  example, with a hook point (``models/hooks.py``) at each named activation; used as soon as a ``cache``, an
  ``edit`` or ``all_queries`` is asked for. Both compute the same function (tested to 1e-10 in float64), except
  that the reference adds frozen biases whatever their value while the fast path assumes them zero.
A model's ``roles`` say which parameter or hook plays which part (embedding, unembedding, layer chain, ...), so
probes ask for a role, not for a parameter name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import Registry
from .hooks import Edit, HookPoints, NameRecorder

MODELS: Registry = Registry("model")


@dataclass(frozen=True)
class TaskShape:
    """What a model needs to know about its task."""

    vocab_size: int
    n_classes: int
    seq_len: int
    input_positions: tuple[int, ...]
    input_dim: int | None = None  # real-valued inputs [M|1, B, input_dim] (regression tasks); None = tokens


@dataclass(frozen=True)
class ParamSpec:
    name: str  # dotted, TransformerLens-style: "blocks.0.attn.W_Q"
    shape: tuple[int, ...]  # without the member axis
    std: float  # init: N(0, std²); 0 gives zeros
    kind: str  # "weight" (in the norm, decayed), "bias", "ln_w" (init 1), "ln_b"
    trainable: bool = True


@dataclass(frozen=True)
class ModelRoles:
    """Which parameter or hook of a model plays which part; probes address roles, not parameter names.

    ``layers`` is the chain of weight matrices from input to output, each ``[in, out]`` (member axis aside) with
    ``out`` equal to the next one's ``in``: the |W| adjacency of consecutive layers is the model's neuron graph.
    """

    embed: str  # token-embedding parameter, rows indexed by token: "W_E"
    unembed: str  # unembedding parameter [d, C]: "W_U"
    unembed_in: str  # hook of the hidden state fed to ``unembed`` [M, B, d]: "hook_unembed_in"
    layers: tuple[str, ...]  # weight chain, input to output
    attention: tuple[str, ...] = ()  # attention-layer prefixes ("blocks.0.attn"); empty for MLPs
    hidden: tuple[str, ...] = ()  # hooks of hidden activations ("blocks.0.mlp.hook_post")


class MemberModel(nn.Module):
    """Base class: declares ``ParamSpec``s, then ``init_members`` draws each member's values from its own seed.

    Subclasses implement ``fast_forward``, ``reference_forward`` and ``roles``, and set ``seq_len``.
    """

    def __init__(self, M: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.M = M
        self.dtype_ = dtype
        self.specs: list[ParamSpec] = []
        self.P: dict[str, nn.Parameter] = {}
        self.groups: dict[str, list[str]] = {}
        self.seq_len = 0  # set by the subclass: the S of its inputs (hook_names runs a one-example forward)
        self._hook_names: list[str] | None = None

    # -- forward ------------------------------------------------------------------------------------------
    def forward(self, x: Tensor, cache: dict | None = None, *, keep: Collection[str] | None = None,
                edit: Mapping[str, Edit] | None = None, all_queries: bool = False) -> Tensor:
        """x: int64 [M|1, B, S] -> logits [M, B, C] read at the last position.

        Without ``cache``, ``edit`` and ``all_queries`` this is the fast path. Otherwise the reference forward
        runs with its hook points: ``edit[name](h)`` replaces activation ``name`` (same shape), and ``cache``
        receives every hook (``keep=None``) or only those in ``keep``, after their edit. ``all_queries`` asks
        for attention patterns over every query position, which the reference forward always computes.
        """
        if cache is None and not edit and not all_queries:
            return self.fast_forward(x)
        hook = HookPoints(cache, keep, edit)
        hook.check(self.hook_names())
        return self.reference_forward(x, hook)

    def fast_forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def reference_forward(self, x: Tensor, hook: HookPoints) -> Tensor:
        raise NotImplementedError

    @property
    def roles(self) -> ModelRoles:
        raise NotImplementedError

    def hook_names(self) -> list[str]:
        """Every hook point of this model, in forward order (found by running the reference on one example)."""
        if self._hook_names is None:
            recorder = NameRecorder()
            x = torch.zeros((1, 1, self.seq_len), dtype=torch.long, device=next(iter(self.P.values())).device)
            with torch.no_grad():
                self.reference_forward(x, recorder)
            self._hook_names = recorder.names
        return list(self._hook_names)

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


def one_hot_operands(x: Tensor, positions: tuple[int, ...], V: int, dtype: torch.dtype) -> Tensor:
    """onehot([x_{p_1}; ...; x_{p_K}]): ``x int64 [M|1, B, S]`` -> ``[M|1, B, K*V]`` in ``dtype``."""
    return F.one_hot(x[..., list(positions)], V).to(dtype).flatten(-2)
