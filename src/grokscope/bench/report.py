"""``grokscope report POOL_DIR`` for a predictor pool: the leaderboard, ROC curves, lead-time distributions,
AUROC against the question step, and the claim table, as one self-contained HTML page (figures inline) + PNGs.

It reads ``<pool>/bench/leaderboard.json`` (written by ``grokscope bench-predictors``); nothing is recomputed.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..store.atomic import write_atomic
from .leaderboard import BENCH_DIR, LEADERBOARD

TOP = 8  # predictors drawn in the ROC figure (plus the baselines)

TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>predictor benchmark: {{ title }}</title>
<style> body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
 table { border-collapse: collapse; font-size: 12.5px; } th, td { border: 1px solid #d6dae3; padding: 3px 7px; }
 th { background: #f2f4f8; } td.n { text-align: right; } .meta { color: #5a6577; font-size: 13px; }
 figure img { max-width: 100%; } figcaption { color: #4a5468; font-size: 13px; }
 .v-reproduced { background: #e4f5e6; } .v-shape-reproduced { background: #eef5d8; }
 .v-not-reproduced { background: #f6f0dc; } .v-contradicted { background: #f9e0e0; }</style></head><body>
<h1>Predictor benchmark: {{ title }}</h1>
<div class="meta">{{ root }} &middot; {{ s.members }} members ({{ s.grokked }} grokked, {{ s.not_grokked }} not) over
tasks {{ s.tasks }} and models {{ s.models }}; question at {{ headline }} of the budget; held out by seed
({{ settings.folds }} folds); alarms calibrated to {{ settings.fpr }} false alarms on held-in controls.</div>
<h2>Leaderboard</h2><table><tr>{% for c in cols %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r %}<td class="n">{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>
{% for f in figures %}<figure><img src="data:image/png;base64,{{ f.data }}" alt="{{ f.title }}">
<figcaption><b>{{ f.title }}.</b> {{ f.caption }}</figcaption></figure>{% endfor %}
<h2>Claims</h2><table><tr><th>claim</th><th>paper</th><th>measured</th><th>95% CI</th><th>verdict</th><th>notes</th></tr>
{% for c in claims %}<tr><td>{{ c.claim }}</td><td>{{ c.paper.text }} ({{ c.paper.source }})</td>
<td>{{ c.measured.text }}</td><td>{{ c.ci_text }}</td><td class="v-{{ c.verdict | replace(' ', '-') }}">
<b>{{ c.verdict }}</b><br><small>{{ c.rule }}</small></td><td><small>{{ c.row_notes | join('; ') }}</small></td></tr>
{% endfor %}</table></body></html>"""

COLS = ("rank", "predictor", "kind", "label-free", "AUROC", "95% CI", "task transfer", "lead median", "alarmed",
        "held-out FPR", "cost ms/eval", "status")


def is_pool(root: Path) -> bool:
    return (root / BENCH_DIR / LEADERBOARD).is_file()


