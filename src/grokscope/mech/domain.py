"""Which points and which basis a modular task is analysed over (paper 2 §2.3; Nanda et al. 2023).

A :class:`Domain` fixes the operand values shared by both operands (the table H[a, b] needs the same points on each
axis), their clock coordinate α (a itself for the additive basis, ind_g(a) for the character basis), the period q
and the real basis B [1 + 2⌊q/2⌋, n]. Additive: the task's common operand values, q = their count (Nanda: 0 … p−1,
q = p; paper 2: 1 … p−1, q = p − 1). Multiplicative: a = 1 … p−1, q = p − 1 (p prime).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from . import numtheory as nt

BASES = ("additive", "multiplicative")
# the basis in which each operation's clock is expected to be sparse (sign: α_a + sign·α_b is the clock's argument)
NATURAL = {"add": ("additive", 1), "sub": ("additive", -1), "mul": ("multiplicative", 1),
           "div": ("multiplicative", -1), "x2xyy2": ("additive", 1)}


@dataclass(frozen=True)
class Domain:
    kind: str  # "additive" or "multiplicative"
    op: str
    p: int
    values: np.ndarray  # int64 [n] operand (and class) token values analysed
    coord: np.ndarray  # int64 [n] clock coordinate α of each value
    period: int  # q
    basis: np.ndarray  # float64 [1 + 2K, n]
    sign: int  # clock argument α_a + sign·α_b − α_c

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def K(self) -> int:
        return nt.n_frequencies(self.period)

    def omega(self, k: int) -> float:
        return 2 * np.pi * k / self.period


def task_fields(task_cfg: object) -> tuple[str, int, bool]:
    """(op, p, exclude_zero) of a modular task config; one UserError line for any other task."""
    name = getattr(task_cfg, "name", type(task_cfg).__name__)
    if name != "modular":
        raise UserError(f"task {name!r} has no Fourier structure (the Fourier and character analyses need a "
                        "modular-arithmetic task)")
    return task_cfg.op, task_cfg.p, task_cfg.exclude_zero  # type: ignore[attr-defined]


def make_domain(task_cfg: object, kind: str) -> Domain:
    op, p, exclude_zero = task_fields(task_cfg)
    sign = NATURAL[op][1]
    if kind == "multiplicative":
        if not nt.is_prime(p):
            raise UserError(f"the character basis needs a prime modulus; p = {p} is not prime")
        values = np.arange(1, p)
        ind = nt.discrete_log_table(p)
        return Domain(kind, op, p, values, ind[values], p - 1, nt.character_basis(p), sign)
    if kind != "additive":
        raise UserError(f"unknown basis {kind!r} (choose from: additive, multiplicative, auto)")
    lo = 1 if (exclude_zero or op == "div") else 0
    values = np.arange(lo, p)
    return Domain(kind, op, p, values, values - lo, len(values), nt.additive_fourier_basis(len(values)), sign)


def natural_basis(task_cfg: object) -> str:
    op, _, _ = task_fields(task_cfg)
    return NATURAL[op][0]
