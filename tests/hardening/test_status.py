"""Run status (issue 11): SIGTERM/SIGINT mark a run interrupted and say how to resume; a non-finite training loss
fails it with a one-line reason; identical runs racing for one directory get the lock message."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

import grokscope as gs
from grokscope.errors import UserError
from grokscope.train.status import RunInterrupted

from .conftest import TINY


def _status(run: Path) -> str:
    return json.loads((run / "meta.json").read_text())["status"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_marks_interrupted_then_resume_completes(sig, tmp_path):
    seen = []

    def on_eval(step, values):
        seen.append(step)
        if len(seen) == 3:
            os.kill(os.getpid(), sig)

    with pytest.raises(RunInterrupted) as e:
        gs.run("quick", overrides=TINY, out=tmp_path, threads=1, on_eval=on_eval)
    run = e.value.path
    assert _status(run) == "interrupted"
    assert f"grokscope resume {run}" in e.value.resume_hint()
    assert signal.getsignal(signal.SIGTERM) is not None  # handlers restored (no exception on the next signal)
    r = gs.resume(run, threads=1)
    assert r.status == "complete"


def test_non_finite_loss_fails_the_run(tmp_path):
    with pytest.raises(UserError, match=r"failed: train/loss is (nan|inf) at step \d+"):
        gs.run("quick", overrides=[*TINY, "optim.name=sgd", "optim.lr=1e30"], out=tmp_path, threads=1)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "failed" and "train/loss" in meta["reason"]


def test_identical_run_racing_gets_the_lock_message(tmp_path, monkeypatch):
    """Another process renamed an identical run into place first: the lock message, not OSError."""
    import grokscope.api as api

    real = api.os.rename

    def racing_rename(src, dst):
        Path(dst).mkdir()
        (Path(dst) / "config.json").write_text("{}")
        (Path(dst) / "x").write_text("")  # non-empty: os.rename fails like the real race
        return real(src, dst)

    monkeypatch.setattr(api.os, "rename", racing_rename)
    with pytest.raises(UserError, match="being written by another process"):
        gs.run("quick", overrides=TINY, out=tmp_path, threads=1)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp dir left behind"
