"""Spec loading, expansion into cells and the packing decisions (no training)."""

from __future__ import annotations

import pytest
from sweep_helpers import tiny_spec

from grokscope.config import member_config
from grokscope.errors import UserError
from grokscope.sweep import load_spec


def _same(a, b) -> bool:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    da.pop("members"), db.pop("members")
    return da == db


def _check_members(plan) -> None:
    """Every cell sits on exactly one (run, member), and that member trains exactly the cell's config."""
    seen = set()
    for c in plan.cells:
        run = plan.runs[c.run]
        assert c.index in run.cells
        row = run.config.member_table()[c.member]
        assert row["seed"] == c.values["seed"]
        assert _same(member_config(run.config, row), c.config)
        seen.add((run.run_id, c.member))
    assert len(seen) == len(plan.cells)  # no two cells share a member


def test_grid_times_seeds_packs_shape_compatible_cells():
    plan = load_spec(tiny_spec(grid={"optim.wd": [0.5, 1.0, 2.0], "task.p": [7, 11]}))
    assert len(plan.cells) == 12
    assert plan.axes == {"optim.wd": [0.5, 1.0, 2.0], "task.p": [7, 11], "seed": [0, 1]}
    # seeds innermost, then the last grid axis
    assert [c.values for c in plan.cells[:3]] == [{"optim.wd": 0.5, "task.p": 7, "seed": 0},
                                                 {"optim.wd": 0.5, "task.p": 7, "seed": 1},
                                                 {"optim.wd": 0.5, "task.p": 11, "seed": 0}]
    assert len(plan.runs) == 2  # p changes shapes: one run per p, wd × seeds on the member axis
    for r in plan.runs:
        assert r.members == 6
        assert r.config.members.seed_list() == [0, 1]
        assert r.config.members.vary == {"optim.wd": [0.5, 1.0, 2.0]}
        assert r.run_id == f"t-{r.config.run_id()}"
    _check_members(plan)


def test_member_cap_splits_balanced():
    plan = load_spec(tiny_spec(grid={"optim.lr": [1e-3, 2e-3, 3e-3, 4e-3, 5e-3]}, seeds=2, member_cap=4))
    assert sorted(r.members for r in plan.runs) == [2, 4, 4]
    _check_members(plan)
    many_seeds = load_spec(tiny_spec(seeds=10, member_cap=4))
    assert sorted(r.members for r in many_seeds.runs) == [3, 3, 4]
    _check_members(many_seeds)


def test_no_pack_gives_one_run_per_cell():
    plan = load_spec(tiny_spec(grid={"optim.wd": [0.5, 1.0]}), pack=False)
    assert len(plan.runs) == 4
    for c in plan.cells:
        run = plan.runs[c.run]
        assert run.members == 1 and c.member == 0
        assert run.config.members.seed_list() == [c.values["seed"]] and run.config.members.vary == {}
        assert run.config.optim.wd == c.values["optim.wd"]
    _check_members(plan)


def test_zip_and_shape_axes():
    plan = load_spec(tiny_spec(zip={"optim.lr": [1e-3, 3e-3], "loss.tau": [1.0, 0.5]},
                               grid={"model.d_hidden": [16, 32]}, seeds=1))
    assert [c.values for c in plan.cells] == [
        {"model.d_hidden": 16, "optim.lr": 1e-3, "loss.tau": 1.0, "seed": 0},
        {"model.d_hidden": 16, "optim.lr": 3e-3, "loss.tau": 0.5, "seed": 0},
        {"model.d_hidden": 32, "optim.lr": 1e-3, "loss.tau": 1.0, "seed": 0},
        {"model.d_hidden": 32, "optim.lr": 3e-3, "loss.tau": 0.5, "seed": 0}]
    assert plan.zipped == ["optim.lr", "loss.tau"]
    assert len(plan.runs) == 2
    assert plan.runs[0].config.members.vary == {"optim.lr": [1e-3, 3e-3], "loss.tau": [1.0, 0.5]}
    _check_members(plan)


def test_clamp_arms_pack_with_their_control():
    plan = load_spec(tiny_spec(grid={"optim.wd": [1.0, 2.0]}, arms={
        "control": {}, "clamp": {"intervene.clamp.rho": 1.15, "intervene.clamp.w_c": 20.0}}))
    assert plan.axes["arm"] == ["control", "clamp"]
    assert len(plan.runs) == 1
    cfg = plan.runs[0].config
    assert cfg.members.vary["intervene.clamp.rho"] == [None, 1.15, None, 1.15]
    assert cfg.intervene.clamp.w_c == 20.0
    control = [c for c in plan.cells if c.values["arm"] == "control"]
    assert all(c.config.intervene.clamp is None for c in control)
    _check_members(plan)


