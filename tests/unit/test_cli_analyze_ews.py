"""``analyze ews`` / ``analyze dmd`` on a tiny run that also carries the online ``ews`` probe (alarm events)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import grokscope as gs
from grokscope.cli import app

TINY = {"preset": "gromov", "name": "tiny", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
        "optim": {"lr": 2e-2}, "train": {"steps": 600}, "eval": {"grid": "linear", "every": 10,
                                                                   "probes": ["accuracy", "norms", "logits", "ews"]},
        "checkpoint": {"count": 10, "flush_seconds": 0.01}, "members": {"seeds": [0]}}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return gs.run(TINY, out=tmp_path_factory.mktemp("runs"), threads=1)


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_ews_probe_online_and_alarm_events(tiny_run):
    df = tiny_run.metrics(wide=True)
    assert "ews/ac1.norm.total" in df.columns and df["ews/ac1.norm.total"].notna().sum() > 20
    ev = tiny_run.events
    assert all("alarm/ews_norm.total" in e for e in ev)
    assert all(e["t_grok"] is not None for e in ev)  # the tiny config groks: a transition to warn about


def test_analyze_ews_json(tiny_run):
    r = _invoke("analyze", "ews", tiny_run.path, "--signal", "norm/total", "--json", "--surrogates", "10",
                "--sensitivity")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    m0 = doc["members"][0]
    assert m0["status"] == "ok" and m0["honest"]["grid"] == "linear"
    assert m0["honest"]["transition"] == m0["t_grok"]  # nothing past T_grok
    assert 0 < m0["honest"]["p_value"]["ac1"] <= 1 and m0["naive"]["detrend"] == "none"
    assert len(m0["sensitivity"]["tau"]) == 4


def test_analyze_dmd_from_checkpoints(tiny_run):
    r = _invoke("analyze", "dmd", tiny_run.path, "--json", "--member", "0")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["source"].startswith(f"computed from {len(tiny_run.checkpoint_steps())} checkpoints")
    m = doc["members"][0]
    assert len(m["residual"]) == len(m["steps"]) and m["score"]["max_residual"] >= 0


def test_bad_input_one_line(tiny_run):
    for args in (["--signal", "nope/x"], ["--signal", "norm/total", "--detrend", "loess"],
                 ["--signal", "norm/total", "--member", "7"]):
        r = _invoke("analyze", "ews", tiny_run.path, *args)
        assert r.exit_code != 0
        assert isinstance(r.exception, gs.UserError) and "\n" not in str(r.exception)
