"""Durability end to end: a run killed with a real SIGKILL and resumed equals an uninterrupted run, bit for bit;
a run being written cannot be written by a second process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import grokscope

from .helpers import TINY, assert_one_line_error, ok, popen, run_dirs, wait_for
from .helpers import grokscope as grokscope_cli

STEPS = 1000
ARGS = ("run", "quick", "--threads", "1", "-q", *TINY, "--set", f"train.steps={STEPS}",
        "--set", "train.stop_on_grok=null", "--set", "checkpoint.flush_seconds=0.2")


def _parts(run: Path) -> list[Path]:
    return sorted((run / "metrics").glob("part-*.parquet"))


def _meta(run: Path) -> dict:
    return json.loads((run / "meta.json").read_text())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory):
    """The same config run without interruption; started in the background, ``baseline()`` waits for it."""
    tmp = tmp_path_factory.mktemp("baseline")
    proc = popen(*ARGS, "--out", tmp / "out", log_dir=tmp)

    def finished() -> Path:
        rc = proc.wait(timeout=600)
        assert rc == 0, (tmp / "stderr.txt").read_text()
        (run,) = run_dirs(tmp / "out")
        return run

    yield finished
    _stop(proc)


def _metrics(run: Path) -> pd.DataFrame:
    df = grokscope.load_run(run).metrics()
    return df.sort_values(["step", "member", "metric"], kind="stable").reset_index(drop=True)


def _start_and_wait(out: Path, log_dir: Path, moment: str) -> tuple[subprocess.Popen, Path]:
    """Start the run and return once it reached ``moment`` (the process is still running)."""
    proc = popen(*ARGS, "--out", out, log_dir=log_dir)
    try:
        run = wait_for(lambda: next(iter(run_dirs(out)), None), proc, what="the run directory")
        if moment == "first-part":
            wait_for(lambda: _parts(run), proc, what="the first metrics chunk")
        else:
            wait_for(lambda: len(_parts(run)) >= 2 and _meta(run)["steps_done"] >= STEPS // 3, proc,
                     timeout=300, what=f"2 metrics chunks and step {STEPS // 3}")
    except BaseException:
        _stop(proc)
        raise
    return proc, run


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["first-part", "mid-run"])
def test_kill_9_then_resume_equals_an_uninterrupted_run(moment: str, baseline, tmp_path: Path) -> None:
    proc, run = _start_and_wait(tmp_path / "out", tmp_path / "log", moment)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # a real kill -9: no handler, no cleanup
        assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    finally:
        _stop(proc)
    meta = _meta(run)
    assert meta["status"] == "running"
    assert meta["steps_done"] < STEPS
    assert _parts(run), "the killed run kept its metrics chunks"

    ok(grokscope_cli("resume", run, "--threads", "1", "-q", timeout=600))

    ref = baseline()
    assert ref.name == run.name  # same config, same run id
    for r in (run, ref):
        m = _meta(r)
        assert m["status"] == "complete" and m["steps_done"] == STEPS, m
        assert not (r / "state.pt").exists() and not _parts(r)

    got, want = _metrics(run), _metrics(ref)
    assert not got.duplicated(["step", "member", "metric"]).any(), "duplicate metric rows after resume"
    assert not want.duplicated(["step", "member", "metric"]).any()
    assert got.step.max() == STEPS
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert np.array_equal(got.value.to_numpy().view(np.uint64), want.value.to_numpy().view(np.uint64)), \
        "metric values differ in their bits"

    assert json.loads((run / "events.json").read_text()) == json.loads((ref / "events.json").read_text())

    # the weights at the end agree too
    a, b = grokscope.load_run(run), grokscope.load_run(ref)
    assert a.checkpoint_steps() == b.checkpoint_steps()
    pa, pb = a.load_checkpoint(STEPS)["params"], b.load_checkpoint(STEPS)["params"]
    assert pa.keys() == pb.keys()
    for name in pa:
        assert torch.equal(pa[name], pb[name]), name


def _files(run: Path) -> dict[str, bytes]:
    files = [*_parts(run), run / "meta.json", run / "config.json", run / "members.json"]
    return {f.name: f.read_bytes() for f in files}


def test_a_run_being_written_cannot_be_written_by_a_second_process(tmp_path: Path) -> None:
    proc, run = _start_and_wait(tmp_path / "out", tmp_path / "log", "first-part")
    try:
        # freeze the writer: it keeps its lock and stays "running" however slow the second process is
        os.kill(proc.pid, signal.SIGSTOP)
        before = _files(run)
        p = grokscope_cli("resume", run, "--threads", "1", "-q", timeout=120)
        assert_one_line_error(p, "being written by another process")
        p = grokscope_cli(*ARGS, "--out", tmp_path / "out", timeout=120)  # the same command again
        assert_one_line_error(p, "being written by another process")
        assert _files(run) == before, "the refused process touched the run"
        assert run_dirs(tmp_path / "out") == [run]
    finally:
        _stop(proc)
