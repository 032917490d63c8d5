"""The ``norm-delay-law`` stages' sweep specs and fork placement, from synthetic earlier-stage results (no
training: the end-to-end runs are the `long` tests in tests/experiments/test_norm_delay_law.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import grokscope.experiments.norm_delay_law as ndl
from grokscope.errors import UserError
from grokscope.experiments import load_all
from grokscope.experiments.base import Context, StageResult
from grokscope.sweep import load_spec


def ctx_with_control(tmp_path: Path, t_mem: list[int], t_grok: list[int | None]) -> Context:
    exp = load_all().get("norm-delay-law")
    members = [{"path": str(tmp_path / "run"), "seed": s, "member": s, "t_mem": m, "t_grok": g,
                "censored": g is None, "run_id": "run", "values": {"seed": s}}
               for s, (m, g) in enumerate(zip(t_mem, t_grok, strict=True))]
    ctx = Context(exp, "quick", exp.params("quick"), tmp_path)
    ctx.stages["control"] = StageResult("control", tmp_path, members)
    return ctx


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setattr(ndl, "measure_wc", lambda ctx: (40.0, [39.0, 40.0, 41.0]))
    return ctx_with_control(tmp_path, [48] * 6, [800, 900, 1000, 1100, 1200, 1300])


def test_clamp_arms_hold_rho_times_wc_from_step_zero(ctx):
    spec = ndl.clamp_spec(ctx)
    assert list(spec["arms"]) == [f"rho{r:g}" for r in ctx.params["rhos"]]
    assert all(a["intervene.clamp.w_c"] == 40.0 and a["intervene.clamp.from_step"] == 0 for a in spec["arms"].values())
    plan = load_spec(spec)
    assert len(plan.cells) == 5 * 6


def test_matrix_has_no_lr_times_one_arms(ctx):
    spec = ndl.matrix_spec(ctx)
    lrs = {a["optim.lr"] for a in spec["arms"].values()}
    assert lrs == {ctx.params["lr"] * 0.5, ctx.params["lr"] * 2}
    assert len(load_spec(spec).cells) == 3 * 2 * 6


def test_rescale_once_at_the_median_t_mem(ctx):
    spec = ndl.rescale_spec(ctx)
    assert {a["intervene.rescale.step"] for a in spec["arms"].values()} == {48}
    assert sorted(a["intervene.rescale.to_norm"] for a in spec["arms"].values()) == [28.0, 40.0, 52.0]


class FakeRun:
    def __init__(self, path: Path, steps: list[int]) -> None:
        self.path = path
        self.steps = steps

    def checkpoint_steps(self) -> list[int]:
        return self.steps


def _saved(tmp_path: Path, steps: list[int], with_state: list[int], monkeypatch) -> None:
    (tmp_path / "run" / "ckpt").mkdir(parents=True)
    for s in with_state:
        (tmp_path / "run" / "ckpt" / f"state_{s:08d}.pt").write_bytes(b"")
    monkeypatch.setattr("grokscope.api.load_run", lambda path: FakeRun(tmp_path / "run", steps))


def test_fork_at_the_latest_saved_state_before_half_the_earliest_grok(ctx, tmp_path, monkeypatch):
    _saved(tmp_path, [10, 60, 200, 390, 700], [10, 60, 200, 390, 700], monkeypatch)
    assert ndl.fork_point(ctx) == (str(tmp_path / "run"), 390)  # <= 0.5 * 800, >= T_mem 48
    spec = ndl.fork_spec(ctx)
    assert spec["base"]["train"]["fork"] == {"run": str(tmp_path / "run"), "step": 390}
    arms = spec["arms"]
    assert arms["free"] == {} and arms["same"]["intervene.clamp.relative"] == 1.0
    assert arms["raised"]["intervene.clamp.relative"] == 1.15 and arms["lowered"]["intervene.clamp.from_step"] == 390


def test_no_fork_without_a_saved_state_between_t_mem_and_t_grok(ctx, tmp_path, monkeypatch):
    _saved(tmp_path, [10, 30, 900], [10, 30, 900], monkeypatch)
    with pytest.raises(UserError, match="no saved control state between"):
        ndl.fork_point(ctx)


def test_no_fork_when_a_control_member_never_grokked(tmp_path, monkeypatch):
    c = ctx_with_control(tmp_path, [48, 48], [800, None])
    with pytest.raises(UserError, match="every control member must memorise and grok"):
        ndl.fork_point(c)
