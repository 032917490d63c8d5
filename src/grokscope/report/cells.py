"""Cells of a sweep or of any set of runs, and the figures drawn over them (matplotlib, Agg).

A *cell* is one combination of the swept axes' values with the seeds pooled: its members are the replicates.
Axes come from ``sweep.json`` (``"axes"``, and each cell's ``"values"`` for its ``(run_id, member)``) when the
report's directory is a sweep; otherwise they are the config keys whose effective per-member value differs between
members. Seed axes (``seed``, ``members.seeds``) are never cell axes.

Times are summarised with right-censoring in mind: a member that never crossed counts as +inf, so a median is
finite only when at most half of the cell is censored; an infinite median is reported as "censored" (> budget).
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..store.catalog import SEED_AXES
from .fmt import fmt_steps

MAX_PANELS = 36  # small multiples drawn at most (the rest is listed in the table)
MAX_OVERLAY = 20  # cells overlaid in one plot at most
MAX_GROUPS = 8  # lines of a T_grok-vs-axis plot, one per combination of the other axes


@dataclass
class Design:
    axes: list[str]  # dotted keys of the cell axes
    labels: dict[str, str]  # axis -> short label
    members: Any  # pandas: one row per member, with column "_cell" and one column per axis (named by the axis key)
    cells: list[dict[str, Any]]  # one dict per cell: cell, values {axis: value}, stats
    source: str  # "sweep.json" or "config"
    notes: list[str] = field(default_factory=list)


def value_key(v: Any) -> tuple:
    """Sort key for axis values: numbers by value, then everything else by its text."""
    if isinstance(v, bool) or v is None:
        return (2, str(v))
    if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
        return (0, float(v))
    return (1, str(v))


def fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def cens_median(times: list[Any]) -> float | None:
    """Median with censored entries (None) as +inf: inf when half or more are censored; None when empty."""
    if not times:
        return None
    arr = np.array([math.inf if _clean(t) is None else float(t) for t in times])
    return float(np.median(arr))


def _clean(v: Any) -> Any:
    """A cell as a plain Python value: None for every kind of missing (None, NaN, pd.NA), numpy scalars unwrapped."""
    import pandas as pd

    if v is None or (not isinstance(v, (list, tuple, dict, np.ndarray)) and pd.isna(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def plain(df: Any) -> Any:
    """A DuckDB DataFrame with numpy dtypes: nullable integers as float64 (NaN), nullable booleans as objects."""
    import pandas as pd

    df = df.copy()
    for c in df.columns:
        dt = df[c].dtype
        if isinstance(dt, pd.api.extensions.ExtensionDtype) and pd.api.types.is_bool_dtype(dt):
            df[c] = pd.Series([None if pd.isna(v) else bool(v) for v in df[c]], index=df.index, dtype=object)
        elif isinstance(dt, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dt):
            df[c] = df[c].to_numpy(dtype=float, na_value=np.nan)
    return df


def design(cat: Any, root: Path, members: Any) -> Design:
    """Cells of the members below ``root`` (a sweep dir: from its sweep.json; else from differing config values)."""
    sweep = next((s for s in cat.sweeps if s.path == root), None)
    df = members.copy()
    notes: list[str] = []
    if sweep is not None and sweep.cells:
        axes = [a for a in sweep.axes if a not in SEED_AXES]
        values = {(str(c.get("run_id")), c.get("member")): c.get("values") or {} for c in sweep.cells}
        base = [os.path.basename(str(p)) for p in df["path"]]
        rows = [values.get((b, int(m))) for b, m in zip(base, df["member"])]
        keep = [r is not None for r in rows]
        if not all(keep):
            notes.append(f"{len(keep) - sum(keep)} members below {root} are not cells of its sweep.json; left out")
        df = df[keep].copy()
        rows = [r for r in rows if r is not None]
        for a in axes:
            df[a] = [r.get(a) for r in rows]
        source = "sweep.json"
    else:
        axes, notes = config_axes(cat, df)
        source = "config"
    labels = {a: cat.names.get(a, a) for a in axes}
    labels.update({a: "run" for a in axes if a == RUN_AXIS})
    keys = [tuple(json.dumps(_clean(v), default=str) for v in row) for row in zip(*[df[a] for a in axes])] \
        if axes else [()] * len(df)
    order = sorted(set(keys), key=lambda k: tuple(value_key(json.loads(x)) for x in k))
    index = {k: i for i, k in enumerate(order)}
    df["_cell"] = [index[k] for k in keys]
    cells = []
    for k in order:
        sub = df[df["_cell"] == index[k]]
        known = sub[sub["grokked"].notna()]
        t_grok = [_clean(v) for v in known["t_grok"]]
        t_mem = [_clean(v) for v in known["t_mem"]]
        delays = [d for d in (_clean(v) for v in known["delay"]) if d is not None]
        acc = [a for a in (_clean(v) for v in sub.get("final_test_acc", [])) if a is not None]
        cells.append({"cell": index[k], "values": {a: json.loads(x) for a, x in zip(axes, k)},
                      "n": int(len(sub)), "n_known": int(len(known)), "n_grokked": int(known["grokked"].sum()),
                      "median_t_mem": cens_median(t_mem), "median_t_grok": cens_median(t_grok),
                      "median_delay": float(np.median(delays)) if delays else None,
                      "median_final_test_acc": float(np.median(acc)) if acc else None,
                      "budget": _clean(sub["budget"].max()) if sub["budget"].notna().any() else None})
    return Design(axes, labels, df, cells, source, notes)


RUN_AXIS = "run_id"  # the one categorical axis of runs too different to line up on config axes (report/axes.py)


def config_axes(cat: Any, df: Any) -> tuple[list[str], list[str]]:
    """The config keys whose per-member values differ and matter (``report/axes.py``), and notes on what was
    merged or left out."""
    from .axes import MAX_AXES, distinct_axes, matters

    varying, skipped = {}, []
    for k in cat.member_keys:
        if k in SEED_AXES or k not in df.columns:
            continue
        vals = [_clean(v) for v in df[k]]
        if len({json.dumps(v, default=str) for v in vals}) <= 1:
            continue
        if matters(k):
            varying[k] = vals
        else:
            skipped.append(k)
    axes, stands = distinct_axes(varying)
    notes = []
    if skipped:
        notes.append(f"not axes (measurement and storage settings): {', '.join(cat.names.get(k, k) for k in skipped)}")
    if len(axes) > MAX_AXES:
        notes.append(f"{len(varying)} config keys differ ({', '.join(cat.names.get(k, k) for k in varying)}): too many "
                     "to line the runs up on axes; each run is its own cell")
        return [RUN_AXIS], notes
    for a in axes:
        if stands[a]:
            notes.append(f"{cat.names.get(a, a)} stands for the keys that vary with it: "
                         f"{', '.join(cat.names.get(k, k) for k in stands[a])}")
    return axes, notes


def wrap(text: str, width: int) -> str:
    """Long labels on several lines (titles and legends stay inside their figure at any count of axes)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) if text else text


