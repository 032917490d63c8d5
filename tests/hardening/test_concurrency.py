"""Concurrent writers and readers (issue 11): 20 identical `run`s started together, and 20 `runs` / `query` calls
while a sweep's runs compact their metrics. Zero crashes is the figure the README quotes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from .cli_inproc import cli

RUN = [sys.executable, "-c", "from grokscope.cli import main; main()"]
TINY = ["--set", "train.steps=40", "--set", "task.p=11", "--set", "model.d_hidden=16", "--set", "members.seeds=1"]


@pytest.mark.parametrize("n", [pytest.param(4, marks=pytest.mark.slow), pytest.param(20, marks=pytest.mark.long)])
def test_identical_runs_started_together(tmp_path, n):
    """4 in the default suite (~10 s; the hardening acceptance check starts 6); the README's figure is the 20 of
    ``pytest --run-long``."""
    out = tmp_path / "runs"
    procs = [subprocess.Popen([*RUN, "run", "quick", *TINY, "--out", str(out), "--threads", "1", "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    crashes = [err for code, _, err in results if "Traceback" in err or code not in (0, 2)]
    assert not crashes, f"{len(crashes)} of {n} crashed; first: {crashes[0][-600:]}"
    for code, _, err in results:
        if code == 2:  # lost the race: the lock message, one line
            lines = [x for x in err.splitlines() if x.strip()]
            assert len(lines) == 1 and "being written by another process" in lines[0], err
    assert sum(code == 0 for code, _, _ in results) >= 1
    (run,) = [p for p in out.iterdir() if p.is_dir()]  # one run directory, no leftovers
    assert json.loads((run / "meta.json").read_text())["status"] == "complete"
    assert not list(out.glob(".*")), "a temp directory was left in --out"


@pytest.mark.slow
def test_twenty_catalog_calls_during_a_compacting_sweep(tmp_path, capsys):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"name": "c", "preset": "quick", "seeds": 1, "grid": {"optim.wd": [0.5, 1.0, 1.5]},
                                "base": {"train": {"steps": 60}, "task": {"p": 11}, "model": {"d_hidden": 16},
                                         "checkpoint": {"flush_seconds": 0.01}}}))
    out = tmp_path / "sw"
    sweep = subprocess.Popen([*RUN, "sweep", str(spec), "--out", str(out), "--no-pack", "--workers", "1", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "runs").is_dir() and time.monotonic() < deadline:
            time.sleep(0.05)
        outcomes, during = [], 0
        for i in range(20):  # alternate the two readers while runs finish (and compact) under them
            args = ("runs", out, "--json") if i % 2 else ("query", "select count(*) from metrics", "--root", out)
            outcomes.append(cli(capsys, *args))
            during += sweep.poll() is None
        assert sweep.wait(timeout=300) == 0, sweep.stderr.read()[-600:]
    finally:
        sweep.kill()
    assert during >= 10, f"only {during} of the 20 calls overlapped the sweep: the test must race it"
    bad = [o for o in outcomes if o.code != 0 or "Traceback" in o.err]
    assert not bad, f"{len(bad)} of 20 calls failed; first: exit {bad[0].code}: {bad[0].err[-600:]}"
