"""Importer: both curve layouts, the censoring conventions, sidecars, companions, corrupt/foreign files, empty dir;
imported runs read back through the catalog like grokscope's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grokscope.errors import UserError
from grokscope.laws.importer import import_published
from grokscope.laws.published import read_cell
from grokscope.store.catalog import Catalog


def _cell(path: Path, layout: str = "mean", t_grok=(400, -1, 0, 900, 300), max_steps=900, **extra) -> None:
    steps = np.arange(0, 1000, 200, dtype=np.float32)
    s = len(t_grok)
    curve = np.linspace(1, 2, len(steps), dtype=np.float32)
    curves = {"weight_norm": curve, "logit_scale": 10 * curve} if layout == "mean" else \
        {"weight_norm": np.tile(curve, (s, 1)) + np.arange(s)[:, None], "logit_scale": np.tile(10 * curve, (s, 1))}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, p=np.int64(59), rho=np.float64(1.15), lam=np.float64(1.0), arm=np.str_("clamp"),
             wc_used=np.float64(54.5), max_steps=np.int64(max_steps), base_frac=np.array([0.1, 0.8, 0.1]),
             T_mem_per_seed=np.full(s, 150), T_grok_per_seed=np.array(t_grok), wn_at_grok=np.full(s, 62.0),
             N0=np.arange(s, dtype=np.float32), steps=steps, **curves, **extra)



def test_read_cell_layouts_and_censoring(tmp_path):
    _cell(tmp_path / "a.npz", "mean")
    _cell(tmp_path / "b.npz", "per-seed")
    a, b = read_cell(tmp_path / "a.npz"), read_cell(tmp_path / "b.npz")
    assert a.layout == "mean" and b.layout == "per-seed" and b.curves["weight_norm"].shape == (5, 5)
    # -1, 0 and >= max_steps (900) are censored by default
    assert a.t_grok == [400, None, None, None, 300] and a.budget == 900
    only_neg = read_cell(tmp_path / "a.npz", ("neg1",))
    assert only_neg.t_grok == [400, None, 0, 900, 300]
    assert a.params["base_frac"] == pytest.approx([0.1, 0.8, 0.1]) and a.params["arm"] == "clamp"
    assert set(a.per_seed) == {"wn_at_grok", "N0"}


def test_import_both_layouts_read_by_catalog(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _cell(src / "dose" / "cellA.npz", "mean")
    _cell(src / "grid" / "cellB.npz", "per-seed", t_grok=(100, 200, 300, 400, 500))
    res = import_published(src, out)
    assert sorted(res.imported) == ["dose__cellA", "grid__cellB"] and not res.warnings
    with Catalog(out) as cat:
        rows = cat.query("select run_id, member, p, rho, wd, arm, wc_used, t_grok, censored, delay, at_grok_norm, "
                         "published_N0, source, format from members order by run_id, member").dicts()
        m = cat.metrics({"dose__cellA", "grid__cellB"}, ["norm/total", "published/logit_scale"])
    a = [r for r in rows if r["run_id"] == "dose__cellA"]
    assert [r["t_grok"] for r in a] == [400, None, None, None, 300]
    assert [r["censored"] for r in a] == [False, True, True, True, False]
    assert a[0]["delay"] == 250 and a[0]["at_grok_norm"] == 62.0 and a[1]["at_grok_norm"] is None
    assert a[0]["p"] == 59 and a[0]["wd"] == 1.0 and a[0]["rho"] == 1.15 and a[0]["arm"] == "clamp"
    assert a[3]["published_N0"] == 3.0 and a[0]["source"] == "dose/cellA.npz" and a[0]["format"] == "clevixlab-npz"
    assert set(m[m.run_id == "dose__cellA"].member) == {-1}  # seed-mean curves: member -1
    assert set(m[m.run_id == "grid__cellB"].member) == {0, 1, 2, 3, 4}
    meta = json.loads((out / "dose__cellA" / "meta.json").read_text())
    assert meta["imported"]["params"]["base_frac"] == pytest.approx([0.1, 0.8, 0.1])  # every parameter kept


def test_corrupt_and_foreign_files_skipped_with_one_line_each(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _cell(src / "good.npz")
    (src / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(src / "foreign.npz", weights=np.zeros((3, 3)))
    res = import_published(src, out)
    assert res.imported == ["good"]
    assert len(res.warnings) == 2
    assert any("corrupt.npz" in w and "unreadable" in w for w in res.warnings)
    assert any("foreign.npz" in w and "T_grok_per_seed" in w for w in res.warnings)
    assert all("\n" not in w for w in res.warnings)
    assert sorted(p.name for p in out.iterdir()) == ["good"]  # nothing half-imported, no temp folders left


def test_empty_or_missing_dir_is_one_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no .npz"):
        import_published(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(UserError, match="not a directory"):
        import_published(tmp_path / "nope", tmp_path / "out")


def test_sidecars_companions_and_reimport(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    _cell(src / "g" / "c1.npz")
    _cell(src / "g" / "c1_weights.npz")  # companion with the same times: not imported twice
    (src / "g" / "c1.json").write_text(json.dumps({"rho": 9.9, "note": "x", "grid": {"taus": [1.0, 1.3]}}))
    (src / "g" / "wc.json").write_text(json.dumps({"w_c": 54.49}))
    (src / "g" / "bad.json").write_text("{not json")
    res = import_published(src, out)
    assert res.imported == ["g__c1"]
    assert len(res.warnings) == 1 and "bad.json" in res.warnings[0]
    cfg = json.loads((out / "g__c1" / "config.json").read_text())
    assert cfg["published"]["rho"] == 1.15  # the .npz wins over its sidecar
    assert cfg["published"]["note"] == "x" and cfg["published"]["grid.taus"] == "[1.0, 1.3]"
    assert cfg["published"]["wc.w_c"] == 54.49
    meta = json.loads((out / "g__c1" / "meta.json").read_text())
    assert meta["imported"]["companions"] == ["g/c1_weights.npz"]
    again = import_published(src, out)
    assert again.unchanged == ["g__c1"] and not again.imported
    _cell(src / "g" / "c1.npz", t_grok=(1, 2, 3, 4, 5))  # changed bytes: replaced whole
    third = import_published(src, out)
    assert "g__c1" in third.imported and any("c1_weights" in w for w in third.warnings)
    assert json.loads((out / "g__c1" / "events.json").read_text())[0]["t_grok"] == 1


def test_cli_import_and_fit(tmp_path):
    from typer.testing import CliRunner

    from grokscope.cli import app

    src, out = tmp_path / "src", tmp_path / "out"
    for i, rho in enumerate((0.9, 1.0, 1.1, 1.2)):
        t = np.round(np.exp(7.6 * rho) * (1 + 0.02 * np.arange(6))).astype(int)
        _cell(src / f"c{i}.npz", t_grok=tuple(t), max_steps=10**6, rho_=np.float64(rho))
    r = CliRunner().invoke(app, ["import", "published", str(src), "--out", str(out)])
    assert r.exit_code == 0 and "imported 4 cells" in r.output
    r = CliRunner().invoke(app, ["fit", "exp-law", "--runs", str(out), "--x", "rho_", "--json", "--n-boot", "50"])
    assert r.exit_code == 0, r.output
    fit = json.loads(r.output)["fits"][0]
    assert fit["slope"] == pytest.approx(7.6, abs=0.05) and fit["ci95"][0] <= fit["slope"] <= fit["ci95"][1]
    r = CliRunner().invoke(app, ["fit", "exp-law", "--runs", str(out), "--x", "nope"])
    assert r.exit_code != 0


def test_reproduce_published_mode_errors_are_user_errors(tmp_path):
    from typer.testing import CliRunner

    from grokscope.cli import app

    _cell(tmp_path / "src" / "c.npz")
    r = CliRunner().invoke(app, ["reproduce", "toy-norm-clamp", "--published", str(tmp_path / "src"),
                                 "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, UserError) and "no --published mode" in str(r.exception)
    r = CliRunner().invoke(app, ["reproduce", "logit-mediation", "--published", str(tmp_path / "nowhere"),
                                 "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, UserError)
    r = CliRunner().invoke(app, ["reproduce", "logit-mediation", "--published", str(tmp_path / "src"),
                                 "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, UserError) and "none of paper 1's cells" in str(r.exception)


def test_budget_from_steps_run_censors_only_beyond_it(tmp_path):
    """Fork runs stop when the last seed groks (no max_steps): T == steps_run is a grok, not a censored seed."""
    np.savez(tmp_path / "fork.npz", p=np.int64(59), steps_run=np.int64(5525),
             T_mem_per_seed=np.array([175, 175, 175]), T_grok_per_seed=np.array([5425, 5525, -1]))
    assert read_cell(tmp_path / "fork.npz").t_grok == [5425, 5525, None]
