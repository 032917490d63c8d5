"""The four reproductions end to end: ``tiny`` (the framework: stages, analysis, claim files; minutes together on a
contended 2-core machine, so `long`) and ``quick`` (`long`), both run with ``--run-long``."""

from __future__ import annotations

import json

import pytest

from grokscope.experiments import load_all
from grokscope.experiments.claims import VERDICTS
from grokscope.experiments.run import run_experiment

NAMES = ("head-reinit", "lar-grokking", "dmd-localize", "feature-lottery")


def test_all_four_are_registered_with_tiny_and_quick_scales():
    reg = load_all()
    for name in NAMES:
        exp = reg.get(name)
        assert {"tiny", "quick", "paper"} <= set(exp.scales) and exp.scale_notes("quick")


@pytest.mark.long
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", ["tiny", "quick"])
def test_reproduction_writes_claims_with_computed_verdicts(tmp_path, name, scale):
    res = run_experiment(load_all().get(name), scale, tmp_path, workers=1)
    doc = json.loads((tmp_path / name / "claims.json").read_text())
    assert doc["rows"] and all(r["verdict"] in VERDICTS and r["rule"] for r in doc["rows"])
    assert all(r["paper"]["source"] for r in doc["rows"]) and doc["scale_notes"]
    assert len(res.rows) == len(doc["rows"])
