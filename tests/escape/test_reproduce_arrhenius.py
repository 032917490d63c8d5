"""``reproduce arrhenius``: the tiny scale's simulations and claim rows (seconds); the tiny and quick scales end to
end (a sweep worker is spawned: ~20 s even for tiny) under ``--run-long``."""

from __future__ import annotations

import json
import time

import pytest

from grokscope.experiments.base import load_all
from grokscope.experiments.claims import VERDICTS
from grokscope.experiments.run import run_experiment


def _rows(res):
    return {r["claim"]: r for r in res.to_json()["rows"]}


def test_tiny_scale_rows_from_its_simulations(tmp_path):
    from grokscope.escape.study import measure
    from grokscope.experiments.arrhenius import arrhenius_rows, curves_spec
    from grokscope.experiments.base import Context
    from grokscope.sweep.spec import load_spec

    exp = load_all().get("arrhenius")
    p = exp.params("tiny")
    load_spec(curves_spec(Context(exp, "tiny", p, tmp_path)))  # the stage's sweep spec is valid
    doc = measure({k: v for k, v in p.items() if k != "sparse"}, tmp_path / "escape.json")
    late = {"t_mem": 40, "t_test": 400, "train_final": 0.05, "test_final": 0.1}  # a canonical grokking curve
    same = {"t_mem": 40, "t_test": 40, "train_final": 0.05, "test_final": 0.4}  # train and test fall together
    rows = {r.claim: r for r in arrhenius_rows(p, doc, {"members": [late, same, same], "gd_censored": [True]})}
    assert len(rows) == 9 and all(r.verdict in VERDICTS for r in rows.values())
    arr = next(r for c, r in rows.items() if c.startswith("Arrhenius scaling"))
    assert arr.paper.value == pytest.approx(0.0080656, rel=1e-4)  # the analytic barrier, not a paper number
    gd = next(r for c, r in rows.items() if c.startswith("full-batch GD"))
    assert gd.measured.value == 0.0 and gd.verdict == "reproduced"
    sparse = next(r for c, r in rows.items() if c.startswith("sparse sub-sampling"))
    assert sparse.measured.value == pytest.approx(1 / 3) and sparse.verdict == "contradicted"


@pytest.mark.long
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


def test_simulations_are_cached_by_parameters(tmp_path):
    from grokscope.escape.study import measure

    p = {k: v for k, v in load_all().get("arrhenius").params("tiny").items() if k != "sparse"}
    p.update(xs=[1.0, 2.0], seeds=2, max_steps=300, control_steps=50, mode_steps=100, reference_n=4)
    cache = tmp_path / "escape.json"
    first = measure(p, cache)
    stamp = cache.stat().st_mtime_ns
    assert measure(p, cache) == first and cache.stat().st_mtime_ns == stamp  # same parameters: read back
    assert measure({**p, "seeds": 3}, cache)["key"] != first["key"]  # other parameters: recomputed


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
