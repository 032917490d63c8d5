"""Entropy production of a coarse-grained trajectory (papers/03 §12, RECONSTRUCTED operationalisation).

The trajectory is coarse-grained into ``n`` discrete states (k-means on its top principal components); with J the
empirical joint distribution of consecutive states (pseudo-count ½ on every pair),
Σ̂ = Σ_ij J_ij ln(J_ij / J_ji) = Σ_ij π_i P_ij ln(π_i P_ij / π_j P_ji) per transition (the same estimator as the
``two_field`` probe's online Σ̂, ``probes.two_field.irreversibility``). It is 0 for a chain in detailed balance and
> 0 for a driven one; a finite sample biases it upwards by roughly (number of visited pairs) / (2 · transitions).
Note that a trajectory drifting through states (training) is irreversible by construction: Σ̂ then measures
directed motion through the coarse states, not stationary currents.
"""

from __future__ import annotations

import numpy as np
import torch

from ..probes.two_field import irreversibility

N_STATES = 6
WINDOW = 40  # transitions per window of the windowed Σ̂(t)


def kmeans(z: np.ndarray, k: int, seed: int = 0, iters: int = 50) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding (seeded): the state label ``int [T]`` of each row of ``z [T, d]``."""
    z = np.asarray(z, float)
    k = min(k, len(z))
    rng = np.random.default_rng(seed)
    centres = [z[rng.integers(len(z))]]
    for _ in range(1, k):
        d2 = np.min([((z - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(z[rng.choice(len(z), p=d2 / d2.sum())] if d2.sum() > 0 else z[rng.integers(len(z))])
    C = np.array(centres)
    labels = np.zeros(len(z), dtype=np.int64)
    for _ in range(iters):
        labels = ((z[:, None, :] - C[None]) ** 2).sum(-1).argmin(1)
        new = np.array([z[labels == j].mean(0) if (labels == j).any() else C[j] for j in range(k)])
        if np.allclose(new, C):
            break
        C = new
    return labels


def entropy_production(states: np.ndarray, n_states: int) -> float:
    """Σ̂ per transition of a discrete sequence ``states int [T]`` (nan with fewer than 2 points)."""
    s = np.asarray(states, dtype=np.int64)
    if len(s) < 2:
        return float("nan")
    return irreversibility(torch.as_tensor(s), n_states)


def windowed_entropy_production(states: np.ndarray, n_states: int, window: int = WINDOW,
                                stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Σ̂ over sliding windows of ``window`` transitions: (centre index [W], Σ̂ [W]) — empty when too short."""
    s = np.asarray(states, dtype=np.int64)
    stride = stride or max(1, window // 4)
    starts = range(0, len(s) - window, stride)
    centres = np.array([a + window // 2 for a in starts], dtype=np.int64)
    return centres, np.array([entropy_production(s[a:a + window + 1], n_states) for a in starts])


def simulate_chain(P: np.ndarray, steps: int, seed: int = 0) -> np.ndarray:
    """A sample path of the Markov chain with transition matrix ``P [n, n]`` (rows sum to 1), from state 0."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(np.asarray(P, float), 1)
    u = rng.random(steps)
    out = np.empty(steps, dtype=np.int64)
    x = 0
    for t in range(steps):
        out[t] = x
        x = min(int(np.searchsorted(cum[x], u[t], side="right")), len(P) - 1)
    return out


def exact_entropy_production(P: np.ndarray) -> float:
    """Σ of a chain at stationarity: Σ_ij π_i P_ij ln(π_i P_ij / π_j P_ji) (pairs with P_ij P_ji = 0 skipped)."""
    P = np.asarray(P, float)
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    pi = pi / pi.sum()
    J = pi[:, None] * P
    ok = (J > 0) & (J.T > 0)
    return float((J[ok] * np.log(J[ok] / J.T[ok])).sum())
