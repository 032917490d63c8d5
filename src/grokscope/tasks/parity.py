"""Sparse parity (n, k, m): the label is the XOR of k fixed bits of an n-bit string (Barak et al. 2022)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import TASKS, TaskData


class ParityTask(BaseModel):
    """m random training strings and n_test fresh test strings per member; relevant bits are 0..k-1."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["parity"] = "parity"
    n: int = Field(40, description="bits per string")
    k: int = Field(3, description="number of relevant bits (the first k positions)")
    m: int = Field(1000, description="training strings")
    n_test: int = Field(1000, description="held-out test strings")
    split_seed: int | None = Field(None, description="fixed sample for every member; None = per member seed")

    @model_validator(mode="after")
    def _check(self) -> ParityTask:
        if not 1 <= self.k <= self.n:
            raise ValueError(f"parity needs 1 <= k <= n, got k={self.k}, n={self.n}")
        if self.n > 512:
            raise ValueError(f"n={self.n} bits is above the limit of 512")
        if self.m < 1 or self.n_test < 1:
            raise ValueError("parity needs m >= 1 training and n_test >= 1 test strings")
        return self


@TASKS.register("parity")
def build(cfg: ParityTask, seeds: list[int]) -> TaskData:
    split_seeds = [cfg.split_seed] * len(seeds) if cfg.split_seed is not None else seeds
    total = cfg.m + cfg.n_test
    xs, ys = [], []
    for s in split_seeds:
        bits = np.random.default_rng(s).integers(0, 2, size=(total, cfg.n), dtype=np.int64)
        ys.append(bits[:, : cfg.k].sum(axis=1) % 2)
        xs.append(np.concatenate([bits, np.full((total, 1), 2, dtype=np.int64)], axis=1))  # [bits..., =]
    M = len(seeds)
    idx = np.arange(total, dtype=np.int64)
    train_idx = np.broadcast_to(idx[: cfg.m], (M, cfg.m)).copy()
    test_idx = np.broadcast_to(idx[cfg.m :], (M, cfg.n_test)).copy()
    return TaskData(np.stack(xs), np.stack(ys), train_idx, test_idx, 3, 2, tuple(range(cfg.n)), {2: "="})
