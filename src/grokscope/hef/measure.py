"""Per-member HEF measurements of a finished stage (papers/01 §5.3; thresholds are the toolkit's, see each kernel).

:func:`curve_records`: from the stored curves, per member: t_peak of the smoothed ‖W‖ (``hef.peaks``), the lead
T_grok − t_peak, the tanh kink of the test accuracy (``hef.kink``), the final test accuracy, and three candidates
for the "critical energy" E_c: ‖W‖ at its peak, ‖θ‖² (``norm/V``) at T_grok, and the cumulative update energy at
T_grok (``two_field/update_energy``; nan when the run did not log it).

:func:`representations`: from each run's last checkpoint, per member: the key frequencies of W_E in the additive
Fourier basis (``grokscope.mech``) and the embedding rows of the operand tokens ``[p, d]`` (for CKA).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kink, peaks


def _at(steps: np.ndarray, values: np.ndarray, t: float | None) -> float:
    """The value at the evaluation nearest to step ``t`` (nan without t or data)."""
    if t is None or not len(steps):
        return float("nan")
    return float(values[int(np.argmin(np.abs(steps - t)))])


def curve_records(stage: Any, window: int = peaks.WINDOW, prominence: float = peaks.PROMINENCE,
                  fit_window: float | None = kink.WINDOW) -> list[dict[str, Any]]:
    """One record per member of ``stage`` (a StageResult): its cell values and the measurements above."""
    norm, acc = stage.curves("norm/total"), stage.curves("test/acc")
    V = stage.curves("norm/V")
    try:
        energy = stage.curves("two_field/update_energy")
    except Exception:  # a stage without the probe: the candidate is nan, said in the row
        energy = {}
    out = []
    for m in stage.members:
        key = (str(m["run_id"]), int(m["member"]))
        t_grok = None if m.get("censored") else m.get("t_grok")
        s_n, v_n = norm.get(key, (np.array([]), np.array([])))
        s_a, v_a = acc.get(key, (np.array([]), np.array([])))
        t_peak = peaks.norm_peak(s_n, v_n, window, prominence) if len(s_n) else None
        k = kink.fit_kink(s_a, v_a, window=fit_window) if t_grok is not None and len(s_a) else None
        rec = {"run_id": key[0], "member": key[1], "path": m["path"], "seed": m.get("seed"),
               "values": dict(m["values"]), "t_mem": m.get("t_mem"), "t_grok": t_grok, "t_peak": t_peak,
               "lead": None if t_peak is None or t_grok is None else t_grok - t_peak,
               "kink": None if k is None else {"t_c": k.t_c, "w": k.w, "r2": k.r2},
               "final_acc": float(v_a[-1]) if len(v_a) else float("nan"),
               "norm_at_peak": _at(s_n, peaks.smooth(v_n, window), t_peak) if len(s_n) else float("nan"),
               "V_at_grok": _at(*V.get(key, (np.array([]), np.array([]))), t_grok),
               "energy_at_grok": _at(*energy.get(key, (np.array([]), np.array([]))), t_grok),
               "curve": (s_a, v_a)}
        out.append(rec)
    return out


def representations(paths: list[str], key_factor: float) -> dict[tuple[str, int], dict[str, Any]]:
    """``(run path, member) -> {"keys": [k...], "embed": [p, d]}`` from each run's last checkpoint."""
    from ..mech import readout
    from ..mech.analysis import basis_analysis
    from ..mech.domain import make_domain
    from ..mech.runs import load_step, open_run

    out: dict[tuple[str, int], dict[str, Any]] = {}
    for path in sorted(set(paths)):
        run, setup = open_run(path)
        load_step(run, setup, None)
        res = basis_analysis(setup.model, setup.data, run.config.task, "additive", key_factor, neurons=False)
        E = readout.embedding(setup.model, make_domain(run.config.task, "additive")).numpy()
        for row in res["members"]:
            m = int(row["member"])
            out[(str(path), m)] = {"keys": list(row["embed"]["key_frequencies"]), "embed": E[m],
                                   "n_freq": len(row["embed"]["norms"])}
    return out
