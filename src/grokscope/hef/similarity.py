"""Representation convergence, made measurable (papers/01 §5.3 item 4; the HEF "fixed point" claim).

- Linear CKA (Kornblith et al. 2019): for representations X [n, d1], Y [n, d2] of the same n inputs, centred,
  CKA = ‖YᵀX‖_F² / (‖XᵀX‖_F ‖YᵀY‖_F). Invariant to rotations and isotropic scaling, not to general linear maps;
  the widths may differ (MLP vs transformer).
- Jaccard of two sets: |A ∩ B| / |A ∪ B| (two empty sets: nan, nothing to compare).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

import numpy as np


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    X = np.asarray(X, float)
    Y = np.asarray(Y, float)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"CKA needs the same inputs (rows): {X.shape[0]} vs {Y.shape[0]}")
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    den = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    return float(np.linalg.norm(Y.T @ X) ** 2 / den) if den > 0 else float("nan")


def jaccard(a: Iterable[Any], b: Iterable[Any]) -> float:
    a, b = set(a), set(b)
    union = a | b
    return len(a & b) / len(union) if union else float("nan")


def pairwise(items: Sequence[Any], fn: Any) -> list[float]:
    """``fn(x, y)`` over every unordered pair of ``items``."""
    return [fn(x, y) for x, y in combinations(items, 2)]


def chance_jaccard(k: int, n: int) -> float:
    """Expected Jaccard of two independent uniformly random k-subsets of n items (the no-convergence baseline)."""
    if k <= 0 or n <= 0:
        return float("nan")
    from math import comb

    total = comb(n, k)
    return sum(comb(k, i) * comb(n - k, k - i) / total * i / (2 * k - i) for i in range(0, k + 1))
