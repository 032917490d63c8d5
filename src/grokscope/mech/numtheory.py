"""Number theory for the Fourier and character bases (paper 2, ``01-*.md`` §2.3; Nanda et al. 2023 for addition).

Conventions (paper 2's notebook): a real basis of period q over points x is the matrix whose rows are the constant,
then for k = 1 … ⌊q/2⌋ the pair sin(2πk·x/q) (row 2k−1) and cos(2πk·x/q) (row 2k), each row normalised to unit
length. For even q the sin row of k = q/2 vanishes on integers: it is kept as a zero row (normalised with a clamp,
as in the paper), so frequency k always sits at rows {2k−1, 2k}; ``degenerate_rows`` says which rows are zero.
The multiplicative (Dirichlet-character) basis of (ℤ/pℤ)* is the same with x = ind_g(a), q = p − 1: its rows are the
real and imaginary parts of χ_k(a) = exp(2πi·k·ind_g(a)/(p−1)); k = (p−1)/2 is the Legendre character (−1)^ind(a).
"""

from __future__ import annotations

import numpy as np


def prime_factors(n: int) -> list[int]:
    """Distinct prime factors of n ≥ 1, ascending."""
    out, d = [], 2
    while d * d <= n:
        if n % d == 0:
            out.append(d)
            while n % d == 0:
                n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def primitive_root(p: int) -> int:
    """Smallest generator g of (ℤ/pℤ)*: g^((p−1)/f) ≠ 1 mod p for every prime f | p − 1 (p prime)."""
    if not is_prime(p):
        raise ValueError(f"primitive_root needs a prime, got {p}")
    if p == 2:
        return 1
    q = p - 1
    fs = prime_factors(q)
    for g in range(2, p):
        if all(pow(g, q // f, p) != 1 for f in fs):
            return g
    raise AssertionError("unreachable: every prime has a primitive root")


def discrete_log_table(p: int, g: int | None = None) -> np.ndarray:
    """``ind[a]`` with g^ind[a] ≡ a (mod p) for a = 1 … p−1, in 0 … p−2; ``ind[0] = -1`` (no logarithm).

    Built by iterating val ← val·g mod p (paper 2), shape [p], int64."""
    g = primitive_root(p) if g is None else g
    ind = np.full(p, -1, dtype=np.int64)
    val = 1
    for alpha in range(p - 1):
        if ind[val] != -1:
            raise ValueError(f"{g} is not a primitive root of {p}")
        ind[val] = alpha
        val = val * g % p
    return ind


def log_order_perm(p: int, g: int | None = None) -> np.ndarray:
    """``perm[α] = g^α mod p − 1``: row indices (rows = a − 1 for a = 1 … p−1) sorted by discrete log, shape [p−1].

    ``H[perm][:, perm]`` reorders a table over a, b ∈ 1 … p−1 so that a character of frequency k is a sinusoid."""
    g = primitive_root(p) if g is None else g
    return np.array([pow(g, alpha, p) - 1 for alpha in range(p - 1)], dtype=np.int64)


def n_frequencies(period: int) -> int:
    """Number of non-constant frequencies k = 1 … ⌊q/2⌋ of a real basis of period q."""
    return period // 2


def real_fourier_basis(x: np.ndarray, period: int) -> np.ndarray:
    """Rows [1, sin(ω_1 x), cos(ω_1 x), …, sin(ω_K x), cos(ω_K x)] / norm, ω_k = 2πk/q, K = ⌊q/2⌋.

    ``x`` [n] (any integers; a complete residue system mod q gives an orthonormal basis) -> [1 + 2K, n] float64."""
    x = np.asarray(x, dtype=np.float64)
    K = n_frequencies(period)
    rows = [np.ones_like(x)]
    for k in range(1, K + 1):
        w = 2 * np.pi * k * x / period
        rows += [np.sin(w), np.cos(w)]
    B = np.stack(rows)
    norms = np.linalg.norm(B, axis=1, keepdims=True)
    B = B / np.maximum(norms, 1e-8)  # the degenerate sin row (even q, k = q/2) stays ~0, as in paper 2
    B[norms[:, 0] < 1e-6] = 0.0
    return B


def degenerate_rows(period: int) -> np.ndarray:
    """Bool mask [1 + 2K]: the rows that vanish (the sin row of k = q/2 when q is even)."""
    K = n_frequencies(period)
    mask = np.zeros(1 + 2 * K, dtype=bool)
    if period % 2 == 0 and K > 0:
        mask[2 * K - 1] = True
    return mask


def additive_fourier_basis(n: int, period: int | None = None, start: int = 0) -> np.ndarray:
    """The additive basis over the points x = start … start+n−1 with period q (default n): [1 + 2⌊q/2⌋, n].

    Nanda (addition mod p): start 0, n = q = p. Paper 2 (zero-excluded multiplication): start 1, n = q = p − 1."""
    return real_fourier_basis(np.arange(start, start + n), n if period is None else period)


def character_basis(p: int, g: int | None = None) -> np.ndarray:
    """Real Dirichlet-character basis of (ℤ/pℤ)* over a = 1 … p−1: ``real_fourier_basis(ind_g(a), p − 1)``,
    shape [1 + 2⌊(p−1)/2⌋, p−1] (113 × 112 at p = 113, with the zero sin row of k = 56)."""
    ind = discrete_log_table(p, g)
    return real_fourier_basis(ind[1:], p - 1)


def complex_characters(p: int, g: int | None = None) -> np.ndarray:
    """χ_k(a) = exp(2πi·k·ind_g(a)/(p−1)) / √(p−1) for k = 0 … p−2 (rows), a = 1 … p−1 (columns): unitary."""
    ind = discrete_log_table(p, g)[1:]
    k = np.arange(p - 1)[:, None]
    return np.exp(2j * np.pi * k * ind[None, :] / (p - 1)) / np.sqrt(p - 1)
