"""First-passage forecast of T_grok for the members of a run, once T_mem is known (02 §10).

``T̂_grok = T_mem + ln(V_mem/V★)/(2κηλ)`` with ``V_mem = ‖W‖²`` at the logged step nearest T_mem (grokscope logs
the weight norm ``norm/total``; the paper's V is over all parameters: κ and V★ are calibrated on the same quantity,
so a calibration carries over only between runs that log the same norm). The constants come from a named
calibration: one shipped from the paper (``CALIBRATIONS``) or a cell of the user's own runs (``calibrate``): κ the
median over its members of the post-memorisation contraction fit, V★ the median over its members of
``V_mem·exp(−2κηλ·delay)``, with the leave-one-out variation of V★. After the run, each member's error is the
forecast minus the measured T_grok, and the MAPE is over the delays.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .first_passage import calibrate_v_star, fit_contraction, loo_v_star
from .recovery import nearest_logged


@dataclass(frozen=True)
class Calibration:
    name: str
    kappa: float
    v_star: float
    source: str
    n: int | None = None
    loo_v_star_pct: float | None = None
    kappa_r2_median: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


CALIBRATIONS = {
    "first-passage-1l-p97": Calibration(
        "first-passage-1l-p97", 0.252, 2501.0, "02 §10 (arXiv:2605.18845): κ_train, V★_train of the headline cell "
        "(1-layer transformer, p=97, η=1e-3, λ=1; 10 runs)", 10,
        notes=["V★ is architecture-specific and over all parameters: transfer to another model is not expected"]),
}

def save_calibration(cal: Calibration, path: str | Path) -> Path:
    """Write ``cal`` as JSON (atomically), for ``eval.probe_options.first_passage.calibration`` or ``--calibration``."""
    from ..store.atomic import finite_json, write_atomic

    path = Path(path)
    text = json.dumps({"calibration": finite_json(cal.to_json())}, indent=1, allow_nan=False) + "\n"
    write_atomic(path, lambda p: p.write_text(text), checksum=False)
    return path


def load_calibration(name: str | Path) -> Calibration:
    """A shipped calibration by name, or one saved by ``save_calibration`` (``grokscope forecast --save-calibration``)."""
    if str(name) in CALIBRATIONS:
        return CALIBRATIONS[str(name)]
    path = Path(name)
    if not path.is_file():
        raise UserError(f"calibration {str(name)!r}: not a shipped one ({', '.join(CALIBRATIONS)}) nor a calibration "
                        "file (write one with `grokscope forecast RUN --calibration CELL --save-calibration FILE`)")
    try:
        doc = json.loads(path.read_text())["calibration"]
        cal = Calibration(**{k: doc[k] for k in doc if k in Calibration.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a calibration file ({type(e).__name__})") from None
    if not (math.isfinite(cal.kappa) and cal.kappa > 0 and math.isfinite(cal.v_star) and cal.v_star > 0):
        raise UserError(f"{path}: calibration needs κ > 0 and V★ > 0 (got κ = {cal.kappa}, V★ = {cal.v_star})")
    return cal


Curves = dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]  # (run_id, member) -> (steps, norm); member -1: mean


def _curve(curves: Curves, row: dict) -> tuple[np.ndarray, np.ndarray] | None:
    return curves.get((row["run_id"], int(row["member"]))) or curves.get((row["run_id"], -1))


def v_mem_of(row: dict, curves: Curves) -> float:
    c = _curve(curves, row)
    if c is None or row.get("t_mem") is None:
        return math.nan
    return nearest_logged(c[0], c[1], row["t_mem"]) ** 2


def calibrate(name: str, rows: list[dict], curves: Curves, lr: str = "lr", wd: str = "wd") -> Calibration:
    """κ and V★ from a cell of grokked members (``rows``: catalog member rows; ``curves``: their ‖W‖ curves)."""
    ok = [r for r in rows if r.get("t_mem") is not None and r.get("t_grok") is not None and not r.get("censored")
          and _curve(curves, r) is not None]
    if not ok:
        raise UserError(f"calibration {name}: no member both memorised and grokked, with a norm curve")
    fits = [fit_contraction(*_curve(curves, r), r["t_mem"], r[lr], r[wd], r["t_grok"]) for r in ok]
    kap = np.array([f.kappa for f in fits])
    kappa = float(np.nanmedian(kap))
    v_mem = np.array([v_mem_of(r, curves) for r in ok])
    delay = np.array([r["t_grok"] - r["t_mem"] for r in ok], float)
    lrs, wds = np.array([r[lr] for r in ok], float), np.array([r[wd] for r in ok], float)
    v_star = calibrate_v_star(v_mem, delay, kappa, lrs, wds)
    return Calibration(name, kappa, v_star, f"calibrated on {len(ok)} members of {name}", len(ok),
                       loo_v_star(v_mem, delay, kappa, lrs, wds), float(np.nanmedian([f.r2 for f in fits])))


def forecast(rows: list[dict], curves: Curves, cal: Calibration, lr: str = "lr", wd: str = "wd") -> dict[str, Any]:
    """Per-member forecasts (members without T_mem yet: none) and, where T_grok is known, their errors."""
    out = []
    for r in rows:
        e: dict[str, Any] = {"run_id": r["run_id"], "member": r["member"], "t_mem": r.get("t_mem"),
                             "t_grok": None if r.get("censored") else r.get("t_grok")}
        v = v_mem_of(r, curves)
        if r.get("t_mem") is None or not math.isfinite(v):
            e["forecast_t_grok"] = None
            e["why"] = "not memorised yet" if r.get("t_mem") is None else "no norm curve"
        else:
            d = math.log(v / cal.v_star) / (2 * cal.kappa * r[lr] * r[wd])
            e.update(v_mem=v, forecast_delay=d, forecast_t_grok=r["t_mem"] + max(d, 0.0))
            if d <= 0:
                e["why"] = "V_mem ≤ V★: the law predicts no delay"
            if e["t_grok"] is not None:
                actual = e["t_grok"] - r["t_mem"]
                e["error_steps"] = e["forecast_t_grok"] - e["t_grok"]
                e["delay_ape_pct"] = 100 * abs(max(d, 0.0) - actual) / actual if actual > 0 else None
        out.append(e)
    apes = [e["delay_ape_pct"] for e in out if e.get("delay_ape_pct") is not None]
    return {"calibration": cal.to_json(), "law": "T_grok = T_mem + ln(V_mem/V★)/(2κηλ)", "members": out,
            "mape_pct": float(np.mean(apes)) if apes else None, "n_scored": len(apes)}
