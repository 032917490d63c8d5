"""Hankel DMD of a distribution trajectory, with a reconstruction-residual and growing-mode score [03 §13].

All of this is the reconstruction of 03 §13 (the paper's text is not available; marked [INF] there): standard
constructions consistent with its abstract, each a documented option.

- ``quantile_coords``: a per-example observable (log p(y|x) by default) summarised at each checkpoint by its
  quantile function on mid-point levels u_i = (i + ½)/m: Euclidean distance between these vectors is the
  1-D Wasserstein-2 distance up to discretisation (optionally centred at the barycentre, the mean quantile function).
- ``hankel``: delay embedding of a trajectory ``X [T, m]`` with delay d: columns h_k = [x_k; …; x_{k+d-1}].
- ``dmd``: exact-DMD operator on the rank-r POD basis, Ã = U_rᵀ Y V_r Σ_r⁻¹, its eigenvalues λ_j, and the one-step
  relative residual ‖Y − U_r Ã U_rᵀ X‖_F / ‖Y‖_F (the monitoring signal: near-linear stretches fit, a transition
  does not). Rank: an int, or a fraction (0, 1) of singular-value energy to keep.
- ``sliding_hankel_dmd``: the above over sliding windows of L checkpoints -> residual(t), spectral radius(t)
  (``max |λ|``; > 1 is a growing mode), number of growing modes and effective rank (Roy & Vetterli) of H(t), each
  reported at the window's last step (causal).

PyDMD (optional extra ``dmd``) is the reference: ``tests/reference/test_dmd_reference.py`` checks the eigenvalues
against ``pydmd.HankelDMD``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROWTH_TOL = 1e-6  # |λ| above 1 + this counts as a growing mode


def quantile_levels(m: int) -> np.ndarray:
    """Mid-point quantile levels (i + ½)/m, i = 0..m-1."""
    return (np.arange(m) + 0.5) / m


def quantile_coords(samples: np.ndarray, m: int = 32) -> np.ndarray:
    """``samples [..., n]`` -> their empirical quantile function at ``quantile_levels(m)``: ``[..., m]``."""
    return np.moveaxis(np.quantile(np.asarray(samples, dtype=float), quantile_levels(m), axis=-1), 0, -1)


def center(traj: np.ndarray) -> np.ndarray:
    """Tangent coordinates at the barycentre: ``traj [T, m]`` minus its mean quantile function."""
    return traj - traj.mean(0, keepdims=True)


def hankel(traj: np.ndarray, delay: int) -> np.ndarray:
    """``traj [T, m]`` -> ``H [m·d, T − d + 1]`` with column k = [x_k; x_{k+1}; …; x_{k+d−1}]."""
    T = traj.shape[0]
    if not 1 <= delay <= T:
        raise ValueError(f"delay {delay} does not fit {T} snapshots")
    return np.concatenate([traj[i:T - delay + 1 + i].T for i in range(delay)], axis=0)


def effective_rank(s: np.ndarray) -> float:
    """Roy & Vetterli effective rank exp(−Σ p_i ln p_i), p_i = s_i / Σ s (singular values ``s``)."""
    s = np.asarray(s, dtype=float)
    s = s[s > 0]
    if s.size == 0:
        return 0.0
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _rank(s: np.ndarray, rank: float) -> int:
    if rank >= 1:
        return int(min(rank, (s > s[0] * 1e-12).sum() if s.size else 0))
    if not 0 < rank < 1:
        raise ValueError("rank must be a positive int or an energy fraction in (0, 1)")
    energy = np.cumsum(s ** 2) / np.sum(s ** 2)
    return int(np.searchsorted(energy, rank) + 1)


@dataclass
class DMDResult:
    eigs: np.ndarray  # [r] complex eigenvalues of Ã
    modes: np.ndarray  # [n, r] exact DMD modes Y V Σ⁻¹ W
    atilde: np.ndarray  # [r, r]
    residual: float  # ‖Y − U Ã Uᵀ X‖_F / ‖Y‖_F
    singular_values: np.ndarray  # of X, all

    @property
    def spectral_radius(self) -> float:
        return float(np.abs(self.eigs).max()) if self.eigs.size else 0.0

    @property
    def n_growing(self) -> int:
        return int((np.abs(self.eigs) > 1 + GROWTH_TOL).sum())


def dmd(X: np.ndarray, Y: np.ndarray, rank: float = 4) -> DMDResult:
    """DMD of the pairs Y ≈ A X (``X, Y [n, k]``) on X's rank-r POD basis."""
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = max(_rank(s, rank), 1)
    U_r, s_r, V_r = U[:, :r], s[:r], Vt[:r].T
    atilde = U_r.T @ Y @ V_r / s_r[None, :]
    eigs, W = np.linalg.eig(atilde)
    modes = (Y @ V_r / s_r[None, :]) @ W
    pred = U_r @ (atilde @ (U_r.T @ X))
    ny = np.linalg.norm(Y)
    residual = float(np.linalg.norm(Y - pred) / ny) if ny > 0 else 0.0
    return DMDResult(eigs, modes, atilde, residual, s)


def hankel_dmd(traj: np.ndarray, delay: int = 3, rank: float = 4) -> DMDResult:
    """DMD of the Hankel embedding of ``traj [T, m]``."""
    H = hankel(traj, delay)
    return dmd(H[:, :-1], H[:, 1:], rank)


@dataclass
class SlidingDMD:
    """Per window (indexed by its last snapshot): the score arrays [n_windows] and the settings."""

    end_index: np.ndarray  # int, index of each window's last snapshot in the trajectory
    residual: np.ndarray
    spectral_radius: np.ndarray
    n_growing: np.ndarray
    erank: np.ndarray
    settings: dict


def sliding_hankel_dmd(traj: np.ndarray, window: int = 20, delay: int = 3, rank: float = 4, stride: int = 1,
                       centred: bool = True) -> SlidingDMD:
    """Hankel DMD over sliding windows of ``window`` snapshots of ``traj [T, m]`` (``centred``: tangent coordinates
    at the whole trajectory's barycentre are *not* used — each window is centred at its own mean quantile function
    when True, so the score sees the window's dynamics, not its offset; this choice is reconstructed)."""
    traj = np.asarray(traj, dtype=float)
    T = traj.shape[0]
    if window > T:
        raise ValueError(f"DMD window of {window} snapshots does not fit a trajectory of {T}")
    if window < delay + 2:
        raise ValueError(f"DMD window {window} must be >= delay + 2 = {delay + 2}")
    ends, res, rad, grow, er = [], [], [], [], []
    for end in range(window - 1, T, stride):
        w = traj[end - window + 1:end + 1]
        if centred:
            w = center(w)
        H = hankel(w, delay)
        out = dmd(H[:, :-1], H[:, 1:], rank)
        ends.append(end)
        res.append(out.residual)
        rad.append(out.spectral_radius)
        grow.append(out.n_growing)
        er.append(effective_rank(np.linalg.svd(H, compute_uv=False)))
    settings = {"window": window, "delay": delay, "rank": rank, "stride": stride, "centred": centred}
    return SlidingDMD(np.array(ends, dtype=int), np.array(res), np.array(rad), np.array(grow, dtype=int),
                      np.array(er), settings)
