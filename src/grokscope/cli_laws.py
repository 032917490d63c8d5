"""``grokscope import published`` and ``grokscope fit <law>``: published results into the run store, and the delay
laws fitted to per-cell medians of any run store (grokscope's own runs and imported ones alike).

Registered on the main app by ``grokscope.cli._register_extensions``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .cli_json import print_json
from .errors import UserError

import_app = typer.Typer(no_args_is_help=True, help="bring results from elsewhere into a run store")
fit_app = typer.Typer(no_args_is_help=True, help="fit a delay law to per-cell medians of a run store")

RUNS = typer.Option(..., "--runs", help="a run store (any tree of runs, sweeps, imported cells)")
WHERE = typer.Option(None, "--where", help="SQL condition on the members table, e.g. \"arm = 'clamp' and rho <= 1.15\"")
BY = typer.Option(None, "--by", help="fit one law per value of this column (e.g. p)")
CENSOR = typer.Option("majority", "--censor", help="censored members: majority (default; paper 1), drop, "
                      "censored-median, budget (see grokscope.laws.cells)")
JSON = typer.Option(False, "--json", help="print the fits as JSON")
N_BOOT = typer.Option(1000, "--n-boot", help="bootstrap resamples for the CIs (seeded: default_rng(0))")


def register(app: typer.Typer) -> None:
    import_app.command("published")(import_published_cmd)
    fit_app.command("exp-law")(fit_exp_law)
    fit_app.command("power-law")(fit_power_law)
    fit_app.command("logistic")(fit_logistic)
    fit_app.command("contraction")(fit_contraction_cmd)
    app.command("forecast")(forecast_cmd)
    app.add_typer(import_app, name="import")
    app.add_typer(fit_app, name="fit")


def import_published_cmd(
    src: Path = typer.Argument(..., help="directory of published .npz cell files (any depth)"),
    out: Path = typer.Option(Path("runs/published"), "--out", help="run store to import into"),
    censor: str = typer.Option("neg1,zero,budget", "--censor-conventions",
                               help="which per-seed values mean 'never reached': neg1 (-1), zero (0), budget (>= max_steps)"),
) -> None:
    """Import published per-seed results (ClevixLab .npz layout) as run directories."""
    from .laws.importer import import_published
    from .laws.published import CENSOR_CONVENTIONS

    conv = tuple(c.strip() for c in censor.split(",") if c.strip())
    bad = [c for c in conv if c not in CENSOR_CONVENTIONS]
    if bad:
        raise UserError(f"unknown censoring convention {bad[0]!r} (choose from {', '.join(CENSOR_CONVENTIONS)})")
    res = import_published(src, out, conv)
    for w in res.warnings:
        sys.stderr.write(w + "\n")
    print(f"imported {len(res.imported)} cells into {out} ({len(res.unchanged)} unchanged, "
          f"{len(res.warnings)} files skipped)")


# -- reading a store ---------------------------------------------------------------------------------------------
def member_rows(runs: Path, where: Optional[str], need: list[str]) -> list[dict[str, Any]]:
    from .store.catalog import Catalog

    if not runs.exists():
        raise UserError(f"{runs} does not exist")
    with Catalog(runs) as cat:
        cols = set(cat.columns("members"))
        for c in need:
            if c and c not in cols:
                near = sorted(k for k in cols if c.lower() in k.lower())[:6]
                raise UserError(f"no column {c!r} in {runs}" + (f" (did you mean: {', '.join(near)})" if near else
                                                                  "; see `grokscope query \"describe members\"`"))
        sql = "select * from members" + (f" where {where}" if where else "")
        rows = cat.query(sql).dicts()
    if not rows:
        raise UserError(f"no members in {runs}" + (f" where {where}" if where else ""))
    return rows


def _groups(rows: list[dict], by: Optional[str]) -> dict[Any, list[dict]]:
    out: dict[Any, list[dict]] = {}
    for r in rows:
        out.setdefault(r.get(by) if by else None, []).append(r)
    return dict(sorted(out.items(), key=lambda kv: (not isinstance(kv[0], (int, float)), kv[0] if isinstance(
        kv[0], (int, float)) else str(kv[0]))))


def _law_fit(kind: str, runs: Path, x: str, y: str, where: Optional[str], by: Optional[str], censor: str,
             n_boot: int, as_json: bool) -> None:
    import numpy as np

    from .laws.cells import cells_from_members, resample_cells
    from .laws.fits import compare_laws, exp_law, power_law

    fit_fn = exp_law if kind == "exp-law" else power_law
    rows = member_rows(runs, where, [x, y, by or ""])
    results = []
    for g, members in _groups(rows, by).items():
        cells = cells_from_members(members, x, y, censor)
        xs, ts = np.array([c.x for c in cells]), np.array([c.y for c in cells])
        if len(cells) < 2 or (kind == "power-law" and (xs <= 0).any()):
            results.append({"group": g, "n_cells": len(cells), "error": "fewer than 2 usable cells"
                            if len(cells) < 2 else "x must be > 0 for a power law"})
            continue
        f = fit_fn(xs, ts)
        rng = np.random.default_rng(0)
        reps = []
        for _ in range(n_boot):
            t = resample_cells(cells, rng, censor)
            ok = np.isfinite(t)
            reps.append(fit_fn(xs[ok], t[ok]).slope if ok.sum() >= 2 else math.nan)
        lo, hi = np.nanpercentile(reps, [2.5, 97.5]) if n_boot else (math.nan, math.nan)
        res = {"group": g, "n_cells": len(cells), "slope": f.slope, "ci95": [float(lo), float(hi)],
               "intercept": f.intercept, "r2": f.r2, "x_range": [float(xs.min()), float(xs.max())],
               "lower_bound_cells": sum(c.lower_bound for c in cells)}
        if kind == "exp-law" and len(cells) >= 4:
            res["delta_aic"] = compare_laws(xs, ts).delta_aic
        results.append(res)
    shared = None
    if kind == "exp-law" and by:
        from .laws.fits import shared_slope

        pts = [(c.x, math.log(c.y), str(g)) for g, ms in _groups(rows, by).items()
               for c in cells_from_members(ms, x, y, censor)]
        if len({p[2] for p in pts}) > 1:
            sh = shared_slope(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]),
                              np.array([p[2] for p in pts]))
            shared = {"slope": sh.slope, "sse_shared": sh.sse_shared, "sse_per_group": sh.sse_per_group, "n": sh.n}
    law = (f"ln {y} = c + α·{x}  (α per unit of {x})" if kind == "exp-law"
           else f"ln {y} = c + ν·ln {x}  (exponent ν)")
    doc = {"law": kind, "formula": law, "x": x, "y": y, "by": by, "where": where, "censor": censor,
           "n_boot": n_boot, "fits": results, "shared_slope": shared}
    _emit(doc, as_json, "α" if kind == "exp-law" else "ν")


def _emit(doc: dict, as_json: bool, slope_name: str) -> None:
    if as_json:
        print_json(doc)
        return
    print(f"{doc['law']}: {doc['formula']}; censored members: {doc['censor']}")
    for r in doc["fits"]:
        head = f"{doc['by']}={r['group']}: " if doc.get("by") else ""
        if "error" in r:
            print(f"{head}n={r['n_cells']} cells: {r['error']}")
            continue
        line = (f"{head}n={r['n_cells']} cells  {slope_name} = {r['slope']:.4g} [{r['ci95'][0]:.4g}, "
                f"{r['ci95'][1]:.4g}]  R² = {r['r2']:.3f}")
        if "delta_aic" in r:
            line += f"  ΔAIC(exp vs best alt) = {r['delta_aic']:.2f}"
        print(line)
    sh = doc.get("shared_slope")
    if sh:
        print(f"shared across {doc['by']} (design [{doc['x']}, one-hot {doc['by']}]): {slope_name} = {sh['slope']:.4g}; "
              f"SSE shared {sh['sse_shared']:.4g} vs per-{doc['by']} {sh['sse_per_group']:.4g} ({sh['n']} cells)")


def fit_exp_law(runs: Path = RUNS, x: str = typer.Option(..., "--x", help="column of the control variable "
                                                       "(absolute norm, rho, ...): α is per unit of it"),
                y: str = typer.Option("t_grok", "--y", help="time column: t_grok, delay, t_mem"),
                where: Optional[str] = WHERE, by: Optional[str] = BY, censor: str = CENSOR, n_boot: int = N_BOOT,
                as_json: bool = JSON) -> None:
    """Exponential delay law ln T = c + α·x on per-cell medians, α with a seed-bootstrap CI, ΔAIC vs alternatives."""
    _law_fit("exp-law", runs, x, y, where, by, censor, n_boot, as_json)


def fit_power_law(runs: Path = RUNS, x: str = typer.Option(..., "--x", help="column of the control variable (λ, p)"),
                  y: str = typer.Option("t_grok", "--y", help="time column (or any positive per-member value)"),
                  where: Optional[str] = WHERE, by: Optional[str] = BY, censor: str = CENSOR, n_boot: int = N_BOOT,
                  as_json: bool = JSON) -> None:
    """Power law y ∝ x^ν (log-log fit) on per-cell medians: time to grok in λ, W_c ∝ p^β."""
    _law_fit("power-law", runs, x, y, where, by, censor, n_boot, as_json)


def fit_logistic(runs: Path = RUNS, x: str = typer.Option("wd", "--x", help="control column (fitted on log10 x)"),
                 y: str = typer.Option("grokked", "--y", help="0/1 column per member"),
                 where: Optional[str] = WHERE, by: Optional[str] = BY, n_boot: int = N_BOOT,
                 as_json: bool = JSON) -> None:
    """Logistic P(grok | log10 x) over members; the critical value x_c (P = ½) with a member-bootstrap CI."""
    import numpy as np

    from .laws.fits import logistic_fit

    rows = member_rows(runs, where, [x, y, by or ""])
    fits = []
    for g, members in _groups(rows, by).items():
        ok = [m for m in members if m.get(x) is not None and m[x] > 0 and m.get(y) is not None]
        lx = np.log10([float(m[x]) for m in ok])
        yy = np.array([float(bool(m[y])) for m in ok])
        if len(ok) < 3 or yy.min() == yy.max():
            fits.append({"group": g, "n_members": len(ok), "error": "needs members on both sides (some grok, some not)"})
            continue
        f = logistic_fit(lx, yy)
        rng = np.random.default_rng(0)
        reps = []
        for _ in range(n_boot):
            i = rng.integers(0, len(ok), len(ok))
            reps.append(logistic_fit(lx[i], yy[i]).x_c if yy[i].min() != yy[i].max() else math.nan)
        lo, hi = np.nanpercentile(reps, [2.5, 97.5]) if n_boot else (math.nan, math.nan)
        fits.append({"group": g, "n_members": len(ok), "b0": f.b0, "b1": f.b1, "log10_x_c": f.x_c,
                     "x_c": 10 ** f.x_c, "ci95": [10 ** float(lo), 10 ** float(hi)]})
    doc = {"law": "logistic", "formula": f"P({y} | log10 {x}) = σ(b0 + b1·log10 {x}); {x}_c = 10^(−b0/b1)",
           "x": x, "y": y, "by": by, "where": where, "n_boot": n_boot, "fits": fits}
    if as_json:
        print_json(doc)
        return
    print(f"logistic: {doc['formula']}")
    for r in fits:
        head = f"{by}={r['group']}: " if by else ""
        print(f"{head}{r['error']}" if "error" in r else
              f"{head}n={r['n_members']} members  {x}_c = {r['x_c']:.4g} [{r['ci95'][0]:.4g}, {r['ci95'][1]:.4g}]")


def fit_contraction_cmd(runs: Path = RUNS, where: Optional[str] = WHERE, by: Optional[str] = BY,
                        lr: str = typer.Option("lr", "--lr", help="learning-rate column"),
                        wd: str = typer.Option("wd", "--wd", help="weight-decay column"),
                        as_json: bool = JSON) -> None:
    """κ of the post-memorisation contraction V_t ≈ V_mem·exp(−2κηλ(t − T_mem)) per member (02 §10), with R²."""
    import numpy as np

    from .laws.first_passage import fit_contraction
    from .store.catalog import Catalog

    rows = [r for r in member_rows(runs, where, [lr, wd, by or ""]) if r.get("t_mem") is not None]
    if not rows:
        raise UserError("no member memorised (t_mem is null everywhere): no contraction to fit")
    with Catalog(runs) as cat:
        df = cat.metrics({r["run_id"] for r in rows}, ["norm/total"])
    curves = {(k[0], int(k[1])): d.sort_values("step") for k, d in df.groupby(["run_id", "member"])}
    per = []
    for r in rows:
        d = curves.get((r["run_id"], int(r["member"])))
        d = curves.get((r["run_id"], -1)) if d is None else d  # a seed-mean curve (imported) stands for each member
        if d is None:
            continue
        c = fit_contraction(d.step.to_numpy(), d.value.to_numpy(), r["t_mem"], r[lr], r[wd], r.get("t_grok"))
        per.append({"run_id": r["run_id"], "member": r["member"], "group": r.get(by) if by else None,
                    "kappa": c.kappa, "r2": c.r2, "points": c.n})
    fits = []
    for g, ms in _groups(per, "group").items():
        k = np.array([m["kappa"] for m in ms if math.isfinite(m["kappa"])])
        r2 = np.array([m["r2"] for m in ms if math.isfinite(m["r2"])])
        fits.append({"group": g, "n_members": len(ms), "kappa_median": float(np.median(k)) if len(k) else None,
                     "kappa_iqr": [float(np.percentile(k, 25)), float(np.percentile(k, 75))] if len(k) else None,
                     "r2_median": float(np.median(r2)) if len(r2) else None})
    doc = {"law": "contraction", "formula": "ln V_t = ln V_mem − 2κηλ(t − T_mem) on [T_mem, T_grok]",
           "by": by, "where": where, "fits": fits, "members": per}
    if as_json:
        print_json(doc)
        return
    print(f"contraction: {doc['formula']}")
    for f in fits:
        head = f"{by}={f['group']}: " if by else ""
        print(f"{head}n={f['n_members']} members  κ median = {f['kappa_median']:.4g} IQR {f['kappa_iqr']}  "
              f"median R² = {f['r2_median']:.3f}" if f["kappa_median"] is not None else f"{head}no finite κ")


def _store(path: Path, where: Optional[str], lr: str, wd: str) -> tuple[list[dict], Any]:
    from .store.catalog import Catalog

    rows = member_rows(path, where, [lr, wd])
    with Catalog(path) as cat:
        df = cat.metrics({r["run_id"] for r in rows}, ["norm/total"])
    curves = {(str(k[0]), int(k[1])): (d.step.to_numpy(), d.value.to_numpy())
              for k, d in df.sort_values("step").groupby(["run_id", "member"])}
    return rows, curves


def forecast_cmd(run: Path = typer.Argument(..., help="a run (or any run store) to forecast"),
                 calibration: str = typer.Option("first-passage-1l-p97", "--calibration",
                                                 help="a shipped calibration name, a calibration file (see "
                                                 "--save-calibration), or a run / cell directory of your own grokked "
                                                 "runs to calibrate κ and V★ on"),
                 where: Optional[str] = WHERE,
                 lr: str = typer.Option("lr", "--lr", help="learning-rate column"),
                 wd: str = typer.Option("wd", "--wd", help="weight-decay column"),
                 save_calibration: Optional[Path] = typer.Option(
                     None, "--save-calibration", help="write the calibration used (e.g. one measured on your cell) "
                     "to this JSON file, for `eval.probe_options.first_passage.calibration` or a later --calibration"),
                 as_json: bool = JSON) -> None:
    """First-passage forecast of T_grok once T_mem is known (02 §10); after the run, its error."""
    from .laws.forecast import CALIBRATIONS, calibrate, forecast, load_calibration
    from .laws.forecast import save_calibration as write_calibration

    if calibration in CALIBRATIONS or Path(calibration).is_file():
        cal = load_calibration(calibration)
    elif Path(calibration).is_dir():
        crow, ccurves = _store(Path(calibration), None, lr, wd)
        cal = calibrate(str(calibration), crow, ccurves, lr, wd)
    else:
        raise UserError(f"calibration {calibration!r}: not a shipped one ({', '.join(CALIBRATIONS)}), a calibration "
                        "file, nor a run directory")
    rows, curves = _store(run, where, lr, wd)
    if save_calibration is not None:
        write_calibration(cal, save_calibration)
    doc = forecast(rows, curves, cal, lr, wd)
    if as_json:
        print_json(doc)
        return
    c = doc["calibration"]
    print(f"{doc['law']}; calibration {c['name']}: κ = {c['kappa']:.4g}, V★ = {c['v_star']:.5g} ({c['source']})"
          + (f"; V★ leave-one-out variation {c['loo_v_star_pct']:.1f}%" if c.get("loo_v_star_pct") is not None else ""))
    for e in doc["members"]:
        head = f"{e['run_id']}[{e['member']}]"
        if e["forecast_t_grok"] is None:
            print(f"{head}: {e['why']}")
            continue
        line = f"{head}: T_mem {e['t_mem']}, forecast T_grok {e['forecast_t_grok']:.0f}"
        if e["t_grok"] is not None:
            line += f", measured {e['t_grok']} (error {e['error_steps']:+.0f} steps)"
        print(line + (f"  [{e['why']}]" if e.get("why") else ""))
    if doc["mape_pct"] is not None:
        print(f"MAPE of the delay over {doc['n_scored']} grokked members: {doc['mape_pct']:.1f}%")
