"""`report` and `runs` on a folder of unrelated runs: only axes that vary and matter, readable, no layout warnings."""

from __future__ import annotations

import shutil
import warnings

import pytest
from tests.hardening.cli_inproc import cli

import grokscope as gs
from grokscope.report.axes import MAX_AXES, distinct_axes, matters


def test_bookkeeping_keys_are_never_axes():
    assert not matters("eval.points") and not matters("checkpoint.count") and not matters("name")
    assert not matters("train.steps")  # the budget only censors (the trajectory is the same: see test_extend)
    assert matters("optim.wd") and matters("task.p")


def test_keys_that_group_members_alike_are_one_axis():
    cols = {"task.p": [23, 23, 13], "model.name": ["a", "a", "b"], "optim.lr": [1, 2, 2], "model.d": [4, 4, 8]}
    kept, stands = distinct_axes(cols)
    assert kept == ["model.name", "optim.lr"]  # a .name key stands for its group
    assert stands["model.name"] == ["task.p", "model.d"] and stands["optim.lr"] == []


@pytest.fixture(scope="module")
def unrelated(tiny_run, other_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("unrelated")
    for r in (tiny_run, other_run):
        shutil.copytree(r.path, root / r.path.name)
    gs.run({"preset": "quick", "task": {"p": 13}, "model": {"d_hidden": 16}, "train": {"steps": 60},
            "eval": {"points": 15}, "checkpoint": {"count": 2}, "members": {"seeds": [0]}}, out=root, device="cpu")
    return root


@pytest.mark.slow
def test_report_on_unrelated_runs_draws_only_axes_that_matter(capsys, unrelated):
    from grokscope.report.html import write_report

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a tight-layout (or any) warning fails the test
        html = write_report(unrelated).read_text()
    figs = sorted(p.name for p in (unrelated / "report").glob("tgrok_vs_*.png"))
    assert figs == ["tgrok_vs_lr.png", "tgrok_vs_model_name.png"], figs  # not points, count, p, frac, ...
    assert "not axes (measurement and storage settings)" in html and "stands for" in html


def test_runs_on_unrelated_runs_picks_readable_columns(capsys, unrelated, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    res = cli(capsys, "runs", unrelated)
    assert res.code == 0, res.err
    header = next(line for line in res.out.splitlines() if "run_id" in line)
    assert "lr" in header and "points" not in header and "d_hidden" not in header
    assert "varying together" in res.err and "d_hidden" in res.err


def test_too_many_differing_keys_make_each_run_a_cell():
    from types import SimpleNamespace

    import pandas as pd

    from grokscope.report.cells import RUN_AXIS, config_axes

    keys = [f"optim.k{i}" for i in range(MAX_AXES + 2)]
    n = len(keys) + 1  # key i singles out row i: every key groups the rows differently
    df = pd.DataFrame({k: [int(j == i) for j in range(n)] for i, k in enumerate(keys)} | {"run_id": list("abcdefgh"[:n])})
    cat = SimpleNamespace(member_keys=keys, names={})
    axes, notes = config_axes(cat, df)
    assert axes == [RUN_AXIS] and "each run is its own cell" in notes[-1]
