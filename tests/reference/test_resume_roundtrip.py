"""Interrupted, then resumed (in process, possibly twice) equals uninterrupted, bit for bit, for the state that a
resume must carry: intervention state (T_mem seen, frozen norm), gradient-filter buffers, per-member Langevin noise
streams, minibatch order. The interruption is an ``on_eval`` callback raising, with every evaluation flushed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import grokscope as gs

TINY = {"name": "rt", "task": {"name": "modular", "op": "add", "p": 11, "frac": 0.5},
        "model": {"name": "mlp", "d_embed": 8, "d_hidden": 16, "act": "gelu"},
        "optim": {"lr": 2e-2, "wd": 1.0}, "train": {"steps": 120},
        "eval": {"grid": "linear", "every": 5}, "checkpoint": {"count": 4, "flush_seconds": 1e-6}}


class Interrupt(Exception):
    pass


def stop_at(step: int):
    def on_eval(t: int, values: dict) -> None:
        if t >= step:
            raise Interrupt(t)
    return on_eval


def metrics(run) -> pd.DataFrame:
    return run.metrics().sort_values(["step", "member", "metric"], kind="stable").reset_index(drop=True)


def run_interrupted(cfg: dict, out: Path, stops: list[int]):
    """Train, raising at the first evaluation at or after each of ``stops`` in turn, resuming after each."""
    with pytest.raises(Interrupt):
        gs.run(cfg, out=out, threads=1, on_eval=stop_at(stops[0]))
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    for s in [*stops[1:], None]:
        meta = json.loads((path / "meta.json").read_text())
        assert meta["status"] == "running" and 0 < meta["steps_done"] < cfg["train"]["steps"]
        if s is None:
            return gs.resume(path, threads=1)
        with pytest.raises(Interrupt):
            gs.resume(path, threads=1, on_eval=stop_at(s))


def assert_same_runs(a, b) -> None:
    assert a.complete and b.complete
    got, want = metrics(a), metrics(b)
    assert not got.duplicated(["step", "member", "metric"]).any()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert np.array_equal(got.value.to_numpy().view(np.uint64), want.value.to_numpy().view(np.uint64))
    assert a.events == b.events
    assert a.checkpoint_steps() == b.checkpoint_steps()
    assert len(a.checkpoint_steps()) >= 3, "the checkpoint schedule keeps more than the last step"
    last = a.checkpoint_steps()[-1]
    pa, pb = a.load_checkpoint(last)["params"], b.load_checkpoint(last)["params"]
    for name in pa:
        assert torch.equal(pa[name], pb[name]), name


def with_(**sections) -> dict:
    cfg = copy.deepcopy(TINY)
    for k, v in sections.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    return cfg


CASES = {
    "clamp-rescale-wd-off-freeze-at-t-mem": with_(
        intervene={"clamp": {"target": 4.0, "groups": ["hidden"], "from_step": 12}, "rescale": {"step": 8, "factor": 1.3},
                   "wd_off_at_t_mem": True, "freeze_norm_at_t_mem": True},
        optim={"lr": 3e-2}, eval={"mem_threshold": 0.9}, members={"seeds": 2}),
    "grokfast-ma-window-over-flushes": with_(optim={"lr": 2e-2, "wd": 1.0, "grokfast": {"kind": "ma", "window": 17}}),
    "langevin-several-members": with_(intervene={"langevin_T": 1e-5},
                                      members={"seeds": 1, "vary": {"intervene.langevin_T": [1e-6, 1e-5, 1e-4]}}),
    "minibatches": with_(train={"steps": 120, "batch_size": 16}, members={"seeds": 2}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_interrupted_then_resumed_equals_uninterrupted(name: str, tmp_path: Path) -> None:
    cfg = CASES[name]
    ref = gs.run(cfg, out=tmp_path / "ref", threads=1)
    t_mem = [e["t_mem"] for e in ref.events]
    if name.startswith("clamp"):
        assert all(t is not None and t < 80 for t in t_mem), f"the case needs T_mem before the 2nd stop: {t_mem}"
    got = run_interrupted(cfg, tmp_path / "got", stops=[23, 81])
    assert got.path.name == ref.path.name
    assert_same_runs(got, ref)


def test_resume_continues_the_run_and_does_not_restart(tmp_path: Path) -> None:
    """A resumed run computes only the evaluations after its state: the callback sees no step twice."""
    seen: list[int] = []

    def record_then_stop(t: int, values: dict) -> None:
        seen.append(t)
        if t == 30:
            raise Interrupt(t)

    with pytest.raises(Interrupt):
        gs.run(TINY, out=tmp_path, threads=1, on_eval=record_then_stop)
    (path,) = list(tmp_path.iterdir())
    # step 30 raised before its flush, so the resume state is step 25's (or, on a loaded machine where a state
    # write took over SLOW_STATE_SECONDS, an earlier one: recorder.py then spaces the writes out)
    state_step = torch.load(path / "state.pt", weights_only=False)["step"]
    assert 0 < state_step <= 25
    gs.resume(path, threads=1, on_eval=lambda t, v: seen.append(t))
    assert seen == [*range(0, 31, 5), *range(state_step + 5, 121, 5)]
