"""The analytic mode model of a deep linear network with L2 (papers/01 §3.3, reconstructed from Ziyin & Ueda).

A linear net f(x) = W_L ··· W_1 x (L weight matrices, D = L - 1 hidden layers) with MSE E‖f(x) - y‖² and the
penalty γ Σ_l ‖W_l‖_F², on whitened inputs and a teacher Σ_yx = Σ_i s_i u_i v_iᵀ, decouples at balanced aligned
solutions (W_eff = Σ_i b_i^L u_i v_iᵀ) into one scalar per mode:

    ℓ_i(b) = b^{2L} - 2 s_i b^L + γ L b²          (the constant s_i² dropped; ℓ(0) = 0)

ℓ'(b) = 2 L b · g(b) with g(b) = b^{2D} - s b^{D-1} + γ. For L >= 3 the "off" minimum b = 0 is always locally
stable (ℓ''(0) = 2γL); g has two positive roots (barrier top b_top < b*, the "on" minimum) while γ < γ_sp, where
(g = g' = 0)   b_sp^{D+1} = s (D-1) / (2D),  γ_sp = s b_sp^{D-1} - b_sp^{2D};
the first-order point (ℓ(b*) = ℓ(0) and ℓ'(b*) = 0) is
               b_c^{D+1} = s (D-1) / D,      γ_c  = s b_c^{D-1} - b_c^{2D}.
Barrier ΔE(γ) = ℓ(b_top) - ℓ(0), from the roots of the polynomial g (``barrier``), or by brute force on a grid
(``barrier_grid``); the two are tested against each other. L = 2 is the second-order case (γ_c = s, no barrier);
L = 1 is convex.

Units: with the grokscope MSE (sum over outputs, mean over examples) and SGD's L2 in the gradient (g += wd·W), the
network's γ is wd / 2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


def check(depth: int, s: float, gamma: float) -> None:
    """Raise ValueError for a mode model that is not defined (depth < 1, s <= 0, γ < 0, non-finite)."""
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth (number of weight matrices) must be an integer >= 1, got {depth}")
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"singular value s must be > 0, got {s}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be >= 0, got {gamma}")


def loss(b: np.ndarray | float, depth: int, s: float, gamma: float) -> np.ndarray:
    """ℓ(b) = b^{2L} - 2 s b^L + γ L b² (papers/01 §3.3)."""
    b = np.asarray(b, dtype=float)
    L = depth
    return b ** (2 * L) - 2 * s * b**L + gamma * L * b**2


def grad(b: np.ndarray | float, depth: int, s: float, gamma: float) -> np.ndarray:
    """ℓ'(b) = 2L b^{2L-1} - 2L s b^{L-1} + 2γL b."""
    b = np.asarray(b, dtype=float)
    L = depth
    return 2 * L * b ** (2 * L - 1) - 2 * L * s * b ** (L - 1) + 2 * gamma * L * b


def curvature(b: np.ndarray | float, depth: int, s: float, gamma: float) -> np.ndarray:
    """ℓ''(b) = 2L(2L-1) b^{2L-2} - 2L(L-1) s b^{L-2} + 2γL."""
    b = np.asarray(b, dtype=float)
    L = depth
    lead = 2 * L * (2 * L - 1) * b ** (2 * L - 2)
    mid = 2 * L * (L - 1) * s * b ** (L - 2) if L >= 2 else 0.0 * b
    return lead - mid + 2 * gamma * L


def spinodal(depth: int, s: float) -> float:
    """γ_sp: above it the "on" minimum does not exist (L >= 3); γ_c = s for L = 2; 0 for L = 1."""
    D = depth - 1
    if D < 1:
        return 0.0
    if D == 1:
        return s
    b = (s * (D - 1) / (2 * D)) ** (1 / (D + 1))
    return s * b ** (D - 1) - b ** (2 * D)


def critical(depth: int, s: float) -> float:
    """γ_c: the first-order point where ℓ(b*) = ℓ(0) (L >= 3); the second-order point s for L = 2."""
    D = depth - 1
    if D < 1:
        return 0.0
    if D == 1:
        return s
    b = (s * (D - 1) / D) ** (1 / (D + 1))
    return s * b ** (D - 1) - b ** (2 * D)


def stationary_points(depth: int, s: float, gamma: float) -> list[float]:
    """Positive roots of g(b) = b^{2D} - s b^{D-1} + γ (the nonzero stationary points of ℓ), ascending."""
    D = depth - 1
    if D < 1:
        return []
    coeffs = np.zeros(2 * D + 1)
    coeffs[0] = 1.0  # b^{2D}
    coeffs[2 * D - (D - 1)] += -s  # b^{D-1}
    coeffs[-1] += gamma  # b^0
    roots = np.roots(coeffs)
    real = sorted(float(r.real) for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r)) and r.real > 1e-12)
    out: list[float] = []
    for r in real:  # polish (Newton on g) and deduplicate a double root
        for _ in range(3):
            g = r ** (2 * D) - s * r ** (D - 1) + gamma
            dg = 2 * D * r ** (2 * D - 1) - s * (D - 1) * r ** (D - 2) if D >= 2 else 2 * r
            if dg == 0:
                break
            r -= g / dg
        if not out or abs(r - out[-1]) > 1e-9:
            out.append(r)
    return out


