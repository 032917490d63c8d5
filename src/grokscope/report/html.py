"""``grokscope report DIR``: one self-contained report.html (figures inline as base64 PNG) plus the PNGs.

For one run: its curves (``report/curves.py``) and a per-member table. For a sweep dir (``sweep.json``) or any
directory with several runs, or a run whose members differ in a config value: test-accuracy curves per cell,
median curves of all cells overlaid, T_grok against each axis (censored members as hollow triangles at the budget),
a heatmap of median T_grok for a two-axis grid, and a table of cells. The template is the string ``TEMPLATE``
below (package code, so it always ships).
"""

from __future__ import annotations

import base64
import datetime
import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..errors import UserError
from ..store.atomic import write_atomic
from .claims import VERDICT_CSS
from .fmt import fmt_number, fmt_steps

MAX_MEMBER_ROWS = 500

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>grokscope report: {{ title }}</title>
<style>
 body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px;
        color: #1d2430; padding: 0 16px; }
 h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #dde; }
 .meta { color: #5a6577; font-size: 13px; }
 table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 16px; }
 th, td { border: 1px solid #d6dae3; padding: 3px 8px; text-align: right; }
 th { background: #f2f4f8; } td.l, th.l { text-align: left; }
 tr.cens td { color: #8a5a00; }
 figure { margin: 14px 0 22px; } figure img { max-width: 100%; border: 1px solid #eceef3; }
 figcaption { color: #4a5468; font-size: 13px; margin-top: 4px; }
 .note { background: #fff8e6; border-left: 3px solid #e0a400; padding: 4px 10px; margin: 6px 0; font-size: 13px; }
 code { background: #f2f4f8; padding: 0 3px; border-radius: 3px; }
 table.claims td, table.claims th { text-align: left; vertical-align: top; }
{{ verdict_css }}</style>
</head>
<body>
<h1>grokscope report: {{ title }}</h1>
<div class="meta">{{ root }} &middot; generated {{ generated }} &middot; grokscope {{ version }}</div>
<p>{{ n_runs }} run{{ "s" if n_runs != 1 }}, {{ n_members }} member{{ "s" if n_members != 1 }}:
 {{ n_grokked }} grokked, {{ n_censored }} censored{% if n_unknown %}, {{ n_unknown }} without events yet{% endif %}.
{% if axes %}Cells from {{ source }}: {{ n_cells }} cell{{ "s" if n_cells != 1 }} over
 {% for a in axes %}<code>{{ a.label }}</code>{% if a.label != a.key %} ({{ a.key }}){% endif %}
 {{- ", " if not loop.last }}{% endfor %}
 (seeds pooled).{% endif %}
T_mem: first eval with train accuracy &ge; the run's threshold; T_grok: first eval with test accuracy &ge; its
threshold;
a member that never crosses is <em>censored</em> at its budget (never a made-up time). Medians count censored members as
+&infin;, so a median is "censored" when half or more of a cell is.</p>
{% for n in notes %}<div class="note">{{ n }}</div>{% endfor %}

{% if base_config %}
<h2>Base config</h2>
<p class="meta">Config values shared by every member below (the axes and seeds vary; the rest is this).</p>
<table class="base"><tr><th class="l">key</th><th class="l">value</th><th class="l">key</th><th class="l">value</th></tr>
{% for pair in base_config %}<tr>{% for k, v in pair %}<td class="l"><code>{{ k }}</code></td><td class="l">{{ v }}</td>
{% endfor %}</tr>
{% endfor %}</table>
{% endif %}

{% for c in claims %}
<h2>Claims: {{ c.title }}</h2>
<div class="meta">{{ c.source }} &middot; scale <code>{{ c.scale }}</code> &middot; {{ c.path }}</div>
<div class="claims">{{ c.html }}</div>
{% endfor %}

{% for f in figures %}
<h2>{{ f.title }}</h2>
<figure><img alt="{{ f.title }}" src="data:image/png;base64,{{ f.data }}">
<figcaption>{{ f.caption }} <span class="meta">({{ f.file }})</span>
<div class="meta">runs behind it: {% for r in f.runs %}<a href="{{ r.href }}">{{ r.run_id }}</a>
{{- ", " if not loop.last }}{% endfor %}{% if f.more_runs %} and {{ f.more_runs }} more (Runs table){% endif %}</div>
</figcaption></figure>
{% endfor %}

{% if cells %}
<h2>Cells</h2>
<table>
<tr><th>#</th>{% for a in axes %}<th>{{ a.label }}</th>{% endfor %}<th>members</th><th>grokked</th>
<th>median T_mem</th><th>median T_grok</th><th>median delay (grokked)</th><th>median final test acc</th>
<th>budget</th></tr>
{% for c in cells %}<tr{% if c.censored %} class="cens"{% endif %}><td>{{ c.cell }}</td>
{% for v in c.vals %}<td>{{ v }}</td>{% endfor %}<td>{{ c.n }}</td><td>{{ c.n_grokked }}</td><td>{{ c.t_mem }}</td>
<td>{{ c.t_grok }}</td><td>{{ c.delay }}</td><td>{{ c.acc }}</td><td>{{ c.budget }}</td></tr>
{% endfor %}</table>
{% endif %}

<h2>Members</h2>
{% if members_truncated %}<div class="note">first {{ members|length }} of {{ n_members }} members shown;
 <code>grokscope runs {{ root }}</code> lists all.</div>{% endif %}
<table>
<tr>{% for c in member_columns %}<th{% if c in left %} class="l"{% endif %}>{{ c }}</th>{% endfor %}</tr>
{% for r in members %}<tr>{% for c in member_columns %}<td{% if c in left %} class="l"{% endif %}>{{ r[c] }}</td>
{%- endfor %}</tr>
{% endfor %}</table>

<h2>Runs</h2>
<table>
<tr>{% for c in run_columns %}<th{% if c in left %} class="l"{% endif %}>{{ c }}</th>{% endfor %}</tr>
{% for r in runs %}<tr>{% for c in run_columns %}<td{% if c in left %} class="l"{% endif %}>{{ r[c] }}</td>
{%- endfor %}</tr>
{% endfor %}</table>
</body>
</html>
"""


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    try:
        import numpy as np

        if isinstance(v, np.generic):
            v = v.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "censored" if v > 0 else "-inf"
        return fmt_number(v, digits)
    return str(v)


def _time(v: Any, budget: Any = None) -> str:
    """A step time or a median of them, by the one rule of ``report/fmt.py``."""
    if v is not None and isinstance(v, float) and math.isinf(v):
        return f"censored (> {_fmt(budget)})" if budget is not None else "censored"
    return fmt_steps(v)


class _RunView:
    """What ``report.curves.plot_run`` reads from a run, served from the catalog (no torch import)."""

    def __init__(self, name: str, task: str, model: str, metrics: Any, events: list[dict]) -> None:
        self.config = SimpleNamespace(name=name, task=SimpleNamespace(name=task), model=SimpleNamespace(name=model))
        self._metrics = metrics
        self.events = events

    def metrics(self, wide: bool = False) -> Any:
        df = self._metrics[["step", "member", "metric", "value"]]
        if wide:
            df = df.pivot_table(index=["step", "member"], columns="metric", values="value").reset_index()
            df.columns.name = None
        return df


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_") or "axis"


def write_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write ``<out>/report.html`` and its PNGs for the runs below ``root``; returns the HTML path."""
    import jinja2
    from markupsafe import Markup

    from .. import __version__
    from ..store.catalog import Catalog
    from . import cells as C
    from .curves import plot_run

    root = Path(root)
    if not root.is_dir():
        raise UserError(f"directory not found: {root}")
    out = Path(out) if out is not None else root / "report"
    cat = Catalog(root)
    members = C.plain(cat.df("select * from members order by path, member"))
    if members.empty:
        raise UserError(f"no runs under {root}")
    runs = C.plain(cat.df("select * from runs order by path"))
    d = C.design(cat, cat.root, members)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, str]] = []

    all_runs = _run_links(runs, out)

    def add(title: str, caption: str, name: str, data: bytes, behind: list[dict[str, str]] | None = None) -> None:
        links = all_runs if behind is None else behind
        figures.append({"title": title, "caption": caption, "file": name,
                        "data": base64.b64encode(data).decode("ascii"), "runs": links[:MAX_FIGURE_LINKS],
                        "more_runs": max(0, len(links) - MAX_FIGURE_LINKS)})

    metrics = cat.metrics(list(runs["run_id"]), ["train/acc", "test/acc", "train/loss", "test/loss", "norm/total"])
    if len(runs) == 1:
        r = runs.iloc[0]
        sub = members[members["run_id"] == r["run_id"]]
        events = [{"member": int(m), "t_mem": _int(t_mem), "t_grok": _int(t_grok)}
                  for m, t_mem, t_grok in zip(sub["member"], sub["t_mem"], sub["t_grok"])]
        view = _RunView(str(r["name"]), str(r["task"]), str(r["model"]), metrics[metrics["run_id"] == r["run_id"]],
                        events)
        path = plot_run(view, out / "curves.png")
        add(f"Curves of {r['run_id']}", "Accuracy (left; dashed train, solid test) and loss (right) against steps, "
            "weight norm dotted on the twin axis; vertical lines mark T_mem (dashed) and T_grok (solid).",
            path.name, path.read_bytes())
        mech = Path(str(r.get("path", ""))) / "mech"  # figures of `grokscope analyze fourier|progress`, if any
        for png in sorted(mech.glob("*.png")) if mech.is_dir() else []:
            add(f"Mechanisms: {png.stem}", "From `grokscope analyze fourier` / `analyze progress` (grokscope.mech): "
                "spectra in both bases, neurons reordered by the discrete log, restricted / excluded loss.",
                f"mech_{png.name}", png.read_bytes())
    curves = C.curves_by_member(metrics)
    if d.axes or len(runs) > 1:
        add("Accuracy per cell", "One panel per cell, one colour per member: test accuracy solid, train accuracy "
            "dashed.", "acc_cells.png", C.fig_cell_curves(d, curves, out / "acc_cells.png"))
        if 1 < len(d.cells) <= C.MAX_OVERLAY:
            add("Test accuracy, cells overlaid", "Median test accuracy over each cell's members; shaded: the range "
                "(min..max) over its seeds.", "acc_overlay.png", C.fig_overlay(d, curves, out / "acc_overlay.png"))
        for a in d.axes:
            name = f"tgrok_vs_{_slug(d.labels[a])}.png"
            add(f"T_grok against {d.labels[a]}", "Dots: members that grokked (jittered). Hollow triangles: censored "
                "members, drawn at their budget. Line: median per value (censored counted as +inf; a big hollow "
                "triangle where the median itself is censored). One line per combination of the other axes.",
                name, C.fig_tgrok_vs_axis(d, a, out / name))
            name = f"events_vs_{_slug(d.labels[a])}.png"
            data = C.fig_events_vs_axis(d, a, out / name)
            if data is not None:
                add(f"T_mem, delay and norm at T_grok against {d.labels[a]}", "Per member (dots; T_mem never "
                    "reached: hollow triangles at the budget), the median per value and its interquartile range over "
                    "seeds (bars). Delay and the weight norm ||W|| at T_grok exist for grokked members only.",
                    name, data)
        if len(d.axes) == 2:
            add("Median T_grok over the grid", f"Rows: {d.labels[d.axes[0]]}; columns: {d.labels[d.axes[1]]}. "
                "Number: median T_grok, then grokked/members; hatched: median censored.", "heatmap_tgrok.png",
                C.fig_heatmap(d, out / "heatmap_tgrok.png"))
    cells = [{"cell": c["cell"], "vals": [C.fmt_value(c["values"][a]) for a in d.axes], "n": c["n"],
              "n_grokked": c["n_grokked"], "t_mem": _time(c["median_t_mem"], c["budget"]),
              "t_grok": _time(c["median_t_grok"], c["budget"]), "delay": _time(c["median_delay"]),
              "acc": _fmt(c["median_final_test_acc"], 3), "budget": _fmt(c["budget"]),
              "censored": c["median_t_grok"] is not None and math.isinf(c["median_t_grok"])} for c in d.cells]
    member_cols = ["run_id", "member", "seed"] + [d.labels[a] for a in d.axes if d.labels[a] not in ("seed",)] + \
        ["t_mem", "t_grok", "delay", "censored", "budget", "final_test_acc", "final_norm"]
    shown = d.members.head(MAX_MEMBER_ROWS)
    rename = {d.labels[a]: a for a in d.axes}
    steps_cols = {"t_mem", "t_grok", "delay", "budget"}
    member_rows = [{c: (_time if c in steps_cols else _fmt)(row.get(rename.get(c, c))) for c in member_cols}
                   for row in shown.to_dict("records")]
    run_cols = [c for c in ("run_id", "status", "name", "task", "model", "n_members", "n_grokked", "steps_done",
                            "train_seconds", "created") if c in runs.columns]
    run_rows = [{c: _fmt(row.get(c)) for c in run_cols} for row in runs.to_dict("records")]
    n_unknown = int(members["grokked"].isna().sum())
    n_grokked = int(sum(1 for g in members["grokked"] if g is True))
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(TEMPLATE).render(
        claims=_claim_tables(root, out), verdict_css=Markup(VERDICT_CSS),
        title=root.name or str(root), root=str(root), version=__version__,
        generated=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), n_runs=len(runs), n_members=len(members),
        n_grokked=n_grokked, n_censored=len(members) - n_grokked - n_unknown, n_unknown=n_unknown,
        axes=[{"key": a, "label": d.labels[a]} for a in d.axes], source=d.source, n_cells=len(d.cells),
        notes=d.notes + [f"warning: {w}" for w in cat.warnings],
        base_config=_base_config(cat, members, d.axes), figures=figures, cells=cells if d.axes else [],
        members=member_rows, members_truncated=len(d.members) > MAX_MEMBER_ROWS, member_columns=member_cols,
        runs=run_rows, run_columns=run_cols, left={"run_id", "name", "task", "model", "status", "created"})
    path = out / "report.html"
    write_atomic(path, lambda p: p.write_text(html, encoding="utf-8"))
    cat.close()
    return path


MAX_FIGURE_LINKS = 20  # run links under a figure; the Runs table lists them all


def _run_links(runs: Any, out: Path) -> list[dict[str, str]]:
    """Each run's id and a link to its directory relative to the report (the report folder can move with them)."""
    import os

    links = []
    for row in runs.to_dict("records"):
        path = str(row.get("path") or "")
        href = os.path.relpath(path, out) if path else ""
        links.append({"run_id": str(row.get("run_id")), "href": href})
    return links


def _base_config(cat: Any, members: Any, axes: list[str]) -> list[list[tuple[str, str]]]:
    """The config keys with one value over every member (not axes, not seeds), as rows of two (key, value) pairs."""
    import json

    from . import cells as C

    pairs = []
    for k in cat.member_keys:
        if k in axes or k in C.SEED_AXES or k not in members.columns:
            continue
        vals = {json.dumps(C._clean(v), default=str) for v in members[k]}
        if len(vals) == 1:
            v = json.loads(vals.pop())
            pairs.append((k, "-" if v is None else C.fmt_value(v) if not isinstance(v, (list, dict)) else
                          json.dumps(v)))
    return [pairs[i:i + 2] for i in range(0, len(pairs), 2)]


def _claim_tables(root: Path, out: Path) -> list[dict[str, Any]]:
    """The claim tables of the reproductions below ``root`` (their ``claims.json``), for the report's claims section."""
    import json

    from markupsafe import Markup

    from .claims import render_table_html

    tables = []
    for path in sorted(root.rglob("claims.json")):
        if out in path.parents:
            continue
        try:
            doc = json.loads(path.read_text())
            html = render_table_html(doc)
        except (ValueError, KeyError, TypeError, OSError) as e:  # a damaged file is skipped, not fatal
            tables.append({"title": str(path), "source": "", "scale": "?", "path": str(path),
                           "html": Markup(f"<div class='note'>unreadable claims.json: {type(e).__name__}</div>")})
            continue
        tables.append({"title": f"{doc['experiment']}: {doc['claim']}", "source": doc.get("paper", ""),
                       "scale": doc.get("scale", "?"), "path": str(path.relative_to(root)), "html": Markup(html)})
    return tables


def _int(v: Any) -> int | None:
    try:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return int(v)
    except (TypeError, ValueError):
        return None
