"""The training loop: one readable loop over member-batched parameters.

    for t = start, start+1, ..., steps:
        if t is on the eval grid: evaluate the due probes -> record rows/history -> per-member stop rule
                                   -> flush (metrics chunk, then resume state) every few seconds and at checkpoints
        if every member is done (budget reached, or stopped by train.stop_on_grok): return
        update t+1: forward on the (mini)batch, loss summed over members, gradient filters, optimizer,
                    interventions, probes' step hooks
Resume restores the state written at a flush and continues; the metrics equal an uninterrupted run's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from ..probes.evaluate import evaluate
from .actions import restore_frozen
from .losses import per_example
from .optim import lr_at
from .recorder import Recorder
from .setup import Setup

OnEval = Callable[[int, dict[str, list[float]]], None]


def loss_fn(s: Setup, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """Mean loss over each member's batch, summed over members (members are independent: their grads don't mix)."""
    z = s.model(xb) / s.tau[:, None, None]  # [M, B, C]
    return per_example(s.cfg.loss.name, z, yb).mean(1).sum()


def update(s: Setup, t: int, active: torch.Tensor | None = None) -> None:
    """Update number t+1 (t updates done). ``active`` [M] bool: stopped members get lr 0 and no interventions."""
    xb, yb = s.phases.batch(s, t) if s.phases is not None else s.batch(t)
    names = list(s.params)
    grads = dict(zip(names, torch.autograd.grad(loss_fn(s, xb, yb), [s.params[n] for n in names])))
    lr = lr_at(s.lr, t, s.cfg.optim.warmup_steps)
    if active is not None:
        lr = lr * active.to(lr.dtype)
    frozen: dict[str, torch.Tensor] = {}
    if s.controls is not None:  # what closed-loop rules set (train/actions.py)
        factor = s.controls.lr_factor(lr)
        lr = lr if factor is None else lr * factor
        frozen = s.controls.frozen_masks()
    kept = {n: s.params[n].detach().clone() for n in frozen}
    hooks = s.probes.step_hooks
    before = {n: p.detach().clone() for n, p in s.params.items()} if hooks else None
    s.opt.step(s.params, grads, lr, s.wd * s.iv.wd_mask(t).to(s.dtype))
    s.iv.after_step(t + 1, lr, s.noise_gens, active)
    if frozen:
        restore_frozen(s.params, kept, frozen)
    if before is not None:
        delta = {n: s.params[n].detach() - before[n] for n in names}
        for hook in hooks:
            hook(t + 1, s.params, grads, delta)


def full_batch_grad(s: Setup) -> dict[str, torch.Tensor]:
    """Per-member gradient of the mean training loss over the whole training set (for probes that need "grad")."""
    with torch.enable_grad():
        names = list(s.params)
        loss = loss_fn(s, s.x_train, s.y_train)
        return dict(zip(names, torch.autograd.grad(loss, [s.params[n] for n in names])))


def measure(s: Setup, rec: Recorder, t: int) -> dict[str, list[float]]:
    k = len(rec.steps)  # this is the k-th evaluation: the due probes are those whose cadence divides it
    wants_history = "history" in s.probes.needs(s.probes.due(k))
    return evaluate(s.model, s.eval_data, s.probes, k, groups=s.model.groups, step=t,
                    lr=lr_at(s.lr, max(t - 1, 0), s.cfg.optim.warmup_steps), wd=s.wd, task=s.task_info,
                    grad_fn=lambda: full_batch_grad(s), history=rec.history() if wants_history else None,
                    history_steps=np.array(rec.steps) if wants_history else None)


def stopped(s: Setup, rec: Recorder) -> list[bool]:
    """Per member: its own ``stop_on_grok`` rule holds at its last eval (it grokked and step >= factor·T_grok)."""
    factor = s.cfg.train.stop_on_grok
    if factor is None:
        return [False] * s.M
    out = []
    for m, row in enumerate(s.table):
        k = rec.n_active[m]
        t_grok = rec.member_events(m, row["seed"], s.cfg.eval).t_grok if k else None
        out.append(t_grok is not None and rec.steps[k - 1] >= factor * t_grok)
    return out


def train(s: Setup, rec: Recorder, start: int = 0, on_eval: OnEval | None = None) -> int:
    """Train from ``start`` (evals up to it already in ``rec``) to the budget; returns the last step."""
    grid, steps = set(int(g) for g in s.grid), s.cfg.train.steps
    active = [not x for x in stopped(s, rec)]
    mask = _mask(s, active)
    t = start
    while True:
        if t in grid and (not rec.steps or rec.steps[-1] < t):
            if s.phases is not None:
                s.phases.ensure(s, t, for_update=False)
            values = measure(s, rec, t)
            if s.phases is not None:
                values.update(s.phases.metrics(s, values))
            rec.record(t, values, active)
            s.iv.on_eval(t, torch.tensor(rec.array("train/acc")[-1]), s.cfg.eval.mem_threshold)
            if s.rules is not None:
                s.rules.on_eval(s, t, rec.steps, rec.array, s.probes.events(), active)
            if on_eval:
                on_eval(t, values)
            active = [a and not x for a, x in zip(active, stopped(s, rec))]
            mask = _mask(s, active)
            done = t >= steps or not any(active)
            if rec.due(t, s.ckpt_steps, done):
                params = weights(s) if (done or t in s.ckpt_steps) else None
                rec.flush(t, partial(state_dict, s, t), params, done, keep_state=s.cfg.checkpoint.states)
        else:
            done = t in grid and (t >= steps or not any(active))  # resumed exactly at the end
        if done:
            return t
        if s.phases is not None:
            s.phases.ensure(s, t, for_update=True)
        update(s, t, mask)
        t += 1


def _mask(s: Setup, active: list[bool]) -> torch.Tensor | None:
    """[M] bool on the device while some member is stopped, built at evals only (not a copy per step)."""
    return None if all(active) else torch.tensor(active, device=s.device)


# -- resume state -------------------------------------------------------------------------------------------------
def weights(s: Setup) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in s.model.state_dict().items()}


def state_dict(s: Setup, t: int) -> dict[str, Any]:
    """Everything the loop needs to continue bit-identically from step t (tensors on the CPU)."""
    return {"step": t, "params": weights(s),
            "opt": s.opt.state_dict(), "iv": s.iv.state_dict(), "probes": s.probes.state_dict(),
            "noise_rng": [g.get_state() for g in s.noise_gens], **control_state(s)}


def control_state(s: Setup) -> dict[str, Any]:
    """Phase, rule and control state: keys only for runs that have them (other states are unchanged)."""
    parts = {"phases": s.phases, "rules": s.rules, "controls": s.controls}
    return {k: v.state_dict() for k, v in parts.items() if v is not None}


def load_state_dict(s: Setup, sd: dict[str, Any]) -> int:
    """Copy a resume state (loaded on the CPU: generator states must stay CPU byte tensors) into the setup."""
    s.model.load_state_dict(sd["params"])  # copies into the device parameters
    s.opt.load_state_dict(sd["opt"])
    s.iv.load_state_dict(sd["iv"])
    s.probes.load_state_dict(sd.get("probes", {}))
    for g, state in zip(s.noise_gens, sd["noise_rng"]):
        g.set_state(state)
    if s.phases is not None and "phases" in sd:
        s.phases.load_state_dict(s, sd["phases"])
    for key in ("rules", "controls"):
        if getattr(s, key) is not None and key in sd:
            getattr(s, key).load_state_dict(sd[key])
    return int(sd["step"])
