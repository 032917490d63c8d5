"""Probes on a finished run's checkpoints (``grokscope analyze probes``): the same evaluation as online.

Each checkpoint's weights are loaded into the run's rebuilt model and ``evaluate`` runs every requested probe
(cadences are ignored: all are due) on the same examples, labels and dtype as during training, so a stateless
probe gives the value it would have given online at that step. A stateful probe (``gmm``'s warm-started fit,
``update_gram``'s window of updates, ``two_field``'s trajectory) sees only the checkpoints, in order: its values
are those of a run evaluated at the checkpoint steps alone, and ``update_gram`` has no updates (NaN).
Probes that need ``history`` get the run's stored metrics before each checkpoint step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UserError
from .base import ProbeSet, resolve
from .evaluate import evaluate


def _history(wide: Any, step: int, M: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Stored metrics at steps < ``step`` as ``{metric: [evals, M]}`` and their steps."""
    before = wide[wide.step < step]
    steps = np.array(sorted(before.step.unique()), dtype=np.int64)
    out = {}
    for col in before.columns:
        if col in ("step", "member"):
            continue
        table = before.pivot_table(index="step", columns="member", values=col, dropna=False)
        out[col] = table.reindex(index=steps, columns=range(M)).to_numpy(dtype=float)
    return out, steps


def analyze_checkpoints(run: Any, names: Sequence[str], steps: Sequence[int] | None = None,
                        device: str = "cpu") -> dict[str, list]:
    """Columns (step, member, metric, value) of the probes ``names`` at each checkpoint of ``run`` (an api.Run)."""
    from ..train.loop import full_batch_grad
    from ..train.optim import lr_at

    available = run.checkpoint_steps()
    if not available:
        raise UserError(f"run {run.path} has no checkpoints (checkpoint.count = 0?)")
    todo = list(available if steps is None else steps)
    missing = sorted(set(todo) - set(available))
    if missing:
        raise UserError(f"run {run.path} has no checkpoint at step {missing[0]}")
    s = run.setup(device)
    probes = ProbeSet(resolve(names, s.model.roles))
    if not probes.probes:
        raise UserError("none of the requested probes can run on this model")
    wants_history = "history" in probes.needs(probes.due(0))
    wide = run.metrics(wide=True) if wants_history else None
    cols: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
    for step in todo:
        s.model.load_state_dict(run.load_checkpoint(step)["params"])  # as Run.model(step) does
        history, hsteps = _history(wide, step, s.M) if wide is not None else (None, None)
        values = evaluate(s.model, s.eval_data, probes, 0, groups=s.model.groups, step=step,
                          lr=lr_at(s.lr, max(step - 1, 0), s.cfg.optim.warmup_steps), wd=s.wd, task=s.task_info,
                          grad_fn=lambda: full_batch_grad(s), history=history, history_steps=hsteps)
        for metric, per_member in values.items():
            for m, v in enumerate(per_member):
                cols["step"].append(int(step))
                cols["member"].append(m)
                cols["metric"].append(metric)
                cols["value"].append(float(v))
    return cols
