"""The measurement interface: a probe maps one shared evaluation pass to per-member scalars.

The loop runs ONE forward pass over all N examples per evaluation (no autograd), with hook activations
cached only if some probe asks for them, and hands every probe the same ``EvalContext``. A new diagnostic is
one file: a function ``(ctx) -> {"family/name": Tensor[M]}`` registered with ``@PROBES.register(name)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor

from ..registry import Registry


@dataclass
class EvalContext:
    """Everything a probe may read. Shapes: M members, N examples, C classes."""

    params: dict[str, Tensor]  # name -> [M, ...]
    groups: dict[str, list[str]]  # weight group -> parameter names
    logits: Tensor  # [M, N, C] after the temperature (z = logits / τ), working dtype
    y: Tensor  # [M, N] clean labels
    y_train: Tensor  # [M, n_train] training labels (after label noise)
    train_idx: Tensor  # [M, n_train]
    test_idx: Tensor  # [M, n_test]
    loss_name: str  # "ce", "mse" or "stablemax"
    cache: dict[str, Tensor] = field(default_factory=dict)  # hook activations over all N examples
    x: Tensor | None = None  # int64 [M|1, N, S] inputs

    def at(self, t: Tensor, idx: Tensor) -> Tensor:
        """Rows of a per-example tensor ``t [M, N, ...]`` at per-member indices ``idx [M, n]``."""
        return t.gather(1, idx.view(*idx.shape, *([1] * (t.dim() - 2))).expand(*idx.shape, *t.shape[2:]))


@dataclass(frozen=True)
class Probe:
    name: str
    fn: Callable[[EvalContext], dict[str, Tensor]]
    needs_cache: bool = False  # run the forward pass with hook activations
    cost: str = "cheap"  # a hint for users: cheap (O(N·C)), forward (needs hooks), heavy (SVDs, ...)


PROBES: Registry = Registry("probe")


def probe(name: str, needs_cache: bool = False, cost: str = "cheap") -> Callable:
    def deco(fn: Callable[[EvalContext], dict[str, Tensor]]) -> Callable:
        PROBES.register(name)(Probe(name, fn, needs_cache, cost))
        return fn

    return deco