def test_clamp_rho_grid_and_other_settings_split():
    plan = load_spec(tiny_spec(base={"intervene": {"clamp": {"rho": 1.0, "w_c": 20.0}}},
                               grid={"intervene.clamp.rho": [0.9, 1.1], "intervene.clamp.from_step": [0, 10]}))
    assert len(plan.runs) == 2  # from_step is not packable
    assert all(r.config.members.vary == {"intervene.clamp.rho": [0.9, 1.1]} for r in plan.runs)
    _check_members(plan)


def test_langevin_cells_pack_like_other_knobs():
    plan = load_spec(tiny_spec(grid={"intervene.langevin_T": [0.0, 1e-4]}))
    sizes = sorted(r.members for r in plan.runs)
    assert sizes == [4]  # each member draws its own noise stream, so noisy cells share a run
    _check_members(plan)


def test_nested_toml_keys_yaml_and_seed_axis(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('preset = "quick"\nseeds = [3, 5]\n[grid]\noptim.wd = [1.0, 2.0]\n"task.p" = [41, 43]\n'
                    '[arms.clamp]\nintervene.clamp = { rho = 1.1, w_c = 30.0 }\n')
    plan = load_spec(toml)
    assert plan.spec.name == "s" and plan.axes["seed"] == [3, 5] and "optim.wd" in plan.axes
    assert plan.cells[0].config.intervene.clamp.rho == 1.1
    yaml = tmp_path / "s.yaml"
    yaml.write_text("name: y\npreset: quick\nbase:\n  intervene: {clamp: {rho: 1.0, w_c: 30.0}}\n"
                    "grid:\n  seed: [0, 1, 2]\n  optim.lr: [0.001, 0.002]\n"
                    "arms:\n  clamped: {}\n  free: {intervene.clamp.rho: null}\n")
    plan = load_spec(yaml)
    assert plan.axes["seed"] == [0, 1, 2] and len(plan.cells) == 12
    free = [c for c in plan.cells if c.values["arm"] == "free"]
    assert all(c.config.intervene.clamp is None for c in free)
    assert len(plan.runs) == 2  # 12 members over the default cap of 8, balanced
    _check_members(plan)


def test_duplicate_cells_share_a_run():
    plan = load_spec(tiny_spec(arms={"a": {}, "b": {}}), pack=False)
    assert len(plan.cells) == 4 and len(plan.runs) == 2  # arms a and b are the same config


def test_plan_json_and_digest():
    plan = load_spec(tiny_spec(grid={"optim.wd": [0.5, 1.0]}))
    doc = plan.to_json()
    assert set(doc) >= {"spec", "axes", "cells", "runs", "digest"}
    assert doc["cells"][0] == {"cell": 0, "values": {"optim.wd": 0.5, "seed": 0},
                               "run_id": plan.runs[0].run_id, "member": 0}
    assert load_spec(tiny_spec(grid={"optim.wd": [0.5, 1.0]})).digest == plan.digest
    assert load_spec(tiny_spec(grid={"optim.wd": [0.5, 1.0]}), pack=False).digest != plan.digest


@pytest.mark.parametrize("change, message", [
    ({"grid": {"optim.wdd": [1.0]}}, "grid axis 'optim.wdd' is not a config key; did you mean 'optim.wd'?"),
    ({"grid": {"optim.wd": []}}, "grid axis 'optim.wd' is empty"),
    ({"grid": {"optim.wd": 1.0}}, "grid axis 'optim.wd' must be a list"),
    ({"grid": {"optim.wd": [1.0, "heavy"]}}, "axis 'optim.wd' value 'heavy': optim.wd: Input should be a valid number"),
    ({"grid": {"task.p": [1]}}, "axis 'task.p' value 1: task: p must be >= 2"),
    ({"grid": {"members.seeds": [1, 2]}}, "conflicts with packing"),
    ({"base": {"members": {"vary": {"optim.lr": [1e-3, 2e-3]}}}}, "members.vary conflicts with packing"),
    ({"zip": {"optim.wd": [1.0, 2.0], "optim.lr": [1e-3]}}, "zip lists must have equal lengths"),
    ({"grid": {"optim.wd": [1.0]}, "zip": {"optim.wd": [2.0]}}, "appears in both grid and zip"),
    ({"gird": {}}, "unknown key 'gird'; did you mean 'grid'?"),
    ({"seeds": 0}, "seeds must be >= 1"),
    ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"member_cap": 0}, "member_cap"),
    ({"preset": "quik"}, "unknown preset 'quik'; did you mean 'quick'?"),
    ({"arms": {"c": {"intervene.clamp.rho": 1.1}}}, "needs intervene.clamp.w_c"),
    ({"arms": {"c": {"optim.lrr": 1e-3}}}, "arm 'c' key 'optim.lrr' is not a config key"),
    ({"zip": {"seed": [0, 1]}}, "seeds go in the top-level"),
])
def test_bad_specs_one_line(change, message):
    with pytest.raises(UserError) as e:
        load_spec(tiny_spec(**change))
    text = str(e.value)
    assert message in text
    assert "\n" not in text and text.startswith("sweep spec")


