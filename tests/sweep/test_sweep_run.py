"""Running sweeps: layout, skip on rerun, resume after a killed sweep, failure isolation, the lock, packing parity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sweep_helpers import tiny_spec

from grokscope import api
from grokscope.errors import UserError
from grokscope.sweep import load_spec, run_sweep
from grokscope.sweep.executors import read_run_files, write_run_files
from grokscope.sweep.runner import SweepLock
from grokscope.train.schedule import eval_steps

CLI = [sys.executable, "-m", "grokscope.cli"]


def _write_spec(path: Path, spec: dict) -> Path:
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def _cell_metrics(out: Path, run_id: str, member: int) -> pd.DataFrame:
    df = pq.read_table(out / "runs" / run_id / "metrics.parquet").to_pandas()
    df = df[df.member == member].drop(columns="member")
    return df.sort_values(["step", "metric"]).reset_index(drop=True)


def test_sweep_layout_then_rerun_skips(tmp_path):
    spec = tiny_spec(grid={"optim.wd": [0.5, 1.0], "task.p": [7, 11]})
    res = run_sweep(spec, out=tmp_path / "sw", workers=2)
    assert res.ok and res.runs_trained == 2 and res.runs_skipped == 0
    assert all(c.status == "done" for c in res.cells) and len(res.cells) == 8
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert doc["status"] == "complete" and doc["axes"]["task.p"] == [7, 11] and len(doc["cells"]) == 8
    for c in doc["cells"]:
        run = api.Run(tmp_path / "sw" / "runs" / c["run_id"])
        assert run.complete
        assert run.members[c["member"]]["seed"] == c["values"]["seed"]
        assert run.config.member_table()[c["member"]]["optim.wd"] == c["values"]["optim.wd"]
    assert (tmp_path / "sw" / "runs").is_dir() and not list((tmp_path / "sw" / "runs").glob(".*"))

    t0 = time.monotonic()
    again = run_sweep(spec, out=tmp_path / "sw", workers=2)
    assert time.monotonic() - t0 < 10
    assert again.ok and again.runs_trained == 0 and again.runs_skipped == 2
    assert all(c.status == "skipped" for c in again.cells)
    assert [(c.t_mem, c.t_grok) for c in again.cells] == [(c.t_mem, c.t_grok) for c in res.cells]

    with pytest.raises(UserError, match="holds a different sweep"):  # another expansion into the same directory
        run_sweep(spec, out=tmp_path / "sw", workers=1, pack=False)


def test_lock_refuses_a_second_sweep(tmp_path):
    out = tmp_path / "sw"
    out.mkdir()
    spec = _write_spec(tmp_path / "s.yaml", tiny_spec())
    with SweepLock(out):  # this test process is "the other sweep"
        with pytest.raises(UserError, match=rf"in use by another sweep process \(pid {os.getpid()}\)"):
            run_sweep(spec, out=out, workers=1)
        proc = subprocess.run([*CLI, "sweep", str(spec), "--out", str(out)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: ") and "in use by another sweep process" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not (out / "sweep.json").exists()  # refused before writing anything
    assert run_sweep(spec, out=out, workers=1).ok  # free again once the holder is gone


def test_failure_isolation_cli(tmp_path):
    spec = _write_spec(tmp_path / "fail.yaml", tiny_spec(
        grid={"optim.wd": [0.5, 1.0]},
        # an unknown weight group is only detected when the model is built, i.e. inside the worker
        arms={"ok": {}, "broken": {"intervene.rescale": {"step": 5, "factor": 2.0, "group": "nope"}}}))
    proc = subprocess.run([*CLI, "sweep", str(spec), "--workers", "2", "--out", str(tmp_path / "sw")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "4 of 8 cells failed" in proc.stderr
    assert "intervene.rescale.group: unknown group 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert doc["status"] == "failed" and len(doc["failed"]) == 4
    ok_runs = {c["run_id"] for c in doc["cells"] if c["values"]["arm"] == "ok"}
    assert ok_runs and all(api.Run(tmp_path / "sw" / "runs" / r).complete for r in ok_runs)


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_killed_sweep_resumes_without_duplicates(tmp_path):
    spec = _write_spec(tmp_path / "long.yaml", tiny_spec(
        base={"train": {"steps": 1000}, "eval": {"points": 50}, "checkpoint": {"count": 2, "flush_seconds": 0.2}},
        grid={"optim.wd": [0.5, 1.0]}, seeds=1, pack=False))
    out = tmp_path / "sw"
    cmd = [*CLI, "sweep", str(spec), "--workers", "2", "--out", str(out), "-q"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("runs/*/metrics/part-*.parquet")):  # training has written something
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        children = _children(first.pid)
        assert len(children) >= 2  # the pool workers
        os.kill(first.pid, signal.SIGKILL)  # the sweep process only: its workers notice and stop
    finally:
        first.kill()
        first.wait()
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children):  # no orphan keeps training (or holding a run lock)
        assert time.monotonic() < deadline, "worker processes outlived the killed sweep"
        time.sleep(0.1)
    interrupted = [p.parent.parent.name for p in out.glob("runs/*/metrics/part-*.parquet")]
    assert interrupted and not all(api.Run(out / "runs" / r).complete for r in interrupted)

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    plan = load_spec(spec)
    for run in plan.runs:
        r = api.Run(out / "runs" / run.run_id)
        assert r.complete
        df = pq.read_table(r.path / "metrics.parquet").to_pandas()
        assert not df.duplicated(["step", "member", "metric"]).any()
        assert sorted(df.step.unique()) == [int(s) for s in eval_steps(r.config.eval, r.config.train.steps)]
        assert not list(r.path.glob("metrics/part-*")) and not (r.path / "state.pt").exists()
    # an interrupted-then-resumed run equals an uninterrupted one
    name = interrupted[0]
    ref = api.run(api.Run(out / "runs" / name).config, out=tmp_path / "ref", threads=1)
    a = pq.read_table(out / "runs" / name / "metrics.parquet").to_pandas().sort_values(["step", "member", "metric"])
    b = ref.metrics().sort_values(["step", "member", "metric"])
    np.testing.assert_array_equal(a.value.to_numpy(), b.value.to_numpy())


def _train_plan(plan, out: Path) -> None:
    for run in plan.runs:
        api.run(run.config, out=out / "runs", threads=1)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_packed_equals_unpacked(tmp_path, dtype, tol):
    spec = tiny_spec(base={"train": {"dtype": dtype}},
                     zip={"optim.wd": [0.5, 2.0], "loss.tau": [1.0, 0.5]},
                     arms={"free": {}, "clamp": {"intervene.clamp.rho": 1.1, "intervene.clamp.w_c": 12.0}})
    packed, solo = load_spec(spec), load_spec(spec, pack=False)
    assert len(packed.runs) == 1 and len(solo.runs) == 8
    _train_plan(packed, tmp_path / "p")
    _train_plan(solo, tmp_path / "s")
    for cp, cs in zip(packed.cells, solo.cells, strict=True):
        assert cp.values == cs.values
        a = _cell_metrics(tmp_path / "p", packed.runs[cp.run].run_id, cp.member)
        b = _cell_metrics(tmp_path / "s", solo.runs[cs.run].run_id, cs.member)
        assert a[["step", "metric"]].equals(b[["step", "metric"]])
        np.testing.assert_allclose(a.value.to_numpy(), b.value.to_numpy(), rtol=tol, atol=tol)
        # same init and split seeds whichever way the cell was packed
        ma = api.Run(tmp_path / "p" / "runs" / packed.runs[cp.run].run_id).members[cp.member]
        mb = api.Run(tmp_path / "s" / "runs" / solo.runs[cs.run].run_id).members[cs.member]
        assert (ma["init_seed"], ma["split_seed"]) == (mb["init_seed"], mb["split_seed"])


def test_run_files_roundtrip(tmp_path):
    src = tmp_path / "a"
    (src / "ckpt").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "ckpt" / "x.pt").write_bytes(b"\x00\x01")
    (src / ".lock").write_text("")
    files = read_run_files(src)
    assert files == {"config.json": b"{}", "ckpt/x.pt": b"\x00\x01"}
    write_run_files(tmp_path / "runs", "r1", files)
    write_run_files(tmp_path / "runs", "r1", {"config.json": b"[]"})  # replaces the whole directory
    assert read_run_files(tmp_path / "runs" / "r1") == {"config.json": b"[]"}
    with pytest.raises(ValueError, match="refusing"):
        write_run_files(tmp_path / "runs", "r2", {"../evil": b""})
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r1"]
