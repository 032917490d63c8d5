"""grokscope compare: an overlay figure and a side-by-side table of events and final metrics."""

from __future__ import annotations

import json

from tests.hardening.cli_inproc import cli


def test_compare_json_table_matches_each_runs_events(capsys, tiny_run, other_run, tmp_path):
    out = tmp_path / "cmp.svg"
    res = cli(capsys, "compare", tiny_run.path, other_run.path, "--metric", "test/acc", "--metric", "norm/total",
              "--out", out, "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert out.read_bytes().startswith(b"<?xml")
    assert [r["path"] for r in doc["runs"]] == [str(tiny_run.path), str(other_run.path)]
    for row, run in zip(doc["runs"], (tiny_run, other_run)):
        ev = run.events
        assert row["members"] == len(ev) and row["grokked"] == sum(e["t_grok"] is not None for e in ev)
        df = run.metrics()
        last = df[(df.metric == "norm/total") & (df.step == df.step.max())]["value"]
        assert row["final"]["norm/total"] == float(last.median())


def test_compare_table_and_same_run_twice(capsys, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    res = cli(capsys, "compare", tiny_run.path, tiny_run.path, "--out", tmp_path / "c.png")
    assert res.code == 0, res.err
    assert f"1: {tiny_run.path.name}" in res.out and "median T_grok" in res.out
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_compare_mistakes_are_one_line(capsys, tiny_run, tmp_path):
    for args, word in (([tiny_run.path], "two or more"), ([tiny_run.path, tiny_run.path, "--metric", "tes/acc"],
                                                            "test/acc")):
        res = cli(capsys, "compare", *args, "--out", tmp_path / "c.png")
        assert res.code == 2 and len(res.err.strip().splitlines()) == 1 and word in res.err, res.err
