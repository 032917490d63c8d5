"""``grokscope analyze ews`` and ``grokscope analyze dmd``: early-warning analyses of a stored run.

- ``ews RUN --signal METRIC``: detrended rolling variance and lag-1 autocorrelation of one stored metric per member,
  their Kendall τ on the series up to the member's T_grok (nothing after it), surrogate p-values, the naive
  non-detrended variant of 03 §11 beside it, a sustained-threshold alarm calibrated on the early window, and the
  lead time T_grok − alarm. The eval-grid handling (resampled or linear) is part of the output.
- ``dmd RUN``: sliding Hankel DMD over the quantile trajectory of per-example log p(y|x) [03 §13]: from the stored
  ``logprob_quantiles/*`` metrics when the run has them, else computed from the run's checkpoints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import typer

from .cli_json import print_json
from .errors import UserError


def _run_and_metrics(run_dir: Path) -> tuple[Any, Any]:
    from . import api

    r = api.Run(run_dir)
    return r, r.metrics()


def _members(r: Any, member: int | None) -> list[int]:
    ms = [int(m["member"]) for m in r.members]
    if member is None:
        return ms
    if member not in ms:
        raise UserError(f"run {r.path} has no member {member} (members: {ms[0]}..{ms[-1]})")
    return [member]


def _t_grok(r: Any) -> dict[int, int | None]:
    return {int(e["member"]): e.get("t_grok") for e in r.events}


def _emit(doc: dict[str, Any], as_json: bool, table: Any) -> None:
    if as_json:
        print_json(doc)
    else:
        from rich.console import Console

        Console(highlight=False).print(table)


def ews_member(steps: Any, values: Any, t_grok: int | None, *, detrend: str, bandwidth: float, window: float,
               grid: str, spacing: float | str, surrogates: int, surrogate: str, fpr: float, k: int, early: float,
               sensitivity: bool) -> dict[str, Any]:
    """The ``analyze ews`` result of one member's series (steps, values: 1-D arrays)."""
    from .detect import alarms as A
    from .detect import ews as E

    kw = dict(window=window, transition=t_grok, grid=grid, spacing=spacing)
    honest = E.ews(steps, values, detrend_method=detrend, bandwidth=bandwidth, **kw)
    naive = E.ews(steps, values, detrend_method="none", **kw)
    if surrogates > 0:
        E.surrogate_p_values(honest, surrogate, surrogates)
        E.surrogate_p_values(naive, surrogate, surrogates)
    out: dict[str, Any] = {"t_grok": t_grok, "transition": "t_grok" if t_grok is not None else
                           "none (censored: the whole series is used)",
                           "honest": honest.summary(), "naive": naive.summary()}
    for name, res in (("honest", honest), ("naive", naive)):
        ac1 = res.indicators["ac1"]
        try:
            thr = A.calibrate_on_early(ac1, fpr=fpr, early=early)
        except ValueError:
            thr = None
        alarm = A.sustained_alarm(res.steps, ac1, thr, k) if thr is not None else None
        out[name]["alarm"] = {"indicator": "ac1", "rule": f"ac1 > threshold for {k} consecutive windows",
                              "threshold": thr, "calibration": f"early {early:g} of the windows, fpr {fpr:g}",
                              "step": alarm, "lead": A.lead_time(t_grok, alarm)}
    if sensitivity:
        out["sensitivity"] = E.sensitivity(steps, values, transition=t_grok, grid=grid, spacing=spacing)
    return out


