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
    doc = measure({k: v for k, v in p.items() if k not in ("sparse", "mlp")}, tmp_path / "escape.json")
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
    assert len(rows) == 11 and all(r["verdict"] in VERDICTS for r in rows.values())
    arr = next(r for c, r in rows.items() if c.startswith("Arrhenius scaling"))
    assert arr["paper"]["value"] == pytest.approx(0.0080656, rel=1e-4)  # the analytic barrier, not a paper number
    assert any("reconstructed" in n for n in arr["scale_notes"])
    gd = next(r for c, r in rows.items() if c.startswith("full-batch GD"))
    assert gd["measured"]["value"] == 0.0 and gd["verdict"] == "reproduced"
    doc = json.loads((tmp_path / "arrhenius" / "claims.json").read_text())
    assert doc["rows"][0]["claim"] == arr["claim"]


def test_simulations_are_cached_by_parameters(tmp_path):
    from grokscope.escape.study import measure

    p = {k: v for k, v in load_all().get("arrhenius").params("tiny").items() if k not in ("sparse", "mlp")}
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


def test_nonlinear_probe_spec_and_rows_from_synthetic_members(tmp_path):
    """The MLP stage: one arm per batch size plus full batch; the Arrhenius slope of ln T_grok on B/η has the sign
    of the data, and a full-batch arm that groks contradicts 'escape only by noise'."""
    from grokscope.experiments.arrhenius_mlp import mlp_sgd_rows, mlp_sgd_spec
    from grokscope.experiments.base import Context, StageResult
    from grokscope.sweep.spec import load_spec

    exp = load_all().get("arrhenius")
    p = exp.params("quick")
    ctx = Context(exp, "quick", p, tmp_path)
    spec = mlp_sgd_spec(ctx)
    assert set(spec["arms"]) == {f"B{b}" for b in p["mlp"]["batches"]} | {"full"}
    assert len(load_spec(spec).cells) == (len(p["mlp"]["batches"]) + 1) * p["mlp"]["seeds"]

    def members(times_by_arm):
        return [{"seed": s, "t_grok": t, "censored": t is None, "values": {"arm": arm, "seed": s}}
                for arm, ts in times_by_arm.items() for s, t in enumerate(ts)]

    lr = p["mlp"]["lr"]
    arrhenius = {f"B{b}": [int(100 * 2 ** (b / lr / 6400)) + s for s in range(4)] for b in p["mlp"]["batches"]}
    ctx.stages["mlp-sgd"] = StageResult("mlp-sgd", tmp_path, members({**arrhenius, "full": [None] * 4}))
    slope, full = mlp_sgd_rows(ctx)
    assert slope.measured.value > 0 and slope.verdict == "reproduced"
    assert full.measured.value == 0.0 and full.verdict == "reproduced"
    flat = {k: v[::-1] for k, v in zip(arrhenius, reversed(list(arrhenius.values())), strict=True)}
    ctx.stages["mlp-sgd"] = StageResult("mlp-sgd", tmp_path, members({**flat, "full": [900, 950, 1000, 1100]}))
    slope, full = mlp_sgd_rows(ctx)
    assert slope.measured.value < 0 and slope.verdict == "contradicted"
    assert full.measured.value == 1.0 and full.verdict == "contradicted"
