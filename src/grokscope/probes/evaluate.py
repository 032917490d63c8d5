"""``evaluate(model, data, probes)``: one no-grad pass over all examples, shared by every due probe.

Used by the training loop at each eval step, by analyses of stored checkpoints (``Run.model(step)``) and by the
Monitor for a user's own model (M = 1): the same code measures all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import EvalContext, ProbeSet

EVAL_CHUNK = 1024  # examples per no-grad forward pass (chunks keep activations in cache: ~2x faster than all N)


@dataclass
class EvalData:
    """A task's examples as the evaluation sees them. Shapes: M members, N examples, S positions."""

    x: Tensor  # int64 [M|1, N, S]
    y: Tensor  # int64 [M, N] clean labels
    y_train: Tensor  # int64 [M, n_train] training labels (after label noise)
    train_idx: Tensor  # int64 [M, n_train]
    test_idx: Tensor  # int64 [M, n_test]
    loss_name: str  # "ce", "mse" or "stablemax"
    tau: Tensor  # [M] output temperature (logits are divided by it)


@torch.no_grad()
def forward_all(model: torch.nn.Module, x: Tensor, keep: set[str], all_queries: bool = False) -> tuple[Tensor, dict]:
    """Logits ``[M, N, C]`` over all N examples (chunked), and the kept hook activations concatenated over N.

    With no hook kept the model's fast path runs; otherwise its reference forward, storing only ``keep``.
    """
    logits, caches = [], []
    for xc in x.split(EVAL_CHUNK, dim=1):
        if keep or all_queries:
            cache: dict[str, Tensor] = {}
            logits.append(model(xc, cache, keep=keep, all_queries=all_queries))
            caches.append(cache)
        else:
            logits.append(model(xc))
    cache = {k: torch.cat([c[k] for c in caches], 1) for k in caches[0]} if caches else {}
    return torch.cat(logits, 1), cache


def evaluate(model: torch.nn.Module, data: EvalData, probes: ProbeSet, eval_index: int = 0, *,
             groups: dict[str, list[str]] | None = None, step: int = 0, lr: Tensor | None = None,
             wd: Tensor | None = None, task: dict[str, Any] | None = None,
             grad_fn: Callable[[], dict[str, Tensor]] | None = None,
             history: dict[str, np.ndarray] | None = None, history_steps: np.ndarray | None = None,
             ) -> dict[str, list[float]]:
    """Run the probes due at the ``eval_index``-th evaluation; returns ``{metric: [value per member]}``.

    Only what the due probes declare is computed: their hooks (kept over all N), the full-batch training gradient
    (``grad_fn``, called once if any probe needs ``"grad"``), the history and the task structure.
    """
    due = probes.due(eval_index)
    if not due:
        return {}
    roles = getattr(model, "roles", None)
    keep = probes.hooks(roles, due)
    z, cache = forward_all(model, data.x, keep, probes.all_queries(due))
    needs = probes.needs(due)
    P = getattr(model, "P", None) or dict(model.named_parameters())
    ctx = EvalContext(
        params=dict(P), groups=groups if groups is not None else getattr(model, "groups", {}),
        logits=z / data.tau[:, None, None], y=data.y, y_train=data.y_train, train_idx=data.train_idx,
        test_idx=data.test_idx, loss_name=data.loss_name, cache=cache, x=data.x, step=step, lr=lr, wd=wd,
        tau=data.tau, roles=roles, task=(task or {}) if "task" in needs else {},
        grad=grad_fn() if ("grad" in needs and grad_fn is not None) else None,
        history=(history or {}) if "history" in needs else {}, history_steps=history_steps,
    )
    with torch.no_grad():
        values = probes.run(ctx, due)
    # one host transfer for all metrics (not one per metric): a single sync per evaluation on a GPU
    names = list(values)
    if not names:
        return {}
    stacked = torch.stack([values[n].detach().double().reshape(-1) for n in names]).cpu().tolist()
    return dict(zip(names, stacked))
