"""Number theory for the Fourier and character bases (paper 2 §2.3)."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.mech import numtheory as nt

PRIMES = [p for p in range(3, 400) if nt.is_prime(p)]


@pytest.mark.parametrize("p,g", [(3, 2), (7, 3), (23, 5), (59, 2), (113, 3), (191, 19)])
def test_smallest_primitive_root(p, g):
    assert nt.primitive_root(p) == g


def test_discrete_logs_are_right_for_many_primes():
    for p in PRIMES:
        g = nt.primitive_root(p)
        ind = nt.discrete_log_table(p)
        a = np.arange(1, p)
        assert sorted(ind[1:]) == list(range(p - 1))  # a bijection onto 0 … p−2
        assert all(pow(g, int(ind[v]), p) == v for v in a)
        assert ind[0] == -1
        perm = nt.log_order_perm(p)
        assert np.array_equal(ind[perm + 1], np.arange(p - 1))  # row perm[α] holds the a with ind(a) = α


def test_non_generator_is_refused():
    with pytest.raises(ValueError):
        nt.discrete_log_table(113, 4)  # 4 = 2², a square: order ≤ 56
    with pytest.raises(ValueError):
        nt.primitive_root(15)


@pytest.mark.parametrize("n", [7, 12, 113, 112])
def test_additive_basis_orthonormal(n):
    B = nt.additive_fourier_basis(n)
    live = ~nt.degenerate_rows(n)
    assert B.shape == (1 + 2 * (n // 2), n)
    np.testing.assert_allclose(B @ B.T, np.diag(live.astype(float)), atol=1e-10)
    np.testing.assert_allclose(B.T @ B, np.eye(n), atol=1e-10)  # complete: n live rows
    assert live.sum() == n


@pytest.mark.parametrize("p", [5, 23, 59, 113])
def test_character_basis_orthonormal_with_degenerate_row(p):
    B = nt.character_basis(p)
    q = p - 1
    dead = nt.degenerate_rows(q)
    assert dead.sum() == 1 and dead[q - 1]  # even q: the sin row of k = q/2 (row 2k−1 = q−1)
    assert np.abs(B[dead]).max() == 0.0
    np.testing.assert_allclose(B @ B.T, np.diag((~dead).astype(float)), atol=1e-10)
    # the cos row of k = (p−1)/2 is the Legendre character (−1)^ind(a) = (a | p), normalised
    a = np.arange(1, p)
    legendre = np.array([1.0 if pow(int(v), (p - 1) // 2, p) == 1 else -1.0 for v in a])
    np.testing.assert_allclose(B[q], legendre / np.sqrt(q), atol=1e-12)


def test_complex_characters_unitary_and_real_parts():
    p = 31
    X = nt.complex_characters(p)
    np.testing.assert_allclose(X @ X.conj().T, np.eye(p - 1), atol=1e-10)
    # χ_k is multiplicative: χ_k(ab) = χ_k(a) χ_k(b)
    a, b = 5, 17
    np.testing.assert_allclose(X[3, (a * b % p) - 1] * np.sqrt(p - 1),
                               X[3, a - 1] * X[3, b - 1] * (p - 1), atol=1e-10)
    B = nt.character_basis(p)
    k = 4  # cos row 2k is Re χ_k normalised by sqrt(q/2)
    np.testing.assert_allclose(B[2 * k], X[k].real * np.sqrt(2), atol=1e-10)