def cell_label(d: Design, cell: dict[str, Any]) -> str:
    if not d.axes:
        return "all members"
    return ", ".join(f"{d.labels[a]}={fmt_value(cell['values'][a])}" for a in d.axes)


# -- figures ---------------------------------------------------------------------------------------------------------
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> bytes:
    """The figure as PNG bytes, also written (atomically) to ``path``."""
    from ..store.atomic import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    _plt().close(fig)
    data = buf.getvalue()
    write_atomic(path, lambda p: p.write_bytes(data))
    return data


def curves_by_member(metrics: Any) -> dict[tuple[str, int], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(run_id, member) -> metric -> (steps, values), steps > 0 and sorted (for log axes)."""
    out: dict[tuple[str, int], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    if metrics is None or len(metrics) == 0:
        return out
    m = metrics[metrics["step"] > 0].sort_values(["run_id", "member", "metric", "step"])
    for (rid, mem, name), g in m.groupby(["run_id", "member", "metric"], sort=False):
        out.setdefault((str(rid), int(mem)), {})[str(name)] = (g["step"].to_numpy(), g["value"].to_numpy())
    return out


def fig_cell_curves(d: Design, curves: dict, path: Path) -> bytes:
    """Small multiples: one panel per cell, its members' test accuracy (solid) and train accuracy (dashed)."""
    plt = _plt()
    cells = d.cells[:MAX_PANELS]
    n = len(cells)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig, axs = plt.subplots(nrows, ncols, figsize=(3.6 * ncols + 0.6, 2.7 * nrows + 0.8), squeeze=False,
                            sharex=True, sharey=True, layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, cell in zip(axs.flat, cells):
        sub = d.members[d.members["_cell"] == cell["cell"]]
        for j, (rid, mem) in enumerate(zip(sub["run_id"], sub["member"])):
            c = curves.get((str(rid), int(mem)), {})
            col = colors[j % len(colors)]
            if "train/acc" in c:
                ax.plot(*c["train/acc"], color=col, ls="--", lw=0.8, alpha=0.6)
            if "test/acc" in c:
                ax.plot(*c["test/acc"], color=col, lw=1.3)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{wrap(cell_label(d, cell), 44)}\n{cell['n_grokked']}/{cell['n']} grokked", fontsize=7)
    for ax in list(axs.flat)[n:]:
        ax.axis("off")
    for ax in axs[-1]:
        ax.set_xlabel("step")
    for ax in axs[:, 0]:
        ax.set_ylabel("accuracy")
    more = f" (first {MAX_PANELS} of {len(d.cells)} cells)" if len(d.cells) > MAX_PANELS else ""
    fig.suptitle(f"accuracy per cell{more}: test (solid), train (dashed), one colour per member", fontsize=10)
    return save(fig, path)


def fig_overlay(d: Design, curves: dict, path: Path) -> bytes:
    """Median test accuracy of each cell against steps, all cells on one axes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    cmap = plt.get_cmap("viridis")
    n = len(d.cells)
    for i, cell in enumerate(d.cells):
        sub = d.members[d.members["_cell"] == cell["cell"]]
        series = {}
        for rid, mem in zip(sub["run_id"], sub["member"]):
            c = curves.get((str(rid), int(mem)), {}).get("test/acc")
            if c is not None:
                for s, v in zip(*c):
                    series.setdefault(int(s), []).append(v)
        if not series:
            continue
        steps = np.array(sorted(series))
        med = np.array([np.median(series[s]) for s in steps])
        col = cmap(i / max(n - 1, 1))
        ax.plot(steps, med, color=col, lw=1.5, label=wrap(cell_label(d, cell), 48))
        if len(sub) > 1:  # the range over the cell's seeds
            ax.fill_between(steps, [min(series[s]) for s in steps], [max(series[s]) for s in steps], color=col,
                            alpha=0.12 if n <= 4 else 0.05, lw=0)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.set_ylabel("median test accuracy over the cell's members")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title("test accuracy per cell: median over members, shaded min..max", fontsize=10)
    return save(fig, path)


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _plain_log_ticks(axis: Any) -> None:
    """Plain numbers on a log axis; minor ticks labelled too when the axis spans less than a decade."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    axis.set_major_formatter(plain)
    lo, hi = axis.get_view_interval()
    axis.set_minor_formatter(plain if lo > 0 and hi / lo < 10 else NullFormatter())


@dataclass(frozen=True)
class Quantity:
    """What a ``fig_vs_axis`` plot draws per member: a catalog column, its label, and whether a missing value is
    right-censored at the budget (a time that never came) or simply undefined (a delay of a member that never
    grokked)."""

    column: str
    label: str
    censored_at_budget: bool
    log: bool = True


QUANTITIES = {"t_grok": Quantity("t_grok", "T_grok (steps)", True),
              "t_mem": Quantity("t_mem", "T_mem (steps)", True),
              "delay": Quantity("delay", "delay T_grok - T_mem (steps, grokked members)", False),
              "norm_at_grok": Quantity("at_grok_norm", "weight norm ||W|| at T_grok (grokked members)", False, False)}


def fig_tgrok_vs_axis(d: Design, axis: str, path: Path) -> bytes:
    return fig_vs_axis(d, axis, path, QUANTITIES["t_grok"])


def _quartiles(values: np.ndarray) -> tuple[float, float]:
    """Lower and upper quartile without interpolation (a censored +inf stays +inf instead of becoming NaN)."""
    q = np.quantile(values, [0.25, 0.75], method="inverted_cdf")
    return float(q[0]), float(q[1])


def fig_vs_axis(d: Design, axis: str, path: Path, q: Quantity) -> bytes:
    """One quantity of every member against one axis (``draw_vs_axis``), one figure."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    draw_vs_axis(ax, d, axis, q)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


def fig_events_vs_axis(d: Design, axis: str, path: Path) -> bytes | None:
    """T_mem, delay and the weight norm at T_grok against one axis, side by side; None when no member has any."""
    qs = [QUANTITIES[k] for k in ("t_mem", "delay", "norm_at_grok")]
    if not any(q.column in d.members.columns and d.members[q.column].notna().any() for q in qs):
        return None
    plt = _plt()
    fig, axs = plt.subplots(1, 3, figsize=(14, 4.4), layout="constrained")
    for ax, q in zip(axs, qs):
        draw_vs_axis(ax, d, axis, q)
    fig.legend(*axs[0].get_legend_handles_labels(), fontsize=7, loc="outside right center")
    return save(fig, path)


def draw_vs_axis(ax: Any, d: Design, axis: str, q: Quantity) -> None:
    """One quantity of every member against one axis (jittered): measured values filled; for times, members that
    never crossed as hollow triangles at the budget. Per axis value: the median (censored = +inf) and a bar over
    the interquartile range over seeds (cut at the budget); one line per combination of the other axes."""
    plt = _plt()
    df = d.members
    if q.column not in df.columns:
        df = df.assign(**{q.column: np.nan})
    others = [a for a in d.axes if a != axis]
    vals = sorted({json.dumps(_clean(v), default=str) for v in df[axis]}, key=lambda x: value_key(json.loads(x)))
    raw = [json.loads(v) for v in vals]
    numeric = _numeric(raw)
    log_x = numeric and all(v > 0 for v in raw) and max(raw) / min(raw) >= 20
    pos = {v: (float(r) if numeric else float(i)) for i, (v, r) in enumerate(zip(vals, raw))}
    groups: dict[str, Any] = {}
    order: dict[str, tuple] = {}
    if others:
        rows = list(zip(*[df[a] for a in others]))
        keys = [", ".join(f"{d.labels[a]}={fmt_value(_clean(v))}" for a, v in zip(others, row)) for row in rows]
        for k, row in zip(keys, rows):
            order[k] = tuple(value_key(_clean(v)) for v in row)
        if len(set(keys)) > MAX_GROUPS:
            keys = ["all (other axes pooled)"] * len(df)
            order = {keys[0]: ()}
    else:
        keys = [""] * len(df)
        order = {"": ()}
    df = df.assign(_group=keys, _x=[pos[json.dumps(_clean(v), default=str)] for v in df[axis]])
    for g in sorted(set(keys), key=lambda k: order[k]):
        groups[g] = df[df["_group"] == g]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rng = np.random.default_rng(0)
    span = (max(pos.values()) - min(pos.values())) if len(pos) > 1 else 1.0
    any_value, all_positive = False, True  # a log value axis only for positive values (a delay can be 0)
    for gi, (g, sub) in enumerate(groups.items()):
        col = colors[gi % len(colors)]
        known = sub[sub["grokked"].notna()]
        value = known[q.column].to_numpy(dtype=float)
        has = np.isfinite(value)
        any_value |= bool(has.any())
        all_positive &= bool((value[has] > 0).all())
        jit = rng.uniform(-1, 1, len(known))
        x = known["_x"].to_numpy(dtype=float)
        x = x * np.exp(0.04 * jit) if log_x else x + jit * (0.08 if not numeric else 0.012 * span)
        ax.scatter(x[has], value[has], s=18, color=col, alpha=0.65, edgecolors="none")
        if q.censored_at_budget:
            ax.scatter(x[~has], known["budget"].to_numpy(dtype=float)[~has], s=34, marker="^", facecolors="none",
                       edgecolors=col, linewidths=1.1)
        xs, med, cens = [], [], []
        for v in vals:
            at = known[[json.dumps(_clean(u), default=str) == v for u in known[axis]]]
            times = [_clean(t) for t in at[q.column]]
            if not q.censored_at_budget:
                times = [t for t in times if t is not None]
            if len(at) == 0 or not times:
                continue
            budget = float(at["budget"].max())
            arr = np.array([math.inf if t is None else float(t) for t in times])
            lo, hi = _quartiles(arr)
            m = float(np.median(arr))
            xs.append(pos[v])
            ax.vlines(pos[v], min(lo, budget), min(hi, budget), color=col, lw=4, alpha=0.3)
            if math.isfinite(m):
                med.append(m)
                cens.append(False)
            else:
                med.append(budget)
                cens.append(True)
        xs_a, med_a, cens_a = np.array(xs), np.array(med), np.array(cens, dtype=bool)
        if len(xs_a):
            ax.plot(xs_a[~cens_a], med_a[~cens_a], color=col, lw=1.8, marker="s", ms=5, label=wrap(g, 48) or None)
        if cens_a.any():
            ax.scatter(xs_a[cens_a], med_a[cens_a], marker="^", s=110, facecolors="none", edgecolors=col,
                       linewidths=2)
    if not any_value and not q.censored_at_budget:
        ax.text(0.5, 0.5, "no member grokked: undefined", ha="center", va="center", transform=ax.transAxes,
                color="0.4")
        ax.set_yticks([])
        ax.set_xticks([])
    ax.scatter([], [], s=18, color="grey", label="member")
    if q.censored_at_budget:
        ax.scatter([], [], s=34, marker="^", facecolors="none", edgecolors="grey", label="member: censored (at budget)")
    ax.plot([], [], color="grey", marker="s", label="median" + (" (censored = +inf)" if q.censored_at_budget else ""))
    ax.plot([], [], color="grey", lw=4, alpha=0.3, label="interquartile range over seeds")
    if q.censored_at_budget:
        ax.scatter([], [], s=110, marker="^", facecolors="none", edgecolors="grey", linewidths=2,
                   label="median censored (>= half)")
    drawn = any_value or q.censored_at_budget
    log_x = log_x and drawn  # an empty panel has no positive data limits for a log axis
    if log_x:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks([pos[v] for v in vals], [wrap(fmt_value(r), 24) for r in raw],
                      rotation=30 if len(vals) > 6 else 0)
    if all_positive and (q.log and any_value or q.censored_at_budget):
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
    if log_x:
        _plain_log_ticks(ax.xaxis)
    ax.set_xlabel(f"{d.labels[axis]}  ({axis})" if d.labels[axis] != axis else axis)
    ax.set_ylabel(q.label)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(f"{q.label.split(' (')[0]} against {d.labels[axis]}", fontsize=10)


def fig_heatmap(d: Design, path: Path) -> bytes:
    """Median T_grok over a two-axis grid (log colour); censored cells hatched, missing cells blank."""
    plt = _plt()
    a0, a1 = d.axes
    v0 = sorted({json.dumps(c["values"][a0]) for c in d.cells}, key=lambda x: value_key(json.loads(x)))
    v1 = sorted({json.dumps(c["values"][a1]) for c in d.cells}, key=lambda x: value_key(json.loads(x)))
    grid = np.full((len(v0), len(v1)), np.nan)
    text = [["" for _ in v1] for _ in v0]
    censored = []
    for c in d.cells:
        i, j = v0.index(json.dumps(c["values"][a0])), v1.index(json.dumps(c["values"][a1]))
        m = c["median_t_grok"]
        if m is not None and math.isfinite(m):
            grid[i, j] = math.log10(max(m, 1.0))
            text[i][j] = f"{fmt_steps(m)}\n{c['n_grokked']}/{c['n']}"
        elif m is not None:
            censored.append((i, j))
            text[i][j] = f"cens.\n{c['n_grokked']}/{c['n']}"
    fig, ax = plt.subplots(figsize=(1.1 * len(v1) + 3.2, 0.8 * len(v0) + 2.2), layout="constrained")
    im = ax.imshow(grid, cmap="viridis_r", aspect="auto", origin="lower")
    for i, j in censored:
        ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", hatch="//", edgecolor="0.5"))
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(v0)):
        for j in range(len(v1)):
            if text[i][j]:
                dark = np.isfinite(grid[i, j]) and grid[i, j] > mid
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(range(len(v1)), [fmt_value(json.loads(v)) for v in v1])
    ax.set_yticks(range(len(v0)), [fmt_value(json.loads(v)) for v in v0])
    ax.set_xlabel(d.labels[a1])
    ax.set_ylabel(d.labels[a0])
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("log10 median T_grok")
    ax.set_title("median T_grok per cell (grokked/members); hatched: median censored", fontsize=9)
    return save(fig, path)
