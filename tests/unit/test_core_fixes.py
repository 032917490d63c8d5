"""Regression tests for the fixes of the core v2 review (each failed on the core before it)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
import torch

import grokscope as gs
from grokscope.api import Run
from grokscope.errors import UserError
from grokscope.store import checkpoint
from grokscope.train.recorder import Recorder
from grokscope.train.setup import build

CPU = torch.device("cpu")
# groks in a few hundred steps, a few seconds at 1 thread
TINY = {"preset": "gromov", "name": "tiny", "task": {"p": 23, "frac": 0.5}, "model": {"d_hidden": 64},
        "optim": {"lr": 2e-2}, "train": {"steps": 1500}, "eval": {"points": 60},
        "checkpoint": {"count": 3, "flush_seconds": 0.01}, "members": {"seeds": [0]}}


def cfg(**sections) -> dict:
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    for k, v in sections.items():
        d[k] = {**d.get(k, {}), **v} if isinstance(v, dict) else v
    return d


class Interrupt(Exception):
    pass


def interrupted(d: dict, out, after_evals: int) -> Run:
    """Start a run and stop it (an exception from on_eval) after ``after_evals`` evaluations."""
    seen = []

    def stop(step, values):
        seen.append(step)
        if len(seen) >= after_evals:
            raise Interrupt

    with pytest.raises(Interrupt):
        gs.run(d, out=out, device="cpu", on_eval=stop)
    (path,) = [p for p in out.iterdir() if p.is_dir()]
    return Run(path)


def long_metrics(r: Run) -> pd.DataFrame:
    return r.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)


def test_per_member_clamp_without_a_base_clamp(tmp_path):
    d = cfg(train={"steps": 30}, members={"seeds": [0], "vary": {"intervene.clamp.target": [5.0, 8.0]}})
    m = gs.run(d, out=tmp_path, device="cpu").metrics(wide=True)
    last = m[m.step == m.step.max()].sort_values("member")["norm/total"].round(6).tolist()
    assert last == [5.0, 8.0]


def test_stop_on_grok_does_not_depend_on_packing(tmp_path):
    alone = gs.run(cfg(train={"stop_on_grok": 1.2}), out=tmp_path / "a", device="cpu")
    packed = gs.run(cfg(train={"stop_on_grok": 1.2}, members={"seeds": [0], "vary": {"optim.wd": [1.0, 0.05]}}),
                    out=tmp_path / "b", device="cpu")
    a, b = long_metrics(alone), long_metrics(packed)
    a0, b0 = a[a.member == 0].reset_index(drop=True), b[b.member == 0].reset_index(drop=True)
    assert alone.events[0]["t_grok"] is not None, "the tiny config must grok for this test to mean anything"
    assert a0.step.max() < 1500, "member 0 must stop before the budget"
    pd.testing.assert_frame_equal(a0, b0, check_exact=True)  # same rows, same values, same last step
    ea, eb = alone.events[0], packed.events[0]
    assert ea == eb
    at = a0[a0.step == ea["t_grok"]]  # the snapshot at T_grok is every metric of that evaluation
    assert ea["at_grok"] == dict(zip(at.metric, at.value)) and ea["at_grok"]["test/acc"] >= 0.9
    assert b[b.member == 1].step.max() != a0.step.max()  # the other arm ran on by its own rule
    # a stopped member's weights stay as they were at its stop while its packed neighbour trains on
    wa = alone.load_checkpoint(alone.checkpoint_steps()[-1])["params"]
    wb = packed.load_checkpoint(packed.checkpoint_steps()[-1])["params"]
    assert packed.checkpoint_steps()[-1] > alone.checkpoint_steps()[-1]
    for name, w in wa.items():
        assert torch.equal(wb[name][0], w[0]), name


def test_resume_after_one_member_stopped_equals_uninterrupted(tmp_path):
    d = cfg(train={"stop_on_grok": 1.2}, members={"seeds": [0], "vary": {"optim.wd": [1.0, 0.05]}})
    ref = gs.run(d, out=tmp_path / "ref", device="cpu")
    stop0 = ref.events[0]["budget"]
    assert stop0 < ref.events[1]["budget"], "member 0 must stop before member 1 for this test"

    def cut(step, values):
        if step > stop0 * 1.3:  # member 0 stopped; member 1 still training
            raise Interrupt

    with pytest.raises(Interrupt):
        gs.run(d, out=tmp_path / "cut", device="cpu", on_eval=cut)
    (path,) = [p for p in (tmp_path / "cut").iterdir() if p.is_dir()]
    got = gs.resume(path, device="cpu")
    pd.testing.assert_frame_equal(long_metrics(got), long_metrics(ref), check_exact=True)
    wa = got.load_checkpoint(got.checkpoint_steps()[-1])["params"]
    wb = ref.load_checkpoint(ref.checkpoint_steps()[-1])["params"]
    assert all(torch.equal(wa[n], wb[n]) for n in wa)


def test_resume_state_is_loaded_on_the_cpu(tmp_path, monkeypatch):
    r = interrupted(cfg(), tmp_path, after_evals=20)
    assert (r.path / "state.pt").exists()
    seen = []
    real = checkpoint.load

    def spy(path, map_location="cpu"):
        seen.append(str(map_location))
        return real(path, map_location)

    monkeypatch.setattr(checkpoint, "load", spy)
    gs.resume(r.path, device="cpu")
    assert seen and set(seen) == {"cpu"}


def test_resume_uses_the_runs_threads_and_restores_torch_threads(tmp_path):
    before = torch.get_num_threads()
    threads_seen = []
    r = interrupted(cfg(), tmp_path, after_evals=10)
    assert torch.get_num_threads() == before  # an exception inside the run restores them too
    r.dir.update_meta(threads=2)  # as if the run had been started with --threads 2
    gs.resume(r.path, device="cpu", on_eval=lambda s, v: threads_seen.append(torch.get_num_threads()))
    assert threads_seen and set(threads_seen) == {2}
    assert torch.get_num_threads() == before


def test_api_run_has_no_global_thread_side_effect(tmp_path):
    before = torch.get_num_threads()
    inside = []
    gs.run(cfg(train={"steps": 5}), out=tmp_path, device="cpu", threads=2,
           on_eval=lambda s, v: inside.append(torch.get_num_threads()))
    assert set(inside) == {2} and torch.get_num_threads() == before


def test_label_noise_on_a_zero_excluded_task_never_gives_class_0():
    d = {"task": {"name": "modular", "op": "mul", "p": 13, "exclude_zero": True, "frac": 0.5},
         "model": {"name": "mlp", "d_embed": 8, "d_hidden": 8}, "intervene": {"label_noise": 0.9},
         "members": {"seeds": 3}}
    s = build(gs.load_config(d), CPU)
    clean = s.y_all.gather(1, s.train_idx)
    assert (s.y_train != clean).float().mean() > 0.85
    assert int(s.y_train.min()) >= 1 and int(s.y_train.max()) <= 12


def test_resume_state_writes_are_throttled_by_their_cost(tmp_path, monkeypatch):
    """A resume state that takes long to write (a Grokfast MA window) is rewritten less often; chunks still go."""
    from grokscope.store.run_dir import RunDir

    rd = RunDir(tmp_path)
    rd.write_json("meta.json", {"status": "running"})
    writes = []

    def slow_save(path, obj):
        writes.append(path.name)
        if path.name == "state.pt":
            time.sleep(0.15)  # a large state: the next one is due only after 20 x 0.15 s
    monkeypatch.setattr(checkpoint, "save", slow_save)
    rec = Recorder(1, rd, flush_seconds=0.0)
    for t in range(5):
        rec.record(t, {"train/acc": [0.5]}, [True])
        rec.flush(t, lambda t=t: {"step": t}, None, done=False)
    assert writes == ["state.pt"]  # once, then throttled
    assert len(rd.part_files()) == 5


def test_offline_results_are_read_with_the_metrics_and_never_rewritten(tmp_path):
    r = gs.run(cfg(train={"steps": 20}), out=tmp_path, device="cpu")
    steps = r.checkpoint_steps()
    rows = {"step": steps, "member": [0] * len(steps), "metric": ["fourier/gini"] * len(steps),
            "value": [0.1 * i for i in range(len(steps))]}
    r.write_offline("fourier", rows)
    wide = r.metrics(wide=True)
    got = wide.dropna(subset=["fourier/gini"]).sort_values("step")
    assert got.step.tolist() == steps and np.allclose(got["fourier/gini"], rows["value"])
    with pytest.raises(UserError, match="never rewritten"):
        r.write_offline("fourier", rows)
    with pytest.raises(UserError, match="name"):
        r.write_offline("../escape", rows)


def test_run_model_and_data_rebuild_a_stored_run(tmp_path):
    r = gs.run(cfg(train={"steps": 20}), out=tmp_path, device="cpu")
    last = r.checkpoint_steps()[-1]
    model, data = r.model(last), r.data()
    z = model(torch.as_tensor(data.x)[None]).detach()
    acc = (z[0, data.test_idx[0]].argmax(-1) == torch.as_tensor(data.y)[data.test_idx[0]]).double().mean()
    want = r.metrics(wide=True).query(f"step == {last}")["test/acc"].iloc[0]
    assert math.isclose(float(acc), want, rel_tol=0, abs_tol=1e-12)
    with pytest.raises(UserError, match="no checkpoint at step"):
        r.model(last + 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    d = cfg(intervene={"langevin_T": 1e-6})
    ref = gs.run(d, out=tmp_path / "ref", device="cuda")
    r = interrupted(d, tmp_path / "cut", after_evals=15)
    gs.resume(r.path, device="cuda")
    pd.testing.assert_frame_equal(long_metrics(Run(r.path)), long_metrics(ref), check_exact=True)
