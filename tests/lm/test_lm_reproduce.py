"""``reproduce lm-exposure`` and ``reproduce lar-overfit``: the tiny scale end to end (seconds), quick as long."""

from __future__ import annotations

import json

import pytest

from grokscope.experiments import load_all
from grokscope.experiments.claims import VERDICTS
from grokscope.experiments.run import run_experiment


@pytest.mark.parametrize("name,rows", [("lm-exposure", 5), ("lar-overfit", 3)])
def test_tiny_reproduction_writes_a_claim_table_and_reuses_its_runs(tmp_path, name, rows):
    exp = load_all().get(name)
    res = run_experiment(exp, "tiny", tmp_path)
    doc = json.loads((tmp_path / name / "claims.json").read_text())
    assert len(doc["rows"]) == rows and all(r["verdict"] in VERDICTS for r in doc["rows"])
    assert all(r["paper"]["source"].startswith("paper") for r in doc["rows"])
    assert any("tokens:" in n for n in doc["scale_notes"])  # the reductions from the paper scale are listed
    again = run_experiment(exp, "tiny", tmp_path)  # finished runs are reused: same measurements
    assert [r.to_json() for r in again.rows] == [r.to_json() for r in res.rows]


@pytest.mark.long
@pytest.mark.parametrize("name", ["lm-exposure", "lar-overfit"])
def test_quick_reproduction(tmp_path, name):
    res = run_experiment(load_all().get(name), "quick", tmp_path)
    assert all(r.verdict in VERDICTS for r in res.rows)
