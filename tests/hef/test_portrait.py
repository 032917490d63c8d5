"""The two-field portrait on a planted trajectory, the probe's update-energy kernel, and `analyze portrait` errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.hardening.cli_inproc import cli

from grokscope.hef import kink
from grokscope.hef.portrait import balance_point, member_portrait
from grokscope.probes.two_field import TwoField, cumulative_energy


def test_cumulative_energy_is_exact_for_equal_updates_and_a_lower_bound_otherwise() -> None:
    rng = np.random.default_rng(0)
    steps = rng.standard_normal((10, 2, 5))  # 10 updates, 2 members, 5 parameters
    theta = torch.as_tensor(np.cumsum(steps, 0))
    e = cumulative_energy(torch.zeros(2, dtype=torch.float64), theta[9], theta[0], 9)
    true = torch.as_tensor((steps[1:] ** 2).sum((0, 2)))
    assert torch.all(e <= true + 1e-12)
    equal = torch.ones(2, 5, dtype=torch.float64)
    e2 = cumulative_energy(torch.zeros(2, dtype=torch.float64), 4 * equal, 0 * equal, 4)
    assert torch.allclose(e2, torch.full((2,), 20.0, dtype=torch.float64))  # 4 equal steps of ‖1‖² = 5


def test_two_field_options_default_off_and_checked() -> None:
    tf = TwoField()
    assert tf.sketch == 0 and not tf.energy
    with pytest.raises(ValueError, match="sketch"):
        TwoField(sketch=-1)


def test_balance_point_is_the_first_crossing_after_t_mem() -> None:
    steps = np.arange(0, 100, 10)
    ratio = np.array([0.5, 2, 2, 1.5, 0.9, 0.8, 1.2, 0.7, 0.6, 0.5])
    assert balance_point(steps, ratio, after=10) == 40
    assert balance_point(steps, np.full(10, 2.0)) is None


def test_portrait_finds_entropy_production_at_a_planted_transition() -> None:
    rng = np.random.default_rng(1)
    T = 300
    steps = np.arange(T) * 10.0
    # the trajectory dwells (noise about a point), moves fast between t = 1200 and 1800, then dwells again
    path = np.clip((steps - 1200) / 600, 0, 1)[:, None] * np.array([30.0, -20.0, 10.0, 0, 0, 0])
    sketch = path + rng.normal(0, 0.3, (T, 6))
    acc = 0.02 + 0.96 * kink.kink_profile((steps - 1500) / 150)
    series = {"grad_norm": np.exp(-steps / 500), "wd_norm": np.full(T, 0.1), "ratio": np.exp(-steps / 500) / 0.1,
              "cos": np.full(T, -0.5), "test_acc": acc}
    r = member_portrait(steps, series, sketch, t_mem=100, t_grok=1700, n_states=6, window=20)
    assert r["sigma_peak_in_transition"] is True
    assert r["chance"] < 0.5
    assert r["sigma_in_out_ratio"] > 1.0
    assert r["balance_step"] == int(steps[np.argmax(series["ratio"] <= 1)])
    assert r["explained_variance"][0] > 0.9
    assert r["curves"]["phi"]["phi"].shape == (40, 40)


def test_portrait_on_a_missing_run_or_a_run_without_the_sketch_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    o = cli(capsys, "analyze", "portrait", tmp_path / "nope")
    assert o.code == 2 and o.err.strip().count("\n") == 0 and "no run directory" in o.err
    run = tmp_path / "not-a-run"
    run.mkdir()
    o = cli(capsys, "analyze", "portrait", run)
    assert o.code == 2 and o.err.strip().count("\n") == 0 and o.err.startswith("error:")