def test_bad_file_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    with pytest.raises(UserError, match="cannot parse"):
        load_spec(bad)
    with pytest.raises(UserError, match="not found"):
        load_spec(tmp_path / "missing.toml")


def test_workers_times_threads_never_exceed_cores(monkeypatch):
    from grokscope.sweep import runner

    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    assert runner.resolve_workers("local", None, 1) == (2, 1, [])
    workers, threads, notes = runner.resolve_workers("local", 4, 1)
    assert (workers, threads) == (2, 1) and "exceed the 2 cores" in notes[0]
    assert runner.resolve_workers("local", 2, 2)[:2] == (1, 2)
    assert runner.resolve_workers("ray", 8, 1) == (8, 1, [])  # a cluster is not this machine
    with pytest.raises(UserError, match="--workers must be >= 1"):
        runner.resolve_workers("local", 0, 1)


def test_cli_dry_run_shows_the_packing(tmp_path):
    import json

    from typer.testing import CliRunner

    from grokscope.cli import app

    spec = tmp_path / "d.yaml"
    spec.write_text(json.dumps(tiny_spec(grid={"optim.wd": [0.5, 1.0], "task.p": [7, 11]})))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--dry-run", "--out", str(tmp_path / "sw")])
    assert res.exit_code == 0, res.output
    assert "8 cells in 2 runs" in res.output
    assert not (tmp_path / "sw").exists()
    res = CliRunner().invoke(app, ["sweep", str(spec), "--dry-run", "--no-pack"])
    assert "8 cells in 8 runs" in res.output


def test_skip_invalid_plans_the_valid_cells_and_lists_the_others():
    spec = tiny_spec(grid={"optim.wd": [0.5, -1.0, 1.0]})  # wd must be >= 0
    with pytest.raises(UserError, match="optim.wd"):
        load_spec(spec)
    plan = load_spec(spec, skip_invalid=True)
    assert [c.values["optim.wd"] for c in plan.cells] == [0.5, 0.5, 1.0, 1.0]
    assert [c["values"] for c in plan.invalid] == [{"optim.wd": -1.0, "seed": 0}, {"optim.wd": -1.0, "seed": 1}]
    assert all("optim.wd" in c["error"] for c in plan.invalid)
    assert plan.to_json()["invalid"] == plan.invalid
    _check_members(plan)
    with pytest.raises(UserError, match="every one of the 2 cells is invalid"):
        load_spec(tiny_spec(grid={"optim.wd": [-1.0]}), skip_invalid=True)


def test_cli_skip_invalid_runs_the_valid_cells(tmp_path):
    import json

    from typer.testing import CliRunner

    from grokscope.cli import app

    spec = tmp_path / "d.yaml"
    spec.write_text(json.dumps(tiny_spec(grid={"optim.wd": [0.5, -1.0]}, seeds=1, base={"train": {"steps": 10}})))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "sw"), "-q"])
    assert isinstance(res.exception, UserError) and "optim.wd" in str(res.exception)  # main() prints it, exit 2
    assert not (tmp_path / "sw").exists()
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "sw"), "-q", "--skip-invalid",
                                   "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "1 invalid cells were skipped" in res.output and "wd=-1" in res.output
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert doc["status"] == "complete" and len(doc["cells"]) == 1 and len(doc["invalid"]) == 1


def test_relative_clamp_arms_pack_with_a_free_arm():
    """Fork-style arms (free, ×1, ×1.15 of the norm at from_step) share runs: relative is a packed value."""
    spec = tiny_spec(arms={"free": {}, "same": {"intervene.clamp.relative": 1.0, "intervene.clamp.from_step": 5},
                           "raised": {"intervene.clamp.relative": 1.15, "intervene.clamp.from_step": 5}},
                     seeds=2, member_cap=16)
    plan = load_spec(spec)
    assert len(plan.cells) == 6 and len(plan.runs) == 1
    assert plan.runs[0].config.members.vary == {"intervene.clamp.relative": [None, 1.0, 1.15]}
    _check_members(plan)
