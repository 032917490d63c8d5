"""``reproduce arrhenius``: the tiny scale end to end (seconds), the quick scale under ``--run-long``."""

from __future__ import annotations

import json
import time

import pytest

from grokscope.experiments.base import load_all
from grokscope.experiments.claims import VERDICTS
from grokscope.experiments.run import run_experiment


def _rows(res):
    return {r["claim"]: r for r in res.to_json()["rows"]}


def test_tiny_scale_writes_a_claim_table_with_an_arrhenius_row(tmp_path):
    res = run_experiment(load_all().get("arrhenius"), "tiny", tmp_path, workers=1)
    rows = _rows(res)
    assert len(rows) == 9 and all(r["verdict"] in VERDICTS for r in rows.values())
    arr = next(r for c, r in rows.items() if c.startswith("Arrhenius scaling"))
    assert arr["paper"]["value"] == pytest.approx(0.0080656, rel=1e-4)  # the analytic barrier, not a paper number
    assert any("reconstructed" in n for n in arr["scale_notes"])
    gd = next(r for c, r in rows.items() if c.startswith("full-batch GD"))
    assert gd["measured"]["value"] == 0.0 and gd["verdict"] == "reproduced"
    doc = json.loads((tmp_path / "arrhenius" / "claims.json").read_text())
    assert doc["rows"][0]["claim"] == arr["claim"]
    cached = (tmp_path / "arrhenius" / "escape.json").stat().st_mtime_ns
    t0 = time.time()
    again = run_experiment(load_all().get("arrhenius"), "tiny", tmp_path, workers=1)  # cached sims, reused run
    assert (tmp_path / "arrhenius" / "escape.json").stat().st_mtime_ns == cached
    assert [r["measured"]["text"] for r in _rows(again).values()] == [r["measured"]["text"] for r in rows.values()]
    assert time.time() - t0 < 30


@pytest.mark.long
def test_quick_scale_reaches_the_issue_figures(tmp_path):
    t0 = time.time()
    res = run_experiment(load_all().get("arrhenius"), "quick", tmp_path)
    assert time.time() - t0 < 900
    rows = _rows(res)
    arr = next(r for c, r in rows.items() if c.startswith("Arrhenius scaling"))
    notes = " ".join(arr["row_notes"])
    assert "R² = " in notes
    escapes = json.loads((tmp_path / "arrhenius" / "escape.json").read_text())["arrhenius"]
    assert len(escapes) >= 6 and all(sum(t != "inf" for t in a["times"]) >= 20 for a in escapes)
    span = next(r for c, r in rows.items() if c.startswith("grokking-like delays"))
    assert span["measured"]["value"] >= 2.0  # τ over >= 100x