def register(analyze_app: typer.Typer) -> None:
    @analyze_app.command("ews")
    def ews_cmd(
        run_dir: Path = typer.Argument(..., help="run directory"),
        signal: str = typer.Option(..., "--signal", help="a stored metric, e.g. norm/total or lar/lar"),
        detrend: str = typer.Option("gaussian", help="gaussian, linear or none"),
        bandwidth: float = typer.Option(0.2, help="gaussian bandwidth: fraction of the series (<= 1) or points"),
        window: float = typer.Option(0.25, help="rolling window: fraction of the series (<= 1) or points"),
        grid: str = typer.Option("auto", help="auto (resample a non-linear eval grid), resample, linear (require "
                                              "one) or index (treat evals as equally spaced)"),
        spacing: Optional[float] = typer.Option(None, help="resampling step spacing (default: the largest eval gap "
                                                           "before T_grok, so no resolution is invented)"),
        member: Optional[int] = typer.Option(None, help="one member (default: all)"),
        surrogates: int = typer.Option(100, help="surrogate series for the p-values (0: none)"),
        surrogate: str = typer.Option("ar1", help="ar1 or phase"),
        fpr: float = typer.Option(0.05, help="alarm false-alarm rate on the early window"),
        k: int = typer.Option(3, help="alarm: consecutive windows over the threshold"),
        early: float = typer.Option(0.2, help="alarm calibration: the first fraction of the windows"),
        sensitivity: bool = typer.Option(False, "--sensitivity", help="also τ over windows × bandwidths"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Early-warning indicators of one stored metric, with Kendall τ before T_grok and the naive variant."""
        from .detect import ews as E

        if detrend not in E.DETRENDS:
            raise UserError(f"unknown --detrend {detrend!r} (choose from {', '.join(E.DETRENDS)})")
        if surrogate not in E.SURROGATES:
            raise UserError(f"unknown --surrogate {surrogate!r} (choose from {', '.join(E.SURROGATES)})")
        if grid not in ("auto", "resample", "linear", "index"):
            raise UserError(f"unknown --grid {grid!r} (choose auto, resample, linear or index)")
        r, df = _run_and_metrics(run_dir)
        have = sorted(df.metric.unique())
        if signal not in have:
            raise UserError(f"run {r.path} has no metric {signal!r} (it has: {', '.join(have[:12])}"
                            f"{', ...' if len(have) > 12 else ''})")
        sig = df[df.metric == signal]
        tg = _t_grok(r)
        rows = []
        for m in _members(r, member):
            d = sig[sig.member == m].sort_values("step")
            try:
                res = ews_member(d.step.to_numpy(), d.value.to_numpy(), tg.get(m), detrend=detrend,
                                 bandwidth=bandwidth, window=window, grid=grid, spacing=spacing or "max_gap",
                                 surrogates=surrogates, surrogate=surrogate, fpr=fpr, k=k, early=early,
                                 sensitivity=sensitivity)
            except ValueError as e:  # too few evals before T_grok for the window: said, not hidden
                res = {"t_grok": tg.get(m), "status": "insufficient", "reason": str(e),
                       "hint": "use a linear eval grid (eval.grid=linear), more eval points, a smaller --window, "
                               "--spacing N or --grid index"}
            rows.append({"member": m, "status": res.pop("status", "ok"), **res})
        doc = {"run": str(r.path), "signal": signal, "detector": "ews", "members": rows}
        _emit(doc, as_json, _ews_table(doc))

    @analyze_app.command("dmd")
    def dmd_cmd(
        run_dir: Path = typer.Argument(..., help="run directory"),
        window: int = typer.Option(0, help="snapshots per DMD window (0: a third of the trajectory, >= delay + 3)"),
        delay: int = typer.Option(2, help="Hankel delay d"),
        rank: float = typer.Option(3, help="DMD rank: an int, or an energy fraction in (0, 1)"),
        levels: int = typer.Option(32, help="quantile levels when computed from checkpoints"),
        grid: str = typer.Option("index", help="index (one DMD step per snapshot, whatever the step spacing; the "
                                               "output says whether it was uniform) or resample (uniform step grid "
                                               "at the largest gap)"),
        member: Optional[int] = typer.Option(None, help="one member (default: all)"),
        fpr: float = typer.Option(0.05, help="alarm false-alarm rate on the early windows"),
        k: int = typer.Option(2, help="alarm: consecutive windows over the threshold"),
        early: float = typer.Option(0.3, help="alarm calibration: the first fraction of the windows"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Hankel-DMD residual of the log-prob quantile trajectory (stored probe, else from checkpoints)."""
        if grid not in ("index", "resample"):
            raise UserError(f"unknown --grid {grid!r} (choose index or resample)")
        r, df = _run_and_metrics(run_dir)
        ms = _members(r, member)
        steps, trajs, source = quantile_trajectories(r, df, ms, levels)
        tg = _t_grok(r)
        rows = []
        for m in ms:
            try:
                rows.append({"member": m, **dmd_member(steps[m], trajs[m], tg.get(m), window=window, delay=delay,
                                                       rank=rank, fpr=fpr, k=k, early=early, grid=grid)})
            except ValueError as e:
                raise UserError(f"member {m}: {e}") from None
        doc = {"run": str(r.path), "detector": "dmd", "observable": "log p(y|x) quantiles over the training set",
               "source": source, "members": rows}
        _emit(doc, as_json, _dmd_table(doc))


_Q_RE = re.compile(r"^logprob_quantiles/q?_?([0-9.]+)$")


def _stored_quantiles(df: Any) -> list[tuple[float, str]]:
    """``(level, metric)`` of the stored ``logprob_quantiles/<level>`` metrics, by level."""
    out = []
    for name in df.metric.unique():
        match = _Q_RE.match(str(name))
        if match:
            try:
                out.append((float(match.group(1)), str(name)))
            except ValueError:
                continue
    return sorted(out)


def quantile_trajectories(r: Any, df: Any, members: list[int], levels: int) -> tuple[dict, dict, str]:
    """Per member: checkpoint/eval steps [T] and the quantile trajectory [T, m]; and where it came from."""
    import numpy as np

    stored = _stored_quantiles(df)
    if stored:
        names = [n for _, n in stored]
        wide = df[df.metric.isin(names)].pivot_table(index=["member", "step"], columns="metric", values="value")
        steps, trajs = {}, {}
        for m in members:
            w = wide.loc[m].dropna()[names] if m in wide.index.get_level_values(0) else None
            if w is None or w.empty:
                raise UserError(f"member {m} has no logprob_quantiles values")
            steps[m], trajs[m] = w.index.to_numpy(), w.to_numpy()
        return steps, trajs, f"stored probe metrics ({len(names)} levels)"
    ck = r.checkpoint_steps()
    if len(ck) < 5:
        raise UserError(f"run {r.path} has no logprob_quantiles metrics and {len(ck)} checkpoints (need >= 5): "
                        "run it with the logprob_quantiles probe or more checkpoint.count")
    qs = checkpoint_quantiles(r, ck, levels)  # [T, M, m]
    return ({m: np.array(ck) for m in members}, {m: qs[:, m] for m in members},
            f"computed from {len(ck)} checkpoints ({levels} levels)")


def checkpoint_quantiles(r: Any, steps: list[int], levels: int) -> Any:
    """``[T, M, levels]`` log p(y|x) quantiles over each member's training set at each checkpoint step."""
    import numpy as np
    import torch

    from .detect.observables import logprob_quantiles
    from .probes.evaluate import forward_all

    s = r.setup()
    data = s.eval_data
    out = []
    for step in steps:
        s.model.load_state_dict(r.load_checkpoint(step)["params"])
        with torch.no_grad():
            z, _ = forward_all(s.model, data.x, set())
            z = z / data.tau[:, None, None]
            zt = z.gather(1, data.train_idx[..., None].expand(*data.train_idx.shape, z.shape[-1]))
            out.append(logprob_quantiles(zt, data.y_train, levels).cpu().numpy())
    return np.stack(out)


def dmd_member(steps: Any, traj: Any, t_grok: int | None, *, window: int, delay: int, rank: float, fpr: float,
               k: int, early: float, grid: str = "index") -> dict[str, Any]:
    import numpy as np

    from .detect import alarms as A
    from .detect.dmd import sliding_hankel_dmd
    from .detect.ews import is_uniform, uniform_grid

    uniform = is_uniform(steps)
    grid_info = {"grid": "linear" if uniform else "index (non-uniform steps: one DMD step per snapshot)"}
    if grid == "resample" and not uniform:
        cols = [uniform_grid(steps, traj[:, j]) for j in range(traj.shape[1])]
        steps, traj = cols[0][0], np.stack([c[1] for c in cols], 1)
        grid_info = {"grid": "resampled", "spacing": cols[0][2]["spacing"]}

    T = len(steps)
    w = window or max(delay + 3, T // 3)
    s = sliding_hankel_dmd(traj, window=w, delay=delay, rank=rank)
    end_steps = [int(steps[i]) for i in s.end_index]
    thr = A.calibrate_on_early(s.residual, fpr=fpr, early=early)
    alarm = A.sustained_alarm(end_steps, s.residual, thr, k)
    peak = int(end_steps[int(s.residual.argmax())])
    pre = [v for st, v in zip(end_steps, s.residual) if t_grok is None or st <= t_grok]
    return {"t_grok": t_grok, "settings": {**s.settings, "window": w, "snapshots": T, **grid_info}, "steps": end_steps,
            "residual": s.residual.tolist(), "spectral_radius": s.spectral_radius.tolist(),
            "n_growing": s.n_growing.tolist(), "erank": s.erank.tolist(),
            "score": {"max_residual": float(s.residual.max()), "peak_step": peak,
                      "max_residual_before_t_grok": float(max(pre)) if pre else None},
            "alarm": {"rule": f"residual > threshold for {k} consecutive windows", "threshold": thr,
                      "calibration": f"early {early:g} of the windows, fpr {fpr:g}", "step": alarm,
                      "lead": A.lead_time(t_grok, alarm)}}


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


def _ews_table(doc: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"ews of {doc['signal']} — {doc['run']}")
    for c in ("member", "T_grok", "grid (points)", "variant", "τ var", "τ ac1", "p ac1", "alarm", "lead"):
        t.add_column(c, justify="right")
    for row in doc["members"]:
        if row["status"] != "ok":
            t.add_row(str(row["member"]), _fmt(row["t_grok"]), "-", row["reason"], *["-"] * 5)
            continue
        for variant in ("honest", "naive"):
            s = row[variant]
            name = f"{s['detrend']} detrended" if variant == "honest" else "naive (none)"
            t.add_row(str(row["member"]), _fmt(row["t_grok"]), f"{s['grid']} ({s['n_points']})", name,
                      _fmt(s["tau"].get("var")), _fmt(s["tau"].get("ac1")), _fmt(s["p_value"].get("ac1")),
                      _fmt(s["alarm"]["step"]), _fmt(s["alarm"]["lead"]))
    return t


def _dmd_table(doc: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"Hankel DMD of log p(y|x) quantiles ({doc['source']}) — {doc['run']}")
    for c in ("member", "T_grok", "max residual", "peak step", "alarm", "lead"):
        t.add_column(c, justify="right")
    for row in doc["members"]:
        sc, al = row["score"], row["alarm"]
        t.add_row(str(row["member"]), _fmt(row["t_grok"]), _fmt(sc["max_residual"]), _fmt(sc["peak_step"]),
                  _fmt(al["step"]), _fmt(al["lead"]))
    return t
