"""Paper 1's Tables 1-3 (arXiv:2606.18465 §1.4 (1)-(3)) from a run store of its cells (grokscope's own runs or the
imported published ones), through the laws of ``fits`` / ``recovery`` and the cell medians of ``cells``.

Cells are selected by their configuration (catalog columns): the folder of the source file (``dose``,
``mediation``, ``collapse``) for imported runs, then ``p``, ``arm``, ``rho``, ``tau``, ``loss_name``. The choices that
reproduce the printed tables (01 §1.4b) are the defaults: majority-grok cells, median over grokked seeds,
‖W‖ = ρ·``wc_used``, Table 1 on ρ ≤ 1.15 without the L-jump cut, L at the logged step nearest the cell's median
T_grok, linear L in Table 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .cells import Cell, cells_from_members, resample_cells
from .fits import LawComparison, collapse_regression, compare_laws, exp_law, sc_free_range
from .recovery import Recovery, nearest_logged, recovery_bootstrap

SCALE_METRIC = "published/logit_scale"


@dataclass
class Store:
    """Member rows of a run store and the seed-mean logit-scale curves of its runs."""

    rows: list[dict[str, Any]]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]

    def select(self, folder: str, **eq: Any) -> list[dict[str, Any]]:
        out = []
        for r in self.rows:
            src = "/" + str(r.get("source") or "")
            if f"/{folder}/" not in src:
                continue
            if all(_eq(r.get(k), v) for k, v in eq.items()):
                out.append(r)
        return out

    def scale_at(self, cell: Cell) -> float:
        """L of a cell at the logged step nearest its median T_grok."""
        if cell.key not in self.curves:
            return math.nan
        steps, vals = self.curves[cell.key]
        return nearest_logged(steps, vals, cell.y)


def _eq(a: Any, b: Any) -> bool:
    if isinstance(b, float) and isinstance(a, (int, float)):
        return abs(a - b) < 1e-9
    return a == b


def load_store(root: str | Path) -> Store:
    from ..store.catalog import Catalog

    with Catalog(root) as cat:
        cols = set(cat.columns("members"))
        need = {"source", "p", "t_grok"}
        if not need <= cols:
            raise UserError(f"{root}: no imported paper-1 cells (columns {', '.join(sorted(need - cols))} missing)")
        rows = cat.query("select * from members").dicts()
        df = cat.metrics({r["run_id"] for r in rows}, [SCALE_METRIC])
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    df = df[df.member == -1].sort_values(["run_id", "step"])
    for run_id, d in df.groupby("run_id"):
        curves[str(run_id)] = (d.step.to_numpy(), d.value.to_numpy())
    return Store(rows, curves)


@dataclass
class DoseRow:
    p: int
    comparison: LawComparison
    alpha_ci: tuple[float, float]
    norm_range: tuple[float, float]
    n: int


def alpha_ci(cells: list[Cell], censor: str, n_boot: int, seed: int = 0) -> tuple[float, float]:
    """95% CI of α: seeds resampled within each cell, the per-cell medians recomputed, the law refitted."""
    rng = np.random.default_rng(seed)
    x = np.array([c.x for c in cells])
    reps = []
    for _ in range(n_boot):
        t = resample_cells(cells, rng, censor)
        ok = np.isfinite(t)
        reps.append(exp_law(x[ok], t[ok]).slope if ok.sum() >= 2 else math.nan)
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return float(lo), float(hi)


def table1(store: Store, ps: tuple[int, ...] = (43, 59, 67, 97, 113), rho_max: float = 1.15,
           jump: float | None = None, censor: str = "majority", n_boot: int = 1000) -> list[DoseRow]:
    """Fixed-norm dose law per p: ``ln T_grok = c + α‖W‖`` (α per unit of absolute norm) with its AIC comparison."""
    out = []
    for p in ps:
        rows = [dict(r, wn=r["rho"] * r["wc_used"]) for r in store.select("dose", p=p, arm="clamp")
                if r.get("wc_used") is not None]
        cells = cells_from_members(rows, "wn", censor=censor)
        if not cells:
            continue
        rho = np.array([c.x for c in cells]) / rows[0]["wc_used"]
        scale = np.array([store.scale_at(c) for c in cells])
        keep = sc_free_range(rho, scale, rho_max, jump)
        cells = [c for c, k in zip(cells, keep, strict=True) if k]
        if len(cells) < 3:
            continue
        x, t = np.array([c.x for c in cells]), np.array([c.y for c in cells])
        out.append(DoseRow(p, compare_laws(x, t), alpha_ci(cells, censor, n_boot), (float(x.min()), float(x.max())),
                           len(cells)))
    return out


@dataclass
class MediationRow:
    loss: str
    p: int
    t0: float
    t1: float
    recovery: Recovery | None


def table2(store: Store, ps: tuple[int, ...] = (59, 97), censor: str = "majority",
           n_boot: int = 4000) -> list[MediationRow]:
    """Temperature mediation per p: baseline, norm-up, the τ sweep at ρ = 1.15; recovery for CE (MSE: ratio only)."""
    out = []
    for loss in ("ce", "mse"):
        for p in ps:
            rows = store.select("mediation", p=p, loss_name=loss)
            base = cells_from_members([r for r in rows if r.get("arm") != "none" and _eq(r.get("rho"), 1.0)],
                                      "tau", censor=censor)
            sweep = cells_from_members([r for r in rows if _eq(r.get("rho"), 1.15)], "tau", censor=censor)
            base = [c for c in base if _eq(c.x, 1.0)]
            up = [c for c in sweep if _eq(c.x, 1.0)]
            if not base or not up:
                continue
            rec = None
            if loss == "ce":
                l0 = store.scale_at(base[0])
                ls = np.array([store.scale_at(c) for c in sweep])
                rec = recovery_bootstrap(base[0].times, up[0].times, [c.times for c in sweep], l0, ls, censor,
                                         n_boot=n_boot)
            out.append(MediationRow(loss, p, base[0].y, up[0].y, rec))
    return out


@dataclass
class CollapseRow:
    p: int
    r2_l: float
    r2_rho: float
    r2_both: float
    delta_r2: float
    n: int
    printed_l_mismatch: int  # cells whose L differs from the paper's printed grid table (filled by the caller)


def table3(store: Store, ps: tuple[int, ...] = (59, 97), censor: str = "majority") -> list[tuple[int, Any, list]]:
    """Collapse grid per p: R² of ln T_grok on L, ρ and both; also the cells (for the printed-L comparison)."""
    out = []
    for p in ps:
        rows = store.select("collapse", p=p)
        cells = cells_from_members(rows, "rho", censor=censor)
        for c in cells:
            c.extra["tau"] = next(r["tau"] for r in rows if r["run_id"] == c.key)
            c.extra["L"] = store.scale_at(c)
        if len(cells) < 3:
            continue
        t = np.array([c.y for c in cells])
        res = collapse_regression(t, np.array([c.extra["L"] for c in cells]), np.array([c.x for c in cells]))
        out.append((p, res, cells))
    return out


@dataclass
class CrossChecks:
    """Paper 4's numbers measured on paper 1's cells (same group, same MLP): α in units of ρ at p=59, the slope
    shared across p (design [ρ, one-hot p]) with per-p vs shared SSE, and W_c ∝ p^β over the free controls."""

    alpha_rho_59: float
    alpha_rho_59_ci: tuple[float, float]
    shared: Any
    shared_ci: tuple[float, float]
    beta: float
    beta_ci: tuple[float, float]
    wc: dict[int, float]


def _free_controls(store: Store) -> list[dict[str, Any]]:
    """Free CE runs at λ = 1 (no clamp, τ = 1): ``dose/*_free_wd1.00`` and ``mediation/*_ce_*_ctrl``."""
    rows = [r for r in store.select("dose", arm="none") if _eq(r.get("wd"), 1.0)]
    rows += [r for r in store.select("mediation", arm="none", loss_name="ce") if _eq(r.get("rho"), 1.0)]
    return rows


def cross_checks(store: Store, rho_max: float = 1.15, censor: str = "majority", n_boot: int = 1000,
                 seed: int = 0) -> CrossChecks:
    from .fits import power_law, shared_slope

    rng = np.random.default_rng(seed)
    per_p: dict[int, list[Cell]] = {}
    for p in (43, 59, 67, 97, 113):
        cells = cells_from_members([r for r in store.select("dose", p=p, arm="clamp")], "rho", censor=censor)
        per_p[p] = [c for c in cells if c.x <= rho_max + 1e-9]
    c59 = per_p[59]
    x59 = np.array([c.x for c in c59])
    a59 = exp_law(x59, np.array([c.y for c in c59])).slope
    reps = [exp_law(x59, resample_cells(c59, rng, censor)).slope for _ in range(n_boot)]
    all_cells = [(p, c) for p, cs in per_p.items() for c in cs]
    xs = np.array([c.x for _, c in all_cells])
    gs = np.array([p for p, _ in all_cells])

    def shared_of(t: np.ndarray) -> Any:
        ok = np.isfinite(t)
        return shared_slope(xs[ok], np.log(t[ok]), gs[ok])

    sh = shared_of(np.array([c.y for _, c in all_cells]))
    sreps = [shared_of(resample_cells([c for _, c in all_cells], rng, censor)).slope for _ in range(n_boot)]
    ctrl = cells_from_members([dict(r, t_wc=r.get("at_grok_norm")) for r in _free_controls(store)], "p", "t_wc",
                              censor=censor)
    ps = np.array([c.x for c in ctrl])
    wc = np.array([c.y for c in ctrl])
    beta = power_law(ps, wc).slope
    breps = [power_law(ps, resample_cells(ctrl, rng, censor)).slope for _ in range(n_boot)]
    ci = lambda r: tuple(float(v) for v in np.nanpercentile(r, [2.5, 97.5]))  # noqa: E731
    return CrossChecks(a59, ci(reps), sh, ci(sreps), beta, ci(breps), {int(p): float(w) for p, w in zip(ps, wc)})


@dataclass
class SameState:
    """§1.4 (7): arms branched from one saved state at ``t_fork``; delays from the fork (median over seeds)."""

    p: int
    delays: dict[str, float]
    ratio: float  # raised / same
    ci: tuple[float, float]
    n: int


def same_state(store: Store, ps: tuple[int, ...] = (59, 97), censor: str = "majority", n_boot: int = 4000,
               seed: int = 0) -> list[SameState]:
    """Raised-vs-same clamp delay ratio from the fork with a paired seed bootstrap (the arms share seeds and state)."""
    out = []
    for p in ps:
        arms: dict[str, np.ndarray] = {}
        for r in sorted(store.select("samestate", p=p), key=lambda r: r["member"]):
            d = math.inf if r.get("t_grok") is None or r.get("censored") else r["t_grok"] - (r.get("t_fork") or 0)
            arms.setdefault(str(r.get("arm")), []).append(d)
        arms = {a: np.array(v, float) for a, v in arms.items()}
        if not {"clamp_raised", "clamp_same"} <= set(arms):
            continue
        s = len(arms["clamp_same"])

        def ratio(idx: Any, raised: np.ndarray = arms["clamp_raised"], same: np.ndarray = arms["clamp_same"]) -> float:
            a, b = cell_median_of(raised[idx], censor), cell_median_of(same[idx], censor)
            return a / b if b else math.nan

        rng = np.random.default_rng(seed)
        reps = [ratio(rng.integers(0, s, s)) for _ in range(n_boot)]
        lo, hi = np.nanpercentile(reps, [2.5, 97.5])
        out.append(SameState(p, {a: cell_median_of(v, censor) for a, v in arms.items()}, ratio(slice(None)),
                             (float(lo), float(hi)), s))
    return out


def cell_median_of(times: np.ndarray, censor: str) -> float:
    from .cells import cell_median

    return cell_median(times, None, censor)[0]


def allocation_swing(store: Store, p: int, censor: str = "majority") -> tuple[float, list[Cell]]:
    """§1.4 (5): max/min of the per-cell median T_grok across the layer-allocation shifts γ at fixed total norm."""
    cells = cells_from_members(store.select("alloc", p=p, arm="alloc"), "gamma", censor=censor)
    return (max(c.y for c in cells) / min(c.y for c in cells) if cells else math.nan), cells


def transformer_tau_effect(store: Store, rho: float = 1.15, censor: str = "majority") -> tuple[float, list[Cell]]:
    """§1.4 (6): no-LayerNorm transformer at ρ = 1.15, T_grok at the smallest τ over the largest."""
    cells = cells_from_members([r for r in store.select("transformer") if _eq(r.get("rho"), rho)], "tau",
                               censor=censor)
    return (cells[0].y / cells[-1].y if len(cells) > 1 else math.nan), cells
