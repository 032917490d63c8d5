"""``logit-mediation`` trained: the tiny scale (every stage and row; ~1 min on one core) and the quick scale (the
shape of paper 1's mediation). Both are `long` (``pytest --run-long``): the default suite is at its time budget; the
stage specs without training are tested in ``tests/unit/test_logit_mediation_specs.py``."""

from __future__ import annotations

import math

import pytest

from grokscope.experiments import load_all
from grokscope.experiments.run import run_experiment


def _rows(result) -> dict[str, dict]:
    return {r["claim"]: r for r in result.to_json()["rows"]}


@pytest.mark.long
def test_tiny_scale_trains_every_stage_and_gives_every_row_a_verdict(tmp_path):
    res = run_experiment(load_all().get("logit-mediation"), "tiny", tmp_path, workers=1)
    doc = res.to_json()
    assert set(doc["stages"]) == {"control", "mse-control", "mediation", "mse"}
    rows = _rows(res)
    assert len(rows) == 6 and all(r["verdict"] and r["rule"] for r in rows.values())
    assert (tmp_path / "logit-mediation" / "claims.json").is_file()


@pytest.mark.long
def test_quick_scale_shows_the_mediation_shape(tmp_path):
    """T_grok rises with the held norm; raising τ undoes most of it; L explains ln T better than ρ; MSE's norm
    effect is smaller than CE's. Asserted as measured values (the verdicts are in the table)."""
    res = run_experiment(load_all().get("logit-mediation"), "quick", tmp_path, workers=2)
    vals = {k.split(":")[0] + k.split(":")[1][:30]: r["measured"]["value"] for k, r in _rows(res).items()}
    by = lambda s: next(v for k, v in vals.items() if s in k)  # noqa: E731
    assert by("holding the norm higher") > 1.3
    assert by("raising τ") > 0.3
    assert by("L explains ln T_grok better") > 0
    assert not math.isnan(by("MSE shows"))
