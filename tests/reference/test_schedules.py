"""Step grids and the warm-up schedule against their documented formulas (config.py / schedule.py / optim.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from . import harness as H


def cfg(steps: int, **eval_) -> object:
    return H.config({"train": {"steps": steps}, "eval": eval_, "checkpoint": {"count": 0}})


@pytest.mark.parametrize("steps, points", [(10_000, 200), (1000, 50), (300, 300), (57, 9)])
def test_geometric_grid_is_unique_round_geomspace_with_zero(steps: int, points: int) -> None:
    want = sorted({0, *(int(round(v)) for v in np.geomspace(1, steps, points))})
    got = H.eval_grid(cfg(steps, grid="geometric", points=points))
    assert got == want
    assert got[0] == 0 and got[-1] == steps
    assert len(got) == len(want)
    if (steps, points) == (57, 9):  # 1, 2, 3, 5, 8, 13, 21, 34, 57: all distinct after rounding, plus 0
        assert got == [0, 1, 2, 3, 5, 8, 13, 21, 34, 57]


@pytest.mark.parametrize("steps, every", [(1000, 100), (1050, 100), (7, 3)])
def test_linear_grid_every_k_steps_plus_zero_and_the_budget(steps: int, every: int) -> None:
    got = H.eval_grid(cfg(steps, grid="linear", every=every))
    assert got == sorted({0, *range(every, steps + 1, every), steps})


@pytest.mark.parametrize("count", [1, 5, 16])
def test_checkpoints_log_spaced_snapped_to_eval_steps_and_the_last(count: int) -> None:
    c = H.config({"train": {"steps": 5000}, "eval": {"points": 60}, "checkpoint": {"count": count}})
    grid = np.array(H.eval_grid(c))
    got = H.checkpoint_grid(c)
    want = {int(grid[np.abs(grid - t).argmin()]) for t in np.geomspace(1, 5000, count)} | {5000}
    assert got == want
    assert got <= set(grid.tolist())
    assert 5000 in got
    assert len(got) == len(want) and len(got) >= min(count, 2)
    if count == 16:  # at 60 geometric points the 16 targets snap to distinct steps
        assert len(got) == 16


def test_no_checkpoints_when_count_is_zero() -> None:
    assert H.checkpoint_grid(cfg(100)) == set()


@pytest.mark.parametrize("w", [1, 4, 7])
def test_warmup_lr_at_every_step_matches_its_docstring(w: int) -> None:
    """Step 1 of a w-step warm-up uses lr·1/w and reaches lr at step w (1-based); lr_at takes the 0-based count."""
    base = torch.tensor([0.1, 0.02], dtype=torch.float64)
    for t in range(w + 3):
        want = base * min(t + 1, w) / w
        got = H.lr_at(base, t, w)
        assert torch.allclose(got, want, rtol=1e-15, atol=0), (t, got, want)
    assert torch.equal(H.lr_at(base, 0, 0), base)
