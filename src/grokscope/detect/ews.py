"""Early-warning signals of critical slowing down (Scheffer et al. 2009; Dakos et al. 2012), as in the field's
packages (``ewstools``; R ``earlywarnings::generic_ews``), and the naive variant of paper 11 [03 §11].

Conventions (those of ``ewstools`` 2.x, checked against it in ``tests/reference/test_ews_reference.py``):

- Only the series up to the transition (``step <= transition``, T_grok) enters detrending, indicators and the
  Kendall τ: nothing past T_grok reaches a lead-time score.
- Detrending: ``gaussian`` (kernel smoother; ``bandwidth`` as a fraction of the pre-transition length or a number of
  points, with the kernel's quartiles at ±0.25·bandwidth as in R ``ksmooth``: σ = 0.25/0.675·bandwidth, reflected
  ends), ``linear`` (least-squares line) or ``none``. Indicators are computed on the residuals.
- Rolling window: a fraction (0, 1] of the pre-transition length, or a number of points; a value is reported at
  the window's last point (causal), NaN before.
- Indicators: ``var`` (sample variance, ddof 1), ``ac1`` (lag-1 Pearson autocorrelation of the window, each lag
  with its own mean, as ``pandas.Series.autocorr``), and paper 11's ``vr`` = Var(last 20%)/Var(first 80%).
- Trend: Kendall τ (τ-b) of each indicator against time, over its non-NaN values.
- Significance: surrogate series with the residuals' linear structure (``ar1``: AR(1) with the fitted φ and noise
  variance; ``phase``: Fourier phase randomisation, same amplitude spectrum) go through the same pipeline; the
  p-value is (1 + #{τ_surrogate >= τ}) / (1 + n).

Eval grids: the indicators assume equally spaced samples. A geometric eval grid (dense early, sparse late) is not;
``uniform_grid`` resamples it onto a uniform step grid whose spacing is the largest gap of the pre-transition
series (``"max_gap"``: no point is invented between two evaluations further apart than the grid step), or at a
given spacing; the choice and the resulting number of points are reported with every result.

Paper 11's naive variant is ``detrend="none"`` (its window: 200 steps on a per-step series, ``vr`` its variance
ratio): on a trending series its AC1 is ≈ 1 from the trend alone, which is the artifact 03 §11 explains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

DETRENDS = ("gaussian", "linear", "none")
INDICATORS = ("var", "ac1", "vr")
SURROGATES = ("ar1", "phase")


# -- the eval grid ------------------------------------------------------------------------------------------------
def is_uniform(steps: np.ndarray, rtol: float = 1e-6) -> bool:
    """Whether ``steps`` [n] are equally spaced (a linear eval grid)."""
    d = np.diff(np.asarray(steps, dtype=float))
    return d.size == 0 or bool(np.all(np.abs(d - d[0]) <= rtol * max(abs(d[0]), 1.0)))


def uniform_grid(steps: np.ndarray, values: np.ndarray, spacing: float | str = "max_gap"
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Resample ``values`` [n] at ``steps`` [n] onto a uniform step grid (linear interpolation).

    ``spacing``: ``"max_gap"`` (the largest gap between consecutive steps: no invented resolution) or a step count.
    Returns the grid, the values on it and a description ``{"grid": "linear"|"resampled", "spacing", "n_points",
    "n_original"}``. An already uniform series is returned unchanged."""
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = ~np.isnan(values)
    steps, values = steps[ok], values[ok]
    info: dict[str, Any] = {"n_original": int(steps.size)}
    if steps.size < 3 or is_uniform(steps):
        spacing_v = float(steps[1] - steps[0]) if steps.size > 1 else 0.0
        return steps, values, {**info, "grid": "linear", "spacing": spacing_v, "n_points": int(steps.size)}
    h = float(np.diff(steps).max()) if spacing == "max_gap" else float(spacing)
    if not h > 0:
        raise ValueError(f"resampling spacing must be > 0, got {spacing!r}")
    grid = np.arange(steps[0], steps[-1] + 0.5 * h, h)
    grid = grid[grid <= steps[-1]]
    return grid, np.interp(grid, steps, values), {**info, "grid": "resampled", "spacing": h, "n_points": int(grid.size)}


# -- detrending ---------------------------------------------------------------------------------------------------
def _points(size: float, n: int) -> float:
    """A window or bandwidth given as a fraction (0, 1] of ``n`` or as a number of points."""
    if size <= 0:
        raise ValueError(f"window/bandwidth must be > 0, got {size}")
    return size * n if size <= 1 else float(size)


def gaussian_smooth(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian kernel smoother with half-sample reflected ends: ``scipy.ndimage.gaussian_filter1d(x, sigma,
    mode="reflect")`` in numpy (scipy.ndimage costs ~1 s to import, too much inside a user's loop)."""
    r = int(truncate * sigma + 0.5)
    if r < 1:
        return x.copy()
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, r, mode="symmetric"), k / k.sum(), mode="valid")


