"""The delay laws as pure numpy kernels (no I/O): each takes per-cell arrays and returns a small result record.

* exponential law ``ln T = c + α x`` (papers 1 §1.4 (1) and 4 §4.2): α is *per unit of x*, so its unit is the
  unit of x (absolute ‖W‖ in paper 1's Table 1, ρ = ‖W‖/W_c in paper 4; α_ρ = α_‖W‖ · W_c);
* the alternatives of paper 1 §1.4 (1), compared by ``AIC = n ln(RSS/n) + 2k``: the power law
  ``ℓ = c + β ln(x − w0)`` (k = 3) with w0 bounded to ``[0, min x)`` (01 §1.4b: with w0 free the fit runs to
  w0 → −∞ and becomes the exponential plus a parameter) and the saddle-node form ``ℓ = c − ½ ln(w0 − x)`` with
  ``w0 > max x`` (k = 2);
* the collapse regression of paper 1 §1.4 (3): R² of ln T on L, on ρ, on both, and ΔR² = R²(both) − R²(L);
* a slope shared across groups (design ``[x, one-hot group]``) against per-group slopes (SSE of each);
* the logistic ``P(grok | x) = σ(b0 + b1 x)`` (x = log10 λ, 02 §9) with the midpoint ``x_c = −b0/b1``;
* the log-log power law ``ln y = c + ν ln x`` (time to grok in λ; W_c ∝ p^β), which is the exponential law in ln x;
* saturation: measured over extrapolated time at cells beyond a fit's range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class LinearFit:
    """``y = c + slope·x`` by least squares; ``rss`` in y units², ``aic`` with k = 2."""

    slope: float
    intercept: float
    r2: float
    n: int
    rss: float
    aic: float

    def to_json(self) -> dict:
        return asdict(self)


def aic(rss: float, n: int, k: int) -> float:
    """``n ln(RSS/n) + 2k`` (paper 1 §1.4 (1)); ``-inf`` for an exact fit."""
    return n * math.log(rss / n) + 2 * k if rss > 0 else -math.inf


def r_squared(y: np.ndarray, rss: float) -> float:
    tss = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - rss / tss if tss > 0 else math.nan


def ols(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients of ``y ≈ design @ coef`` and the residual sum of squares."""
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return coef, float(resid @ resid)


def linear_fit(x: np.ndarray, y: np.ndarray) -> LinearFit:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.ptp(x) == 0:
        return LinearFit(math.nan, math.nan, math.nan, len(x), math.nan, math.nan)
    coef, rss = ols(np.column_stack([np.ones_like(x), x]), y)
    return LinearFit(float(coef[1]), float(coef[0]), r_squared(y, rss), len(x), rss, aic(rss, len(x), 2))


def exp_law(x: np.ndarray, t: np.ndarray) -> LinearFit:
    """``ln T = c + α x``: ``slope`` is α per unit of x. ``t`` [n] in steps (> 0)."""
    return linear_fit(np.asarray(x, float), np.log(np.asarray(t, float)))


def power_law(x: np.ndarray, t: np.ndarray) -> LinearFit:
    """``ln y = c + ν ln x`` (exponent ``slope`` = ν)."""
    return linear_fit(np.log(np.asarray(x, float)), np.log(np.asarray(t, float)))


@dataclass(frozen=True)
class AltFit:
    name: str
    w0: float
    rss: float
    k: int
    aic: float


