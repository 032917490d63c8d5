"""Composition in the symmetric group S_n, n <= 5 (Power et al. 2022 use S5)."""

from __future__ import annotations

from itertools import permutations
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import TASKS, TaskData, split_indices


class PermutationTask(BaseModel):
    """c = a ∘ b in S_n with (a ∘ b)(i) = a(b(i)); elements are numbered in lexicographic order."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["permutation"] = "permutation"
    n: int = Field(4, description="S_n with 2 <= n <= 5 (5! = 120 elements, 14,400 pairs)")
    frac: float = Field(0.5, description="fraction of all pairs used for training, in (0, 1)")
    layout: Literal["ab=", "aopb="] = Field("ab=", description="tokens [a, b, =] or [a, op, b, =]")
    split_seed: int | None = Field(None, description="fixed split for every member; None = per member seed")

    @model_validator(mode="after")
    def _check(self) -> PermutationTask:
        if not 2 <= self.n <= 5:
            raise ValueError(f"S_n composition supports 2 <= n <= 5, got n={self.n}")
        if not 0.0 < self.frac < 1.0:
            raise ValueError(f"frac must be in (0, 1), got {self.frac}")
        return self


def composition_table(n: int) -> np.ndarray:
    """``[n!, n!]`` table of element indices: table[a, b] = index of a ∘ b."""
    elems = list(permutations(range(n)))
    index = {e: i for i, e in enumerate(elems)}
    return np.array([[index[tuple(a[b[i]] for i in range(n))] for b in elems] for a in elems], dtype=np.int64)


@TASKS.register("permutation")
def build(cfg: PermutationTask, seeds: list[int]) -> TaskData:
    table = composition_table(cfg.n)
    g = table.shape[0]
    a, b = (v.ravel() for v in np.meshgrid(np.arange(g), np.arange(g), indexing="ij"))
    y = table[a, b]
    eq, op_tok = g, g + 1
    if cfg.layout == "ab=":
        x, positions, vocab = np.stack([a, b, np.full_like(a, eq)], 1), (0, 1), g + 1
    else:
        x, positions, vocab = np.stack([a, np.full_like(a, op_tok), b, np.full_like(a, eq)], 1), (0, 2), g + 2
    split_seeds = [cfg.split_seed] * len(seeds) if cfg.split_seed is not None else seeds
    train_idx, test_idx = split_indices(len(y), cfg.frac, split_seeds)
    return TaskData(x, y, train_idx, test_idx, vocab, g, positions, {eq: "=", op_tok: "∘"})
