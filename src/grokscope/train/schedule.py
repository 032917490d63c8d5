"""Evaluation and checkpoint step grids."""

from __future__ import annotations

import numpy as np

from ..config import CheckpointConfig, EvalConfig


def eval_steps(cfg: EvalConfig, steps: int) -> np.ndarray:
    """Geometric (paper 4: unique(round(geomspace(1, steps, n))) ∪ {0}) or linear grid; always includes 0 and steps."""
    if cfg.grid == "geometric":
        grid = np.unique(np.round(np.geomspace(1, steps, cfg.points)).astype(np.int64))
    else:
        grid = np.arange(cfg.every, steps + 1, cfg.every, dtype=np.int64)
    return np.unique(np.concatenate([[0], grid, [steps]]))


def checkpoint_steps(cfg: CheckpointConfig, grid: np.ndarray) -> set[int]:
    """``count`` log-spaced steps and the ``at`` steps, snapped to the eval grid (so every checkpoint has metrics),
    plus the last (none at all when ``count`` is 0 and ``at`` is empty)."""
    if cfg.count == 0 and not cfg.at:
        return set()
    last = int(grid[-1])
    targets = list(np.geomspace(1, max(last, 1), cfg.count)) + [t for t in cfg.at if t <= last]
    snapped = {int(grid[np.abs(grid - t).argmin()]) for t in targets}
    return snapped | {last}
