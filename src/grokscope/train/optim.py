"""Functional optimizers over member-batched parameters, with per-member lr and wd.

Every parameter has shape ``[M, ...]``; ``lr`` and ``wd`` are ``[M]`` tensors broadcast over the rest, so M
members with different hyper-parameters take exactly the step each would take alone. Gradient filters
(Grokfast EMA/MA, ⊥Grad) run before the update. The state (moments, filters, step count) lives here and is
never reset by interventions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..config import OptimConfig


def _per_member(x: Tensor, like: Tensor) -> Tensor:
    return x.view(-1, *([1] * (like.dim() - 1)))


def _member_dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).flatten(1).sum(1)


class Optimizer:
    def __init__(self, cfg: OptimConfig, params: dict[str, Tensor], decay: set[str]) -> None:
        self.cfg, self.decay, self.t = cfg, decay, 0
        zeros = {n: torch.zeros_like(p) for n, p in params.items()}
        self.state: dict[str, dict[str, Tensor]] = {"m": zeros}
        if cfg.name in ("adamw", "adam"):
            self.state["v"] = {n: torch.zeros_like(p) for n, p in params.items()}
        gf = cfg.grokfast
        if gf.kind == "ema":
            self.state["ema"] = {n: torch.zeros_like(p) for n, p in params.items()}
        elif gf.kind == "ma":
            self.state["ma_buf"] = {n: torch.zeros((gf.window, *p.shape), dtype=p.dtype, device=p.device)
                                    for n, p in params.items()}

    # -- gradient filters ---------------------------------------------------------------------------------------
    def _filter(self, grads: dict[str, Tensor], params: dict[str, Tensor]) -> dict[str, Tensor]:
        cfg = self.cfg
        if cfg.orthograd:  # ⊥Grad: remove the radial component, per member and parameter tensor
            out = {}
            for n, g in grads.items():
                w = params[n]
                proj = _member_dot(w, g) / (_member_dot(w, w) + 1e-30)
                g_orth = g - _per_member(proj, g) * w
                if cfg.orthograd_renorm:
                    ratio = g.flatten(1).norm(dim=1) / (g_orth.flatten(1).norm(dim=1) + 1e-30)
                    g_orth = g_orth * _per_member(ratio, g)
                out[n] = g_orth
            grads = out
        gf = cfg.grokfast
        if gf.kind == "ema":  # Lee et al. 2024, gradfilter_ema; the filter starts at the first gradient
            ema = self.state["ema"]
            for n, g in grads.items():
                if self.t == 0:
                    ema[n].copy_(g)
                else:
                    ema[n].mul_(gf.alpha).add_(g, alpha=1 - gf.alpha)
            grads = {n: g + gf.lamb * ema[n] for n, g in grads.items()}
        elif gf.kind == "ma":  # gradfilter_ma with its default warm-up: applied once the window is full
            buf = self.state["ma_buf"]
            slot = self.t % gf.window
            for n, g in grads.items():
                buf[n][slot].copy_(g)
            if self.t + 1 >= gf.window:
                grads = {n: g + gf.lamb * buf[n].mean(0) for n, g in grads.items()}
        return grads

    # -- update -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor], lr: Tensor, wd: Tensor) -> None:
        """One update; ``lr``/``wd`` are ``[M]``. AdamW follows torch.optim.AdamW's order (decay, then Adam)."""
        cfg = self.cfg
        grads = self._filter(grads, params)
        self.t += 1
        t = self.t
        m_state = self.state["m"]
        if cfg.name == "adamw":
            bc1, bc2_sqrt = 1 - cfg.beta1**t, math.sqrt(1 - cfg.beta2**t)
            for n, p in params.items():
                g, m, v = grads[n], m_state[n], self.state["v"][n]
                lr_b = _per_member(lr, p)
                if n in self.decay:
                    p.mul_(1 - lr_b * _per_member(wd, p))
                m.lerp_(g, 1 - cfg.beta1)
                v.mul_(cfg.beta2).addcmul_(g, g, value=1 - cfg.beta2)
                denom = (v.sqrt() / bc2_sqrt).add_(cfg.eps)
                p.sub_((lr_b / bc1) * m / denom)
        elif cfg.name == "adam":  # torch.optim.Adam: L2 weight decay added to the gradient
            bc1, bc2_sqrt = 1 - cfg.beta1**t, math.sqrt(1 - cfg.beta2**t)
            for n, p in params.items():
                g = grads[n] + _per_member(wd, p) * p if n in self.decay else grads[n]
                m, v = m_state[n], self.state["v"][n]
                m.lerp_(g, 1 - cfg.beta1)
                v.mul_(cfg.beta2).addcmul_(g, g, value=1 - cfg.beta2)
                denom = (v.sqrt() / bc2_sqrt).add_(cfg.eps)
                p.sub_((_per_member(lr, p) / bc1) * m / denom)
        else:  # sgd with optional momentum, as torch.optim.SGD (dampening 0, no Nesterov)
            for n, p in params.items():
                g = grads[n] + _per_member(wd, p) * p if n in self.decay else grads[n]
                buf = m_state[n]
                if cfg.momentum > 0:
                    g = buf.mul_(cfg.momentum).add_(g) if t > 1 else buf.copy_(g)
                p.sub_(_per_member(lr, p) * g)

    def state_dict(self) -> dict:
        return {"t": self.t, "state": self.state}

    def load_state_dict(self, sd: dict) -> None:
        self.t = int(sd["t"])
        for kind, tensors in sd["state"].items():
            for n, v in tensors.items():
                self.state[kind][n].copy_(v)


def lr_at(base_lr: Tensor, step: int, warmup_steps: int) -> Tensor:
    """Linear warm-up: step 1 of a w-step warm-up uses lr·1/w, reaching lr at step w (1-based update count)."""
    if warmup_steps and step < warmup_steps:
        return base_lr * ((step + 1) / warmup_steps)
    return base_lr