def detrend(x: np.ndarray, method: str = "gaussian", bandwidth: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """``x`` [n] -> (trend [n], residuals [n]). ``bandwidth``: fraction of n or points (gaussian only)."""
    x = np.asarray(x, dtype=float)
    if method == "none":
        return np.zeros_like(x), x.copy()
    if method == "linear":
        t = np.arange(x.size, dtype=float)
        trend = np.polyval(np.polyfit(t, x, 1), t) if x.size > 1 else x.copy()
        return trend, x - trend
    if method == "gaussian":
        sigma = 0.25 / 0.675 * _points(bandwidth, x.size)  # quartiles at ±0.25·bandwidth (R ksmooth, ewstools)
        trend = gaussian_smooth(x, sigma)
        return trend, x - trend
    raise ValueError(f"unknown detrending {method!r} (choose from {', '.join(DETRENDS)})")


# -- rolling indicators -------------------------------------------------------------------------------------------
def _windows(x: np.ndarray, w: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(x, w)  # [n - w + 1, w]


def lag1_autocorr(win: np.ndarray) -> np.ndarray:
    """Lag-1 Pearson autocorrelation of each row of ``win`` [k, w] (each lag with its own mean) -> [k]."""
    a, b = win[..., :-1], win[..., 1:]
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def variance_ratio(win: np.ndarray, split: float = 0.8) -> np.ndarray:
    """Paper 11's VR: Var(last 20% of the window) / Var(first 80%) per row of ``win`` [k, w] -> [k]."""
    cut = int(round(split * win.shape[-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return win[..., cut:].var(-1, ddof=1) / win[..., :cut].var(-1, ddof=1)


def rolling(x: np.ndarray, window: float, indicators: tuple[str, ...] = ("var", "ac1")) -> dict[str, np.ndarray]:
    """Rolling indicators of ``x`` [n], each [n] with NaN before the first full window (value at window end)."""
    n = x.size
    w = int(_points(window, n))
    if w < 3 or w > n:
        raise ValueError(f"rolling window of {w} points does not fit a series of {n} (need 3 <= window <= n)")
    win = _windows(np.asarray(x, dtype=float), w)
    fns = {"var": lambda v: v.var(-1, ddof=1), "ac1": lag1_autocorr, "vr": variance_ratio}
    out = {}
    for name in indicators:
        if name not in fns:
            raise ValueError(f"unknown indicator {name!r} (choose from {', '.join(INDICATORS)})")
        col = np.full(n, np.nan)
        col[w - 1:] = fns[name](win)
        out[name] = col
    return out


def kendall_tau(t: np.ndarray, v: np.ndarray) -> float:
    """Kendall τ-b of ``v`` against ``t`` over their non-NaN pairs (NaN with fewer than 3)."""
    from scipy.stats import kendalltau

    ok = ~np.isnan(v)
    if ok.sum() < 3:
        return float("nan")
    return float(kendalltau(np.asarray(t)[ok], v[ok]).statistic)


# -- the pipeline -------------------------------------------------------------------------------------------------
@dataclass
class EWSResult:
    """Indicators of one series up to its transition. Arrays [n] on ``steps`` (the series actually analysed)."""

    steps: np.ndarray
    values: np.ndarray
    trend: np.ndarray
    residuals: np.ndarray
    indicators: dict[str, np.ndarray]
    tau: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)  # detrend, bandwidth, window (points), grid, transition
    p_value: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: settings, τ, p-values and the last indicator values (no arrays)."""
        last = {k: (None if np.isnan(v[-1]) else float(v[-1])) for k, v in self.indicators.items()}
        return {**self.settings, "tau": _nan_none(self.tau), "p_value": _nan_none(self.p_value), "last": last}

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else
                    {kk: vv.tolist() for kk, vv in v.items()} if k == "indicators" else v) for k, v in d.items()}


def _nan_none(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v is None or np.isnan(v) else float(v)) for k, v in d.items()}


def ews(steps: np.ndarray, values: np.ndarray, *, detrend_method: str = "gaussian", bandwidth: float = 0.2,
        window: float = 0.25, transition: float | None = None, indicators: tuple[str, ...] = ("var", "ac1"),
        grid: str = "auto", spacing: float | str = "max_gap") -> EWSResult:
    """Detrended rolling indicators and their Kendall τ on the series up to ``transition`` (inclusive).

    ``grid``: ``"auto"`` (resample a non-uniform grid, see ``uniform_grid``), ``"resample"`` (always), ``"linear"``
    (require a uniform grid: a ValueError otherwise) or ``"index"`` (treat samples as equally spaced whatever their
    steps: the naive reading of a geometric grid, offered to show its effect)."""
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float)
    if transition is not None:
        keep = steps <= transition
        steps, values = steps[keep], values[keep]
    ok = ~np.isnan(values)
    steps, values = steps[ok], values[ok]
    if grid == "linear" and not is_uniform(steps):
        raise ValueError("the series is not on a linear eval grid (use grid='auto' to resample it)")
    if grid == "index":
        info = {"grid": "index", "spacing": None, "n_points": int(steps.size), "n_original": int(steps.size)}
    elif grid in ("auto", "resample", "linear"):
        steps, values, info = uniform_grid(steps, values, spacing)
    else:
        raise ValueError(f"unknown grid handling {grid!r} (choose auto, resample, linear or index)")
    trend, resid = detrend(values, detrend_method, bandwidth)
    ind = rolling(resid, window, indicators)
    tau = {k: kendall_tau(steps, v) for k, v in ind.items()}
    settings = {"detrend": detrend_method, "bandwidth": bandwidth if detrend_method == "gaussian" else None,
                "window_points": int(_points(window, values.size)), "window": window,
                "transition": None if transition is None else float(transition), **info}
    return EWSResult(steps, values, trend, resid, ind, tau, settings)


# -- surrogates ---------------------------------------------------------------------------------------------------
def ar1_fit(x: np.ndarray) -> tuple[float, float]:
    """Least-squares AR(1) fit of the centred ``x`` [n]: (φ, innovation standard deviation)."""
    x = np.asarray(x, dtype=float) - np.mean(x)
    a, b = x[:-1], x[1:]
    phi = float(a @ b / (a @ a)) if a @ a > 0 else 0.0
    return phi, float(np.std(b - phi * a, ddof=1))


def surrogate(x: np.ndarray, kind: str, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """``n`` surrogate series [n, len(x)] with the linear structure of ``x`` and no trend in it.

    ``ar1``: AR(1) with x's fitted φ and noise scale, started from the stationary law (|φ| clipped below 1);
    ``phase``: x's Fourier amplitudes with uniform random phases (real inverse FFT; mean kept)."""
    x = np.asarray(x, dtype=float)
    if kind == "ar1":
        phi, sd = ar1_fit(x)
        phi = float(np.clip(phi, -0.999, 0.999))
        e = rng.normal(0.0, sd, size=(n, x.size))
        out = np.empty_like(e)
        out[:, 0] = e[:, 0] / np.sqrt(1 - phi ** 2)
        for t in range(1, x.size):
            out[:, t] = phi * out[:, t - 1] + e[:, t]
        return out + x.mean()
    if kind == "phase":
        f = np.fft.rfft(x - x.mean())
        ph = rng.uniform(0, 2 * np.pi, size=(n, f.size))
        ph[:, 0] = 0.0
        if x.size % 2 == 0:
            ph[:, -1] = 0.0  # the Nyquist term stays real
        return np.fft.irfft(np.abs(f) * np.exp(1j * ph), n=x.size) + x.mean()
    raise ValueError(f"unknown surrogate {kind!r} (choose from {', '.join(SURROGATES)})")


def surrogate_p_values(res: EWSResult, kind: str = "ar1", n: int = 200, seed: int = 0) -> dict[str, float]:
    """One-sided p-value of each indicator's τ: surrogates of the residuals go through the same rolling window
    (they are trend-free by construction, so no further detrending) and their τ are compared with the observed."""
    rng = np.random.default_rng(seed)
    sur = surrogate(res.residuals, kind, rng, n)
    w = res.settings["window_points"]
    counts = dict.fromkeys(res.tau, 0)
    for s in sur:
        ind = rolling(s, w, tuple(res.tau))
        for k, v in ind.items():
            counts[k] += kendall_tau(res.steps, v) >= res.tau[k]
    p = {k: (1 + counts[k]) / (1 + n) if not np.isnan(res.tau[k]) else float("nan") for k in res.tau}
    res.p_value = p
    res.settings["surrogate"] = {"kind": kind, "n": n, "seed": seed}
    return p


def sensitivity(steps: np.ndarray, values: np.ndarray, windows: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5),
                bandwidths: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3), indicator: str = "ac1",
                **kw: Any) -> dict[str, Any]:
    """Kendall τ of ``indicator`` over windows × bandwidths (Dakos et al. 2012 sensitivity analysis), gaussian
    detrending: ``{"windows", "bandwidths", "tau": [len(bandwidths)][len(windows)]}`` (None where a window does
    not fit)."""
    grid = []
    for bw in bandwidths:
        row = []
        for w in windows:
            try:
                r = ews(steps, values, detrend_method="gaussian", bandwidth=bw, window=w, indicators=(indicator,), **kw)
                t = r.tau[indicator]
                row.append(None if np.isnan(t) else t)
            except ValueError:
                row.append(None)
        grid.append(row)
    return {"indicator": indicator, "windows": list(windows), "bandwidths": list(bandwidths), "tau": grid}
