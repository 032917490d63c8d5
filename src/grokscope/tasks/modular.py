"""Modular arithmetic a ∘ b mod p (Power et al. 2022; Nanda et al. 2023; Nguyen 2026 for zero-excluded mul)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import TASKS, TaskData, split_indices

OPS = ("add", "sub", "mul", "div", "x2xyy2")


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


class ModularTask(BaseModel):
    """c = a ∘ b mod p over all pairs; the model reads the answer at the last position."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["modular"] = "modular"
    op: Literal["add", "sub", "mul", "div", "x2xyy2"] = Field("add", description="add, sub, mul, div (b≠0), x2xyy2 = a²+ab+b²")
    p: int = Field(97, description="modulus; must be prime for div and for zero-excluded mul")
    frac: float = Field(0.3, description="fraction of all pairs used for training, in (0, 1)")
    layout: Literal["ab=", "aopb=", "ab"] = Field("ab=", description="tokens [a, b, =], [a, op, b, =], or [a, b] "
                                                   "(vocabulary p: a one-hot MLP then reads 2p inputs, papers/03 §11)")
    exclude_zero: bool = Field(False, description="operands range over 1..p-1 (the multiplicative group)")
    split_seed: int | None = Field(None, description="fixed split for every member; None = one split per member seed")

    @model_validator(mode="after")
    def _check(self) -> ModularTask:
        if self.p < 2:
            raise ValueError(f"p must be >= 2, got {self.p}")
        if self.p > 2000:
            raise ValueError(f"p={self.p} gives {self.p**2} examples; the limit is p <= 2000")
        if not 0.0 < self.frac < 1.0:
            raise ValueError(f"frac must be in (0, 1), got {self.frac}")
        if self.op == "div" and not is_prime(self.p):
            raise ValueError(f"op 'div' needs a prime modulus (every b≠0 invertible); p={self.p} is not prime")
        if self.op == "mul" and self.exclude_zero and not is_prime(self.p):
            raise ValueError(f"zero-excluded mul needs a prime p (a cyclic group with a primitive root); p={self.p} is not prime")
        return self


def operate(op: str, a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    """The label table c = a ∘ b mod p (int64 arrays)."""
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p
    if op == "mul":
        return (a * b) % p
    if op == "div":
        return (a * np.array([pow(int(v), -1, p) for v in b], dtype=np.int64)) % p
    if op == "x2xyy2":
        return (a * a + a * b + b * b) % p
    raise ValueError(f"unknown op {op!r}")


@TASKS.register("modular")
def build(cfg: ModularTask, seeds: list[int]) -> TaskData:
    p = cfg.p
    lo = 1 if cfg.exclude_zero else 0
    a_vals = np.arange(lo, p, dtype=np.int64)
    b_vals = np.arange(1 if (cfg.exclude_zero or cfg.op == "div") else 0, p, dtype=np.int64)
    a, b = (g.ravel() for g in np.meshgrid(a_vals, b_vals, indexing="ij"))
    y = operate(cfg.op, a, b, p)
    eq, op_tok = p, p + 1
    if cfg.layout == "ab=":
        x = np.stack([a, b, np.full_like(a, eq)], axis=1)
        positions, vocab, names = (0, 1), p + 1, {eq: "="}
    elif cfg.layout == "ab":  # no '=' token: the vocabulary is the p residues (papers/03 §11's 194-input MLP)
        x = np.stack([a, b], axis=1)
        positions, vocab, names = (0, 1), p, {}
    else:
        x = np.stack([a, np.full_like(a, op_tok), b, np.full_like(a, eq)], axis=1)
        positions, vocab, names = (0, 2), p + 2, {eq: "=", op_tok: cfg.op}
    split_seeds = [cfg.split_seed] * len(seeds) if cfg.split_seed is not None else seeds
    train_idx, test_idx = split_indices(len(y), cfg.frac, split_seeds)
    return TaskData(x, y, train_idx, test_idx, vocab, p, positions, names)
