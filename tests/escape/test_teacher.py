"""The linear-teacher regression task through the core: exact targets, the split, MSE events, bad spectra."""

from __future__ import annotations

import numpy as np
import pytest
from tests.hardening.cli_inproc import assert_one_line, cli

from grokscope.tasks.teacher import TeacherTask, build, teacher_matrices


def test_targets_are_exact_and_training_inputs_whitened():
    cfg = TeacherTask(d_in=6, d_out=5, spectrum=[2.0, 0.5], n_train=40, n_test=30, split_seed=3)
    data = build(cfg, [0, 1])
    assert data.kind == "regression" and data.x.shape == (2, 70, 6) and data.y.shape == (2, 70, 5)
    U, s, V = teacher_matrices(cfg)
    S = U @ np.diag(s) @ V.T  # [d_out, d_in]
    np.testing.assert_allclose(data.y[0], data.x[0] @ S.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(S, compute_uv=False)[:2], [2.0, 0.5], atol=1e-12)
    xt = data.x[0, :40]
    np.testing.assert_allclose(xt.T @ xt / 40, np.eye(6), atol=1e-10)
    assert data.train_idx[0].tolist() == list(range(40)) and data.test_idx[0].tolist() == list(range(40, 70))
    np.testing.assert_array_equal(data.x[0], data.x[1])  # a fixed split_seed: one sample for every member


def test_nuisance_coordinates_are_ignored_by_the_teacher():
    cfg = TeacherTask(d_in=3, d_out=2, n_train=5, n_test=5, whiten=False, nuisance_dims=7)
    data = build(cfg, [0])
    assert data.x.shape == (1, 10, 10)
    assert np.allclose(np.array(data.info["teacher_v"])[:, 3:], 0)


@pytest.mark.parametrize("spec,msg", [("[1.0, -0.5]", "must be finite and >= 0"),
                                      ("[1.0, 1.0, 1.0, 1.0, 1.0]", "rank cannot exceed")])
def test_bad_spectra_give_one_line_exit_2(capsys, tmp_path, spec, msg):
    o = cli(capsys, "run", "teacher-escape", "--set", f"task.spectrum={spec}", "--out", tmp_path, "--threads", "1")
    assert msg in assert_one_line(o)
    assert not any(tmp_path.iterdir())  # no half-written run


def test_regression_needs_mse_and_deeplinear(capsys, tmp_path):
    o = cli(capsys, "run", "teacher-escape", "--set", "loss.name=ce", "--out", tmp_path)
    assert "use loss.name=mse" in assert_one_line(o)


def test_mse_events_in_a_core_run(tmp_path):
    from grokscope import api

    r = api.run("teacher-escape", ["train.steps=150", "eval.points=20", "members.seeds=2", "model.width=2",
                                   "intervene.langevin_T=0.01", "train.stop_on_grok=null"],
                out=tmp_path, threads=1, quiet=True)
    df = r.metrics(wide=True)
    last = df[df.step == df.step.max()]
    np.testing.assert_allclose(last["test/acc"], 1 - last["test/err"])
    assert (df["mode/0"].abs() < 2).all()
    ev = r.events
    for m, e in enumerate(ev):
        d = df[df.member == m].sort_values("step")
        hit = d[d["test/err"] <= 1 - 0.75]  # grok_threshold 0.75 in the preset: test relative error <= 0.25
        assert e["t_grok"] == (int(hit.step.iloc[0]) if len(hit) else None)


def test_deeplinear_real_inputs_fast_path_equals_reference():
    import torch

    from grokscope.models import MODELS, TaskShape
    from grokscope.models.deeplinear import DeepLinearConfig

    model = MODELS.get("deeplinear")(DeepLinearConfig(depth=3, width=5), TaskShape(7, 3, 7, (), input_dim=7), 2,
                                     torch.float64)
    model.init_members([0, 1])
    x = torch.randn(2, 9, 7, dtype=torch.float64)
    cache: dict = {}
    ref = model(x, cache)
    W = model.P["layers.0.W"] @ model.P["layers.1.W"] @ model.P["layers.2.W"]
    torch.testing.assert_close(model(x), torch.bmm(x, W))
    torch.testing.assert_close(ref, torch.bmm(x, W))
    assert cache["hook_unembed_in"].shape == (2, 9, 5)
