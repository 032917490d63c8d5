"""Phases: a two-phase run equals two chained runs on the shared steps; replay fractions are exact; a resume
across the phase boundary is bit-identical; the run id of a config without phases/rules is unchanged."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from grokscope.config import load_config
from grokscope.errors import UserError
from grokscope.tasks.modular import operate
from grokscope.train.loop import load_state_dict, state_dict, train
from grokscope.train.recorder import Recorder
from grokscope.train.setup import build

P, AT, STEPS = 11, 30, 60
BASE = {"name": "ph", "task": {"name": "modular", "op": "add", "p": P, "frac": 0.5, "layout": "ab"},
        "model": {"name": "onehot_mlp", "d_hidden": 16, "act": "relu", "init": "torch"},
        "optim": {"lr": 1e-2, "wd": 1.0}, "train": {"steps": STEPS, "batch_size": 16},
        "eval": {"grid": "linear", "every": 10, "probes": ["accuracy"]}, "members": {"seeds": 2},
        "checkpoint": {"count": 0}}
PHASE = {"at": AT, "task": {"op": "mul"}, "optim": {"lr": 5e-3, "wd": 0.0}}


def _cfg(**extra):
    return load_config({**BASE, **extra})


def _train(cfg, state=None, start=0):
    s = build(cfg, torch.device("cpu"))
    rec = Recorder(s.M)
    if state is not None:
        start = load_state_dict(s, state)
        rec.record(start, {}, [True] * s.M, rows=False)  # the eval at `start` belongs to the earlier run
    train(s, rec, start=start)
    return s, rec


def _rows(rec, metric, lo, hi):
    steps = np.array(rec.steps)
    keep = (steps >= lo) & (steps <= hi)
    return steps[keep], rec.array(metric)[keep]


def test_two_phase_run_equals_two_chained_runs() -> None:
    s2, rec2 = _train(_cfg(phases=[PHASE]))
    sa, reca = _train(_cfg(train={**BASE["train"], "steps": AT}))
    chained = _cfg(task={**BASE["task"], "op": "mul"}, optim={"lr": 5e-3, "wd": 0.0})
    sb, recb = _train(chained, state=copy.deepcopy(state_dict(sa, AT)))
    for metric in ("train/acc", "test/acc", "test/loss", "train/loss"):
        st, v = _rows(rec2, metric, 0, AT)
        assert np.array_equal(v, _rows(reca, metric, 0, AT)[1]), metric
        st, v = _rows(rec2, metric, AT + 1, STEPS)
        assert st.size == 3 and np.array_equal(v, _rows(recb, metric, AT + 1, STEPS)[1]), metric
    for n, p in s2.params.items():
        assert torch.equal(p, sb.params[n]), n
    # per-task metrics: the current task's copy, the other task measured
    assert np.array_equal(rec2.array("task/mul/test/acc")[-1], rec2.array("test/acc")[-1])
    assert np.array_equal(rec2.array("task/add/test/acc")[3], rec2.array("test/acc")[3])  # step 30: add phase
    assert not np.array_equal(rec2.array("task/add/test/acc")[-1], rec2.array("test/acc")[-1])


def test_resume_across_the_phase_boundary_is_bit_identical() -> None:
    cfg = _cfg(phases=[{**PHASE, "replay": {"fraction": 0.25, "source": "add"}}])
    s_full, _ = _train(cfg)
    s = build(cfg, torch.device("cpu"))
    rec = Recorder(s.M)
    cut = {}
    train(s, rec, on_eval=lambda t, v: cut.setdefault(t, copy.deepcopy(state_dict(s, t))) if t == 20 else None)
    s_res, _ = _train(cfg, state=cut[20])
    for n, p in s_full.params.items():
        assert torch.equal(p, s_res.params[n]), n


def test_replay_fraction_is_exact() -> None:
    cfg = _cfg(phases=[{**PHASE, "replay": {"fraction": 0.3, "source": "add"}}])
    s = build(cfg, torch.device("cpu"))
    s.phases.ensure(s, AT, for_update=True)
    B, k = 16, round(0.3 * 16)
    for t in (AT, AT + 7):
        xb, yb = s.phases.batch(s, t)
        a, b = xb[..., 0].numpy(), xb[..., 1].numpy()
        mul, add = operate("mul", a, b, P), operate("add", a, b, P)
        assert (yb[:, :B - k].numpy() == mul[:, :B - k]).all()
        assert (yb[:, B - k:].numpy() == add[:, B - k:]).all()
        tail = {tuple(r) for r in xb[0, B - k:].tolist()}
        train_add = {tuple(r) for r in s.phases.list[0].x_train[0].tolist()}
        assert len(tail) == k and tail <= train_add  # k distinct training examples of the add task
    s.phases.set_replay(1, 0.5, "add")
    xb, yb = s.phases.batch(s, AT)
    a, b = xb[1, :, 0].numpy(), xb[1, :, 1].numpy()
    assert (yb[1, 8:].numpy() == operate("add", a, b, P)[8:]).all()


def test_config_errors_and_unchanged_run_id() -> None:
    plain = _cfg()
    assert plain.run_id() == load_config({**BASE, "phases": [], "intervene": {"on_alarm": []}}).run_id()
    assert plain.run_id() != _cfg(phases=[PHASE]).run_id()
    with pytest.raises(UserError, match="increasing order"):
        _cfg(phases=[PHASE, {**PHASE, "at": 10}])
    with pytest.raises(UserError, match="not before train.steps"):
        _cfg(phases=[{**PHASE, "at": STEPS}])
    with pytest.raises(ValueError, match="not an earlier phase"):
        build(_cfg(phases=[{**PHASE, "replay": {"fraction": 0.2, "source": "sub"}}]), torch.device("cpu"))
    with pytest.raises(ValueError, match="other shapes"):
        build(_cfg(phases=[{**PHASE, "task": {"op": "mul", "p": 13}}]), torch.device("cpu"))