def _profile(rss_of_w0, lo: float, hi: float, n_grid: int = 400) -> tuple[float, float]:
    """Minimise a 1-D profile RSS over w0 in (lo, hi): a grid dense near both ends, then a bounded refinement."""
    from scipy.optimize import minimize_scalar

    u = np.linspace(0.0, 1.0, n_grid + 2)[1:-1]
    grid = lo + (hi - lo) * (0.5 - 0.5 * np.cos(np.pi * u))  # Chebyshev-like: dense at the bounds
    vals = np.array([rss_of_w0(w) for w in grid])
    i = int(np.nanargmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best_w, best = float(grid[i]), float(vals[i])
    if b > a:
        r = minimize_scalar(rss_of_w0, bounds=(a, b), method="bounded", options={"xatol": 1e-10 * max(1.0, abs(b))})
        if r.success and r.fun < best:
            best_w, best = float(r.x), float(r.fun)
    return best_w, best


def power_alt(x: np.ndarray, ell: np.ndarray) -> AltFit:
    """``ℓ = c + β ln(x − w0)``, w0 in [0, min x) (k = 3); ``ell`` = ln T."""
    x, ell = np.asarray(x, float), np.asarray(ell, float)

    def rss(w0: float) -> float:
        z = np.log(x - w0)
        return ols(np.column_stack([np.ones_like(z), z]), ell)[1]

    w0, r = _profile(rss, 0.0, float(x.min()))
    r0 = rss(0.0)
    if r0 <= r:
        w0, r = 0.0, r0
    return AltFit("power", w0, r, 3, aic(r, len(x), 3))


def saddle_alt(x: np.ndarray, ell: np.ndarray, span: float = 1e3) -> AltFit:
    """``ℓ = c − ½ ln(w0 − x)``, w0 > max x (k = 2): c is the mean of ``ℓ + ½ ln(w0 − x)``."""
    x, ell = np.asarray(x, float), np.asarray(ell, float)

    def rss(w0: float) -> float:
        r = ell + 0.5 * np.log(w0 - x)
        return float(np.sum((r - r.mean()) ** 2))

    top = float(x.max())
    w0, r = _profile(rss, top, top + span * max(np.ptp(x), 1.0))
    return AltFit("saddle-node", w0, r, 2, aic(r, len(x), 2))


@dataclass(frozen=True)
class LawComparison:
    """The exponential law against its alternatives: ``delta_aic`` = AIC(best alternative) − AIC(exp) (> 0: the
    exponential is preferred; paper 1 reads < 2 as weak)."""

    exp: LinearFit
    alternatives: tuple[AltFit, ...]

    @property
    def best_alternative(self) -> AltFit:
        return min(self.alternatives, key=lambda a: a.aic)

    @property
    def delta_aic(self) -> float:
        return self.best_alternative.aic - self.exp.aic

    def to_json(self) -> dict:
        return {"exp": self.exp.to_json(), "delta_aic": self.delta_aic, "best_alternative": self.best_alternative.name,
                "alternatives": [asdict(a) for a in self.alternatives]}


def compare_laws(x: np.ndarray, t: np.ndarray) -> LawComparison:
    """Exponential law of ``t`` in ``x`` with its AIC comparison (paper 1 Table 1)."""
    ell = np.log(np.asarray(t, float))
    return LawComparison(exp_law(x, t), (power_alt(x, ell), saddle_alt(x, ell)))


def sc_free_range(x: np.ndarray, scale: np.ndarray, x_max: float | None = None, jump: float | None = None) -> np.ndarray:
    """Mask [n] of the cells in paper 1's softmax-collapse-free range.

    ``x_max``: keep x ≤ x_max (paper 1: ρ ≤ 1.15). ``jump``: also cut, in order of x, from the first cell whose
    logit scale exceeds ``jump``× the previous one (the authors' code uses 2.5; the printed Table 1 does not, 01
    §1.4b: default None)."""
    x, scale = np.asarray(x, float), np.asarray(scale, float)
    keep = np.ones(len(x), bool) if x_max is None else x <= x_max + 1e-12
    if jump is not None:
        order = np.argsort(x)
        prev = None
        for i in order:
            if not keep[i]:
                continue
            if prev is not None and scale[i] > jump * scale[prev]:
                keep[[j for j in order if x[j] >= x[i]]] = False
                break
            prev = i
    return keep


@dataclass(frozen=True)
class Collapse:
    r2_l: float
    r2_rho: float
    r2_both: float
    n: int

    @property
    def delta_r2(self) -> float:
        """ΔR²(ρ given L): what ρ adds once L is in the regression."""
        return self.r2_both - self.r2_l

    def to_json(self) -> dict:
        return {**asdict(self), "delta_r2": self.delta_r2}


def collapse_regression(t: np.ndarray, scale: np.ndarray, rho: np.ndarray) -> Collapse:
    """R² of ln T on L alone, on ρ alone, and on both (paper 1 §1.4 (3); linear L, 01 §1.4b)."""
    y = np.log(np.asarray(t, float))
    one = np.ones_like(y)
    lv, rv = np.asarray(scale, float), np.asarray(rho, float)

    def r2(*cols: np.ndarray) -> float:
        return r_squared(y, ols(np.column_stack([one, *cols]), y)[1])

    return Collapse(r2(lv), r2(rv), r2(lv, rv), len(y))


@dataclass(frozen=True)
class SharedSlope:
    slope: float
    sse_shared: float
    sse_per_group: float
    per_group: dict
    n: int

    def to_json(self) -> dict:
        return asdict(self)


def shared_slope(x: np.ndarray, y: np.ndarray, group: np.ndarray) -> SharedSlope:
    """One slope for all groups with a per-group intercept (design ``[x, one-hot group]``) against a slope per
    group; ``y`` already on the fitted scale (ln T)."""
    x, y, group = np.asarray(x, float), np.asarray(y, float), np.asarray(group)
    levels = list(dict.fromkeys(group.tolist()))
    onehot = np.column_stack([(group == g).astype(float) for g in levels])
    coef, sse = ols(np.column_stack([x, onehot]), y)
    per = {str(g): linear_fit(x[group == g], y[group == g]) for g in levels}
    sse_per = float(sum(f.rss for f in per.values() if not math.isnan(f.rss)))
    return SharedSlope(float(coef[0]), sse, sse_per, {g: f.slope for g, f in per.items()}, len(y))


@dataclass(frozen=True)
class Logistic:
    """``P(y=1 | x) = σ(b0 + b1 x)``; ``x_c = −b0/b1`` (P = ½)."""

    b0: float
    b1: float
    n: int
    converged: bool

    @property
    def x_c(self) -> float:
        return -self.b0 / self.b1 if self.b1 != 0 else math.nan

    def to_json(self) -> dict:
        return {**asdict(self), "x_c": self.x_c}


def logistic_fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-6, iters: int = 100) -> Logistic:
    """Maximum-likelihood logistic regression by Newton's method; a tiny ridge keeps perfectly separated data (a
    sharp transition) finite — the midpoint is then still between the last 0 and the first 1."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xm, xs = x.mean(), x.std() or 1.0
    z = (x - xm) / xs
    design = np.column_stack([np.ones_like(z), z])
    b = np.zeros(2)
    ok = False
    for _ in range(iters):
        eta = np.clip(design @ b, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        grad = design.T @ (y - p) - ridge * b
        hess = design.T @ (design * (p * (1 - p))[:, None]) + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        b = b + step
        if np.max(np.abs(step)) < 1e-10:
            ok = True
            break
    b1 = b[1] / xs
    return Logistic(float(b[0] - b1 * xm), float(b1), len(x), ok)


def saturation(x: np.ndarray, t: np.ndarray, fit: LinearFit) -> np.ndarray:
    """Measured over extrapolated time [n] at the given cells, for an exponential-law ``fit`` (> 1: slower than the
    law, e.g. beyond the softmax-collapse-free range)."""
    pred = np.exp(fit.intercept + fit.slope * np.asarray(x, float))
    return np.asarray(t, float) / pred
