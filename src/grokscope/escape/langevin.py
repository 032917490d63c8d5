"""A 1-D Langevin simulation of one mode of the mode model, and Kramers' mean escape time: the exact reference
the network runs are compared with (papers/01 §3.3 [reconstructed]; Kramers 1940).

    b_{t+1} = b_t - η ℓ'(b_t) + sqrt(2 η T) ξ_t,   ξ_t ~ N(0, 1),  b_0 = 0 (the "off" minimum)

Its stationary density is ∝ exp(-ℓ(b)/T), the temperature convention of ``intervene.langevin_T`` (noise
sqrt(2·lr·T)·ξ on every weight). A trajectory *escapes* at the first step its amplitude b^L reaches ``threshold``
(default: half the on-state amplitude b*^L, the midpoint between the phases). Kramers (overdamped, ΔE/T >> 1):

    τ ≈ 2π / sqrt(ℓ''(0) |ℓ''(b_top)|) · exp(ΔE / T)   (continuous time; steps = τ / η)

halved for even L, where ℓ is even in b and the off state has two exits (b -> ±b*).
"""

from __future__ import annotations

import math

import numpy as np

from .modes import grad, landscape


def kramers_steps(depth: int, s: float, gamma: float, T: float, lr: float) -> float:
    """Kramers' mean escape time from b = 0, in steps of size η = lr."""
    land = landscape(depth, s, gamma)
    if land.barrier is None or land.curvature_top is None:
        raise ValueError(f"no barrier at depth={depth}, s={s}, gamma={gamma} ({land.phase})")
    exits = 2 if depth % 2 == 0 else 1
    tau = 2 * math.pi / math.sqrt(land.curvature_off * abs(land.curvature_top)) * math.exp(land.barrier / T)
    return tau / lr / exits


def simulate(depth: int, s: float, gamma: float, T: float, lr: float, n: int, steps: int, seed: int = 0,
             threshold: float | None = None) -> np.ndarray:
    """Escape steps of ``n`` independent trajectories (float; ``inf`` = censored at ``steps``), vectorised."""
    land = landscape(depth, s, gamma)
    if land.amplitude_on is None:
        raise ValueError(f"no on minimum at depth={depth}, s={s}, gamma={gamma} ({land.phase})")
    thr = 0.5 * land.amplitude_on if threshold is None else threshold
    b_thr = thr ** (1 / depth)
    rng = np.random.default_rng(seed)
    b = np.zeros(n)
    out = np.full(n, np.inf)
    alive = np.arange(n)
    sigma = math.sqrt(2 * lr * T)
    chunk = 256  # draw noise in blocks: one RNG call per block of steps
    t = 0
    while t < steps and alive.size:
        k = min(chunk, steps - t)
        xi = rng.standard_normal((k, alive.size))
        bb = b[alive]
        hit = np.full(alive.size, -1)
        for j in range(k):
            bb = bb - lr * grad(bb, depth, s, gamma) + sigma * xi[j]
            # b^L >= thr (for even L either sign escapes: |b|)
            new = (hit < 0) & ((np.abs(bb) if depth % 2 == 0 else bb) >= b_thr)
            hit[new] = t + j + 1
        b[alive] = bb
        done = hit >= 0
        out[alive[done]] = hit[done]
        alive = alive[~done]
        t += k
    return out