@dataclass(frozen=True)
class ModeLandscape:
    """Everything the mode model says at one (L, s, γ). ``b_top``/``b_on`` are None where they do not exist."""

    depth: int  # L, number of weight matrices
    hidden_layers: int  # D = L - 1
    s: float
    gamma: float
    gamma_sp: float
    gamma_c: float
    b_top: float | None  # barrier top (local maximum of ℓ)
    b_on: float | None  # the "on" minimum b*
    loss_on: float | None  # ℓ(b*) (ℓ(0) = 0)
    barrier: float | None  # ΔE = ℓ(b_top) - ℓ(0): escape from "off"
    barrier_back: float | None  # ℓ(b_top) - ℓ(b*): escape from "on"
    curvature_off: float  # ℓ''(0)
    curvature_top: float | None  # ℓ''(b_top) (< 0)
    amplitude_on: float | None  # the mode amplitude u_iᵀ W_eff v_i = b*^L in the on state
    phase: str  # "coexistence (on global)", "coexistence (off global)", "off only", "second order", ...

    def as_dict(self) -> dict:
        return asdict(self)


def landscape(depth: int, s: float, gamma: float) -> ModeLandscape:
    """The minima, spinodal, γ_c and barrier of ℓ at (L = depth, s, γ); polynomial roots (closed form in them)."""
    check(depth, s, gamma)
    D = depth - 1
    gsp, gc = spinodal(depth, s), critical(depth, s)
    c0 = float(curvature(0.0, depth, s, gamma)) if depth >= 2 else 2 * (1 + gamma)
    if D < 1:  # ℓ = (1 + γ) b² - 2 s b: convex, one minimum b = s / (1 + γ)
        b = s / (1 + gamma)
        return ModeLandscape(depth, D, s, gamma, gsp, gc, None, b, float(loss(b, 1, s, gamma)), None, None, c0,
                             None, b, "convex (single layer)")
    roots = stationary_points(depth, s, gamma)
    if D == 1:  # ℓ = b⁴ - 2(s - γ) b²: a second-order transition at γ = s
        on = roots[-1] if roots else None
        return ModeLandscape(depth, D, s, gamma, gsp, gc, None, on, float(loss(on, depth, s, gamma)) if on else None,
                             0.0 if on else None, None, c0, None, on**2 if on else None, "second order")
    if len(roots) < 2:
        return ModeLandscape(depth, D, s, gamma, gsp, gc, None, None, None, None, None, c0, None, None, "off only")
    top, on = roots[0], roots[-1]
    l_top, l_on = float(loss(top, depth, s, gamma)), float(loss(on, depth, s, gamma))
    phase = "coexistence (on global)" if l_on < 0 else "coexistence (off global)"
    return ModeLandscape(depth, D, s, gamma, gsp, gc, top, on, l_on, l_top, l_top - l_on, c0,
                         float(curvature(top, depth, s, gamma)), on**depth, phase)


def barrier(depth: int, s: float, gamma: float) -> float | None:
    """ΔE(γ) = max_{b∈[0,b*]} ℓ(b) - ℓ(0) from the roots of ℓ'; None where no on minimum exists (L >= 3)."""
    return landscape(depth, s, gamma).barrier


def barrier_grid(depth: int, s: float, gamma: float, n: int = 200_001) -> float | None:
    """ΔE by brute force: ℓ on a grid of [0, 2·max(1, s)], the on minimum as the grid's global minimiser past the
    first rise, the barrier as the grid maximum between 0 and it. An independent check of ``barrier``."""
    b = np.linspace(0.0, 2.0 * max(1.0, s) ** (1 / depth), n)
    v = loss(b, depth, s, gamma)
    falling = np.flatnonzero(np.diff(v) < 0)
    if depth < 3 or falling.size == 0:
        return None
    first_fall = falling[0]
    i_on = first_fall + int(np.argmin(v[first_fall:]))
    if v[i_on] >= v[first_fall]:
        return None
    return float(v[: i_on + 1].max() - v[0])


def brute_force_minimum(depth: int, s: float, gamma: float, n: int = 200_001) -> tuple[float, float]:
    """(b, ℓ(b)) of the global minimum of ℓ on a grid of [0, 2·max(1, s)^{1/L}] (an independent check)."""
    b = np.linspace(0.0, 2.0 * max(1.0, s) ** (1 / depth), n)
    v = loss(b, depth, s, gamma)
    i = int(np.argmin(v))
    return float(b[i]), float(v[i])


def follow(b0: float, depth: int, s: float, gamma: float) -> float:
    """The local minimum of ℓ that gradient flow from b0 >= 0 falls into (quasi-static state following): past the
    barrier top (or with no stable b = 0) the on minimum b*, else the off minimum 0."""
    land = landscape(depth, s, gamma)
    if land.b_on is None:
        return 0.0
    if land.curvature_off <= 0:  # b = 0 unstable (L = 2 below γ_c = s)
        return land.b_on
    return land.b_on if land.b_top is not None and b0 > land.b_top else 0.0


def hysteresis(depth: int, s: float, gammas: np.ndarray, kick: float = 1e-3) -> dict[str, list[float]]:
    """γ swept up (starting in the on minimum at the smallest γ) and back down (from where it ended), following
    the local minimum quasi-statically (``follow``); ``kick`` is a small displacement before each step, so a state
    whose minimum stops existing is left. Returns γ and the mode amplitude b^L on each branch."""
    gammas = np.sort(np.asarray(gammas, dtype=float))
    land = landscape(depth, s, float(gammas[0]))
    b = land.b_on if land.b_on is not None else 0.0
    up, down = [], []
    for g in gammas:
        b = follow(b + kick, depth, s, float(g))
        up.append(b**depth)
    for g in gammas[::-1]:
        b = follow(b + kick, depth, s, float(g))
        down.append(b**depth)
    return {"gamma_up": gammas.tolist(), "amplitude_up": up, "gamma_down": gammas[::-1].tolist(),
            "amplitude_down": down}