def _f(v: Any, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def table_rows(doc: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in doc["rows"]:
        ci = r.get("auroc_ci95") or [None, None]
        lt = r.get("lead_time") or {}
        out.append([_f(r.get("rank")), r["predictor"], r["kind"], "yes" if r["label_free"] else "no",
                    _f(r.get("auroc")), f"[{_f(ci[0])}, {_f(ci[1])}]", _f((r.get("task_transfer") or {}).get("auroc")),
                    _f(lt.get("median"), 0), f"{lt['n_alarmed']}/{lt['n_grokked']}" if lt else "-",
                    _f(lt.get("heldout_fpr")), _f(r.get("cost_ms_per_eval"), 3), r["status"][:60]])
    return out


def _roc(scores: list[list[Any]]) -> tuple[list[float], list[float]]:
    """ROC points of held-out ``[key, score, grokked]`` rows; tied scores move diagonally (no optimistic order)."""
    by: dict[float, list[int]] = {}
    for _, s, y in scores:
        by.setdefault(-math.inf if s is None else float(s), [0, 0])[0 if y else 1] += 1
    P = sum(v[0] for v in by.values()) or 1
    N = sum(v[1] for v in by.values()) or 1
    fpr, tpr, tp, fp = [0.0], [0.0], 0, 0
    for key in sorted(by, reverse=True):
        tp += by[key][0]
        fp += by[key][1]
        fpr.append(fp / N)
        tpr.append(tp / P)
    return fpr, tpr


def figures(doc: dict[str, Any], out: Path) -> list[dict[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report.figure_io import save_figure

    figs = []
    scored = [r for r in doc["rows"] if r.get("held_out")]
    shown = [r for r in scored if r["kind"] != "baseline"][:TOP] + [r for r in scored if r["kind"] == "baseline"]
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    for r in shown:
        x, y = _roc(r["held_out"])
        ax.plot(x, y, ls="--" if r["kind"] == "baseline" else "-", lw=1.4,
                label=f"{r['predictor']} ({_f(r.get('auroc'))})")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="held-out ROC (question at "
           f"{doc['settings']['headline']:g} of the budget)")
    ax.legend(fontsize=7, loc="lower right")
    figs.append(("roc.png", "ROC curves", "Held-out run-level ROC of the top predictors (solid) and the baselines "
                 "(dashed); AUROC in the legend.", fig))
    leads = [r for r in doc["rows"] if (r.get("lead_time") or {}).get("values")]
    if leads:
        fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(leads) + 1.5))
        ax.boxplot([r["lead_time"]["values"] for r in leads], vert=False, showfliers=True)
        ax.set_yticks(range(1, len(leads) + 1), [f"{r['predictor']} ({r['lead_time']['n_alarmed']}/"
                                                  f"{r['lead_time']['n_grokked']})" for r in leads], fontsize=7)
        ax.set(xlabel="lead time T_grok − alarm (steps)", title="lead times of alarms before T_grok")
        fig.subplots_adjust(left=0.32)
        figs.append(("lead_times.png", "Lead-time distributions", "Per predictor, the held-out grokked runs whose "
                     "sustained alarm (threshold calibrated on held-in controls) came before T_grok; in brackets, "
                     "how many of the grokked runs that is.", fig))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    qs = [float(q) for q in doc["settings"]["questions"]]
    for r in shown:
        ys = [(r.get("by_question") or {}).get(f"{q:g}", {}).get("auroc") for q in qs]
        ax.plot(qs, [math.nan if y is None else y for y in ys], marker="o", lw=1.2,
                ls="--" if r["kind"] == "baseline" else "-", label=r["predictor"])
    ax.axhline(0.5, color="0.7", lw=0.8)
    ax.set(xlabel="question step / budget", ylabel="held-out AUROC", title="AUROC against the question step")
    ax.legend(fontsize=7)
    figs.append(("auroc_vs_question.png", "AUROC against the question step", "The same predictors asked earlier or "
                 "later (members already grokked at a question are not asked).", fig))
    out_figs = []
    for name, title, caption, f in figs:
        path = save_figure(f, out / name)
        plt.close(f)
        out_figs.append({"title": title, "caption": caption, "data": base64.b64encode(path.read_bytes()).decode()})
    return out_figs


def write_bench_report(root: Path, out: Path | None = None) -> Path:
    import jinja2

    path = root / BENCH_DIR / LEADERBOARD
    if not path.is_file():
        raise UserError(f"{root} has no {BENCH_DIR}/{LEADERBOARD}: run `grokscope bench-predictors --pool {root}`")
    doc = json.loads(path.read_text())
    out = Path(out) if out is not None else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    html = jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(
        title=doc.get("pool_name") or root.name, root=str(root), s=doc["summary"], settings=doc["settings"],
        headline=doc["settings"]["headline"], cols=COLS, rows=table_rows(doc), figures=figures(doc, out),
        claims=doc.get("claims", []))
    target = out / "report.html"
    write_atomic(target, lambda p: p.write_text(html, encoding="utf-8"))
    return target
