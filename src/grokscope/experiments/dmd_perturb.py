"""The perturbation test of ``dmd-localize`` (03 §13 item 9, reconstructed): from each saved training state of the
grokking members, continue ``horizon`` updates with and without an isotropic perturbation (``detect.localize``),
and pair each state's deviation with the log-prob residual and the total norm at that step."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..detect import localize as loc
from .base import StageResult


def value_at(steps: np.ndarray, values: np.ndarray, t: float) -> float:
    """The last value at or before step ``t`` (nan if none)."""
    ok = steps <= t
    return float(values[ok][-1]) if ok.any() else float("nan")


def perturbation_table(stage: StageResult, grok: list[dict], p: dict[str, Any]
                       ) -> dict[tuple[str, int], list[tuple[int, float, float, float]]]:
    """(run_id, member) of each grokking member -> [(state step, residual, deviation, ‖W‖)] over its saved states
    after its T_mem (the residual is that of the window ending at the last evaluation at or before the step)."""
    from ..api import load_run, torch_threads
    from ..store import checkpoint

    by_run: dict[str, list[dict]] = {}
    for s in grok:
        by_run.setdefault(s["m"]["path"], []).append(s)
    out: dict[tuple[str, int], list[tuple[int, float, float, float]]] = {}
    with torch_threads(int(p.get("threads", 1))):
        for path, members in sorted(by_run.items()):
            run = load_run(path)
            setup = run.setup()
            ckpt_dir = run.dir.ckpt_dir
            steps = sorted(int(f.stem.split("_")[1]) for f in ckpt_dir.glob("state_*.pt"))
            for step in steps:
                state = checkpoint.load(checkpoint.state_path(ckpt_dir, step))
                dev = loc.perturbation_deviation(setup, state, p["horizon"], p["eps"], seed=step)
                for s in members:
                    if s["start"] is None or step < s["start"]:
                        continue
                    m = int(s["m"]["member"])
                    res = value_at(*s["res/log-prob"], step)
                    row = (step, res, float(dev[m]), value_at(s["steps"], s["norm"], step))
                    if np.isfinite(res):
                        out.setdefault((str(s["m"]["run_id"]), m), []).append(row)
    return out
