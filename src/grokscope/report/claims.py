"""Claim-table writers: ``claims.json``, ``claims.md`` and a self-contained ``claims.html`` (Jinja2, no external assets).

They take the document of ``grokscope.experiments.run.ExperimentRun.to_json``: experiment, claim, paper, scale,
params, scale_notes, stages, and rows with claim, paper (value, source, text), measured (text), ci_text, verdict,
rule, scale_notes. Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..store.atomic import write_atomic, write_json

COLUMNS = ("claim", "paper value", "measured", "95% CI", "verdict", "scale notes")

TABLE = """<table class="claims">
<tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in d.rows %}<tr>
 <td>{{ r.claim }}</td>
 <td>{{ r.paper.text }}<div class="src">{{ r.paper.source }}</div></td>
 <td>{{ r.measured.text }}{% if r.measured.n %}<div class="src">n = {{ r.measured.n }}</div>{% endif %}</td>
 <td>{{ r.ci_text }}</td>
 <td class="v-{{ r.verdict | replace(' ', '-') }}"><b>{{ r.verdict }}</b><div class="rule">{{ r.rule }}</div></td>
 <td><ul>{% for n in r.row_notes %}<li>{{ n }}</li>{% endfor %}{% if d.scale_notes %}<li>the experiment's scale notes
 (below)</li>{% endif %}</ul></td>
</tr>
{% endfor %}</table>
{% if d.scale_notes %}<p><b>Scale notes (every row), {{ d.scale }} vs paper:</b></p>
<ul>{% for n in d.scale_notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
"""

# the verdict colours, shared by claims.html and the claims section of `grokscope report`
VERDICT_CSS = """ .v-reproduced { background: #e4f5e6; } .v-shape-reproduced { background: #eef5d8; }
 .v-not-reproduced { background: #f6f0dc; } .v-contradicted { background: #f9e0e0; }
 .src, .rule { color: #5a6577; font-size: 12px; }
"""

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>grokscope reproduce {{ d.experiment }} ({{ d.scale }})</title>
<style>
 body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px;
        color: #1d2430; padding: 0 16px; }
 h1 { font-size: 22px; margin-bottom: 4px; } .meta { color: #5a6577; font-size: 13px; }
 table { border-collapse: collapse; font-size: 13px; margin: 12px 0 16px; width: 100%; }
 th, td { border: 1px solid #d6dae3; padding: 4px 8px; text-align: left; vertical-align: top; }
 th { background: #f2f4f8; }
{{ css }} ul { margin: 0; padding-left: 16px; } code { background: #f2f4f8; padding: 0 3px; border-radius: 3px; }
</style>
</head>
<body>
<h1>{{ d.experiment }}: {{ d.claim }}</h1>
<div class="meta">source: {{ d.paper }} &middot; scale <code>{{ d.scale }}</code></div>
{{ table }}
<p class="meta">Stages (sweep directories):
{% for name, s in d.stages.items() %}<code>{{ name }}</code> {{ s.members }} members
 ({{ s.runs_trained }} runs trained, {{ s.runs_skipped }} reused){{ "; " if not loop.last }}{% endfor %}.
Censored members (never grokked in the budget) count as +&infin; in medians; a median that is censored is shown as a
lower bound (&ge;, at the budget). CIs: seeded percentile bootstrap over members.</p>
</body>
</html>
"""


def row_cells(row: dict[str, Any], shared: bool = True) -> list[str]:
    """The six table cells of one row, as plain text; ``shared``: the experiment's scale notes are printed below."""
    paper = f"{row['paper']['text']} ({row['paper']['source']})"
    notes = row.get("row_notes", []) + ["+ the scale notes below"] if shared else row["scale_notes"]
    return [row["claim"], paper, row["measured"]["text"], row["ci_text"], row["verdict"], "; ".join(notes) or "-"]


def shared_notes(doc: dict[str, Any]) -> list[str]:
    return [f"{doc['scale']} vs paper: {n}" for n in doc.get("scale_notes", [])]


def render_markdown(doc: dict[str, Any]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = [f"# {doc['experiment']}: {doc['claim']}", "", f"Source: {doc['paper']}. Scale: `{doc['scale']}`.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in row_cells(r, bool(doc["scale_notes"]))) + " |" for r in doc["rows"]]
    if doc["scale_notes"]:
        lines += ["", "Scale notes (every row):", ""] + [f"- {n}" for n in shared_notes(doc)]
    lines += ["", "Verdict rules:", ""] + [f"- {cell(r['claim'])}: {r['rule']}" for r in doc["rows"]]
    lines += ["", "Censored members count as +inf in medians; a censored median is a lower bound (≥, at the budget). "
              "CIs: seeded percentile bootstrap over members.", ""]
    return "\n".join(lines)


def render_table_html(doc: dict[str, Any]) -> str:
    """The claim table alone (an HTML fragment): claims.html and the claims section of ``grokscope report``."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TABLE).render(d=doc, columns=COLUMNS)


def render_html(doc: dict[str, Any]) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(d=doc, columns=COLUMNS, table=Markup(render_table_html(doc)),
                                            css=Markup(VERDICT_CSS))


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_claims(doc: dict[str, Any], out: Path) -> list[Path]:
    """Write ``claims.json``, ``claims.md``, ``claims.html`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "claims.json", out / "claims.md", out / "claims.html"]
    write_json(paths[0], json.loads(json.dumps(doc, default=str)))
    _write_text(paths[1], render_markdown(doc))
    _write_text(paths[2], render_html(doc))
    return paths
