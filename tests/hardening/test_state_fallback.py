"""A damaged state.pt falls back to the resume state before it (state.prev.pt), bit-identically (issue 11)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import grokscope as gs
from grokscope.api import Run
from grokscope.store.integrity import sidecar

# groks in a few hundred steps; a resume state at every eval (flush_seconds ~0)
TINY = {"preset": "gromov", "name": "tiny", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
        "optim": {"lr": 2e-2}, "train": {"steps": 300}, "eval": {"points": 60},
        "checkpoint": {"count": 3, "flush_seconds": 0.01}, "members": {"seeds": [0]}}


class Interrupt(Exception):
    pass


def interrupted(out, after_evals: int) -> Run:
    seen = []

    def stop(step, values):
        seen.append(step)
        if len(seen) >= after_evals:
            raise Interrupt

    with pytest.raises(Interrupt):
        gs.run(TINY, out=out, device="cpu", on_eval=stop)
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return Run(path)


def long_metrics(r: Run) -> pd.DataFrame:
    return r.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)


def _flip(path, at: float = 0.5) -> None:
    b = bytearray(path.read_bytes())
    b[int(len(b) * at)] ^= 0xFF
    path.write_bytes(b)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(long_metrics(a), long_metrics(b), check_exact=True)
    wa = a.load_checkpoint(a.checkpoint_steps()[-1])["params"]
    wb = b.load_checkpoint(b.checkpoint_steps()[-1])["params"]
    assert all(torch.equal(wa[n], wb[n]) for n in wa)


def test_each_state_write_keeps_the_one_before(tmp_path):
    r = interrupted(tmp_path, after_evals=30)
    cur, prev = r.dir.state_files
    assert cur.exists() and prev.exists() and sidecar(prev).exists()
    from grokscope.store import checkpoint

    assert checkpoint.load(prev)["step"] < checkpoint.load(cur)["step"]


def test_damaged_state_resumes_from_the_previous_one(tmp_path, capfd):
    ref = gs.run(TINY, out=tmp_path / "ref", device="cpu")
    r = interrupted(tmp_path / "cut", after_evals=30)
    _flip(r.dir.state_files[0])
    got = gs.resume(r.path, device="cpu")
    assert "state.pt is damaged" in capfd.readouterr().err
    _same(got, ref)
    assert not any(f.exists() for f in got.dir.state_files), "a complete run keeps no resume state"


def test_kill_between_the_rotation_renames_still_resumes(tmp_path):
    """state.pt gone, state.prev.pt (with its sidecar) in place: the state a kill mid-rotation leaves."""
    import os

    ref = gs.run(TINY, out=tmp_path / "ref", device="cpu")
    r = interrupted(tmp_path / "cut", after_evals=30)
    cur, prev = r.dir.state_files
    os.replace(sidecar(cur), sidecar(prev))
    os.replace(cur, prev)
    _same(gs.resume(r.path, device="cpu"), ref)


def test_both_states_damaged_is_reported(tmp_path):
    from grokscope.errors import UserError

    r = interrupted(tmp_path, after_evals=30)
    for f in r.dir.state_files:
        _flip(f)
    before = sorted(p.name for p in r.path.iterdir())
    with pytest.raises(UserError, match="no good resume state"):
        gs.resume(r.path, device="cpu")
    assert sorted(p.name for p in r.path.iterdir()) == before
