"""Verdict rules reach every verdict; a ClaimRow's verdict follows its measurement; the writers render every row."""

from __future__ import annotations

import json
import math

import pytest

from grokscope.experiments.claims import (
    VERDICTS,
    ClaimRow,
    Estimate,
    PaperValue,
    at_most,
    ci_contains,
    ratio_at_least,
    same_sign,
    within,
)
from grokscope.report.claims import render_html, render_markdown, write_claims

CASES = [
    (within(0.1), 7.4, Estimate(7.0), "reproduced"),
    (within(0.1), 7.4, Estimate(3.0, 1.0, 5.0), "shape reproduced"),
    (within(0.1), 7.4, Estimate(1.0, -1.0, 3.0), "not reproduced"),
    (within(0.1), 7.4, Estimate(-2.0, -3.0, -1.0), "contradicted"),
    (within(0.1), 7.4, Estimate(7.4, 7.0, 8.0, lower_bound=True), "shape reproduced"),  # a bound never confirms
    (ci_contains(), 7.4, Estimate(7.0, 6.5, 7.6), "reproduced"),
    (ci_contains(), 7.4, Estimate(3.0, 2.0, 4.0), "shape reproduced"),
    (ci_contains(), 7.4, Estimate(3.0), "not reproduced"),  # no CI: nothing to contain
    (ci_contains(), 7.4, Estimate(-3.0, -4.0, -2.0), "contradicted"),
    (same_sign(), 7.4, Estimate(0.5, 0.1, 1.0), "reproduced"),
    (same_sign(), 7.4, Estimate(0.5, -0.1, 1.0), "not reproduced"),
    (same_sign(), -1.0, Estimate(0.5, 0.1, 1.0), "contradicted"),
    (same_sign(), 7.4, Estimate(math.nan), "not reproduced"),
    (ratio_at_least(2.0), 19.0, Estimate(3.0, 2.1, 5.0), "reproduced"),
    (ratio_at_least(2.0), 19.0, Estimate(2.05, 1.57, math.inf, lower_bound=True), "shape reproduced"),
    (ratio_at_least(2.0), 19.0, Estimate(1.2, 0.8, 1.5), "not reproduced"),
    (ratio_at_least(2.0), 19.0, Estimate(0.5, 0.3, 0.8), "contradicted"),
    (ratio_at_least(2.0), 19.0, Estimate(4.0, 2.5, math.inf, lower_bound=True), "reproduced"),
    (at_most(0.1), 0.02, Estimate(0.04, 0.01, 0.06), "reproduced"),
    (at_most(0.1), 0.02, Estimate(0.08, 0.01, 0.2), "shape reproduced"),
    (at_most(0.1), 0.02, Estimate(0.15, 0.05, 0.2), "not reproduced"),
    (at_most(0.1), 0.02, Estimate(0.3, 0.2, 0.4), "contradicted"),
]


@pytest.mark.parametrize(("rule", "paper", "measured", "verdict"), CASES)
def test_rule_verdicts(rule, paper, measured, verdict):
    assert rule(paper, measured) == verdict


def test_every_verdict_reachable_by_every_rule_family():
    seen: dict[str, set[str]] = {}
    for rule, paper, m, _ in CASES:
        seen.setdefault(rule.text, set()).add(rule(paper, m))
    assert all(v == set(VERDICTS) for k, v in seen.items() if not k.startswith("reproduced if the 95% CI lies")), seen
    assert len(seen) == 5


def _row(value: float, low: float, high: float) -> ClaimRow:
    return ClaimRow("α > 0", PaperValue(7.4, "paper 4 §4.2 (2)", "α ≈ 7.4"), Estimate(value, low, high, unit="per ρ"),
                    same_sign(), ["row note"])


def test_claim_row_verdict_is_computed_from_the_measurement():
    assert _row(0.5, 0.1, 0.9).verdict == "reproduced"
    assert _row(-0.5, -0.9, -0.1).verdict == "contradicted"
    doc = _row(0.5, 0.1, math.inf).to_json(["p: 59 → 23"])
    assert doc["verdict"] == "reproduced" and doc["rule"] == same_sign().text
    assert doc["ci95"] == [0.1, "inf"] and doc["scale_notes"] == ["p: 59 → 23", "row note"]
    json.dumps(doc, allow_nan=False)  # no bare inf/nan in the document


def test_writers(tmp_path):
    rows = [_row(0.5, 0.1, 0.9).to_json(["p: 59 → 23"]), _row(-0.5, -0.9, -0.1).to_json(["p: 59 → 23"])]
    doc = {"experiment": "x", "claim": "c <b>", "paper": "paper 4", "scale": "quick", "params": {},
           "scale_notes": ["p: 59 → 23"], "stages": {"s": {"dir": "d", "members": 3, "runs_trained": 1,
                                                          "runs_skipped": 0}}, "rows": rows}
    md = render_markdown(doc)
    assert md.count("\n| α > 0 |") == 2 and "contradicted" in md and "p: 59 → 23" in md
    html = render_html(doc)
    assert "c &lt;b&gt;" in html and "v-contradicted" in html and "<link" not in html and "src=" not in html
    files = write_claims(doc, tmp_path / "out")
    assert [f.name for f in files] == ["claims.json", "claims.md", "claims.html"]
    assert json.loads(files[0].read_text())["rows"][1]["verdict"] == "contradicted"
