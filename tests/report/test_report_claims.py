"""`grokscope report DIR` shows the claim tables of the reproductions below DIR, with their computed verdicts."""

from __future__ import annotations

import json
from pathlib import Path

from catalog_synth import write_run

from grokscope.report.html import write_report


def claims_doc(verdict: str) -> dict:
    return {"experiment": "toy-x", "claim": "x delays grokking", "paper": "paper 9 §1", "scale": "quick",
            "scale_notes": ["p: 59 → 23"], "stages": {},
            "rows": [{"claim": "the delay ratio", "paper": {"text": "≈ 19×", "source": "§1.2", "value": 19.0},
                      "measured": {"text": "3.5 ×", "n": 6}, "ci_text": "[2.1, 5.0]", "verdict": verdict,
                      "rule": "reproduced if the CI is >= 2", "row_notes": ["paired by seed"], "scale_notes": []}]}


def test_report_includes_claim_tables(tmp_path: Path) -> None:
    exp = tmp_path / "toy-x"
    write_run(exp / "control" / "runs", "r0", t_grok=[200, None])
    (exp / "claims.json").write_text(json.dumps(claims_doc("shape reproduced")))
    html = write_report(exp).read_text()
    assert "Claims: toy-x: x delays grokking" in html
    assert 'class="v-shape-reproduced"' in html and "the delay ratio" in html and "[2.1, 5.0]" in html
    assert "reproduced if the CI is &gt;= 2" in html and "p: 59 → 23" in html


def test_report_without_claims_has_no_claims_section(tmp_path: Path) -> None:
    write_run(tmp_path, "r0", t_grok=[200, None])
    html = write_report(tmp_path).read_text()
    assert "Claims:" not in html
