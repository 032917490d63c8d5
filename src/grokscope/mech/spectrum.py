"""Spectral statistics of embeddings and neurons in a real Fourier / character basis (paper 2 §2.3).

Pure tensor kernels (float64, leading batch axes allowed, e.g. the member axis M). A basis ``B`` is
``[1 + 2K, n]`` with frequency k on rows {2k−1 (sin), 2k (cos)} (``numtheory``); a per-frequency vector is ``[..., K]``
with entry k−1 for frequency k.
"""

from __future__ import annotations

import torch
from torch import Tensor

KEY_FACTOR = 5.0  # paper 2: key frequency = combined norm > 5 × median at p = 113 (3 × for the other primes)
CLEAN = 0.85  # paper 2: a neuron is "clean" if > 85% of its energy sits on one frequency


def frequency_norms(B: Tensor, W: Tensor) -> Tensor:
    """Per-frequency norm of the rows of ``W [..., n, d]`` (one row per point) in basis ``B [1+2K, n]``:
    ‖(B W)_{2k−1}‖ and ‖(B W)_{2k}‖ combined as sqrt(n_sin² + n_cos²) -> ``[..., K]`` (the constant row is dropped)."""
    coef = torch.einsum("rn,...nd->...rd", B.to(W), W)
    sq = coef.pow(2).sum(-1)  # [..., 1 + 2K]
    K = (B.shape[0] - 1) // 2
    return (sq[..., 1::2][..., :K] + sq[..., 2::2][..., :K]).sqrt()


def gini(x: Tensor) -> Tensor:
    """Gini coefficient of non-negative ``x [..., K]``: Σ(2i − K − 1)·x_(i) / (K·Σx), x sorted ascending -> [...]."""
    K = x.shape[-1]
    s = x.sort(-1).values
    i = torch.arange(1, K + 1, dtype=x.dtype, device=x.device)
    return ((2 * i - K - 1) * s).sum(-1) / (K * s.sum(-1)).clamp_min(1e-300)


def ipr(x: Tensor) -> Tensor:
    """Participation number (paper 2's "IPR") (Σx²)² / Σx⁴ of ``x [..., K]``: K if flat, 1 if one frequency -> [...]."""
    x2 = x.pow(2)
    return x2.sum(-1).pow(2) / x2.pow(2).sum(-1).clamp_min(1e-300)


def top_share(x: Tensor, k: int) -> Tensor:
    """Fraction of the energy Σx² held by the ``k`` largest entries of ``x [..., K]`` -> [...]."""
    x2 = x.pow(2)
    return x2.topk(min(k, x.shape[-1]), dim=-1).values.sum(-1) / x2.sum(-1).clamp_min(1e-300)


def key_frequencies(x: Tensor, factor: float = KEY_FACTOR) -> list[int]:
    """Frequencies k (1-based) whose norm exceeds ``factor`` × the median of ``x [K]`` (one spectrum)."""
    thr = factor * x.median()
    return [int(i) + 1 for i in torch.nonzero(x > thr).flatten()]


def effective_rank(W: Tensor) -> Tensor:
    """(Σσ)² / Σσ² of the singular values of ``W [..., n, d]`` -> [...] (paper 2: 17.1 of 112 for W_E)."""
    s = torch.linalg.svdvals(W.double())
    return s.sum(-1).pow(2) / s.pow(2).sum(-1).clamp_min(1e-300)


def neuron_fractions(B: Tensor, H: Tensor) -> Tensor:
    """Energy fraction per frequency of each neuron's activation table.

    ``H [..., n, n, N]`` (activation of neuron j on inputs (a, b), both over the basis points) -> ``[..., N, K]``:
    F = B H Bᵀ per neuron with the DC entry (0, 0) zeroed; fraction_k = Σ F² over {0, 2k−1, 2k}² / Σ F²."""
    Bd = B.to(H)
    F = torch.einsum("ra,...abj,sb->...jrs", Bd, H, Bd)
    F[..., 0, 0] = 0.0
    E = F.pow(2)
    total = E.sum((-1, -2)).clamp_min(1e-300)
    K = (B.shape[0] - 1) // 2
    # block {0, 2k−1, 2k}²: rows/cols 0, s_k, c_k (s_k = 2k−1, c_k = 2k)
    r0, rs, rc = E[..., 0, :], E[..., 1::2, :][..., :K, :], E[..., 2::2, :][..., :K, :]  # [..., N, K, 1+2K]
    def cols(t: Tensor) -> Tensor:  # pick cols {0, 2k-1, 2k} for row-block k: [..., N, K]
        return t[..., 0] + torch.diagonal(t[..., 1::2][..., :K], dim1=-2, dim2=-1) \
            + torch.diagonal(t[..., 2::2][..., :K], dim1=-2, dim2=-1)
    row0 = r0[..., 1::2][..., :K] + r0[..., 2::2][..., :K]  # (0, 2k−1), (0, 2k); (0, 0) is zero
    return (row0 + cols(rs) + cols(rc)) / total[..., None]


def clean_fraction(frac: Tensor, threshold: float = CLEAN) -> Tensor:
    """Fraction of neurons whose largest frequency fraction exceeds ``threshold``: ``[..., N, K]`` -> [...]."""
    return (frac.max(-1).values > threshold).double().mean(-1)
