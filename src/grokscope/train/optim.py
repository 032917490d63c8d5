"""Functional optimizers over member-batched parameters, with per-member lr and wd.

Every parameter has shape ``[M, ...]``; ``lr`` and ``wd`` are ``[M]`` tensors broadcast over the rest, so M
members with different hyper-parameters take exactly the step each would take alone. Gradient filters
(Grokfast EMA/MA, ⊥Grad) run before the update. The state (moments, filters, step count) lives here and is
never reset by interventions.

AdamW's order (``optim.adamw_order``): "decay_then_adam" is torch.optim.AdamW's and paper 4's runner's
(t <- t·(1-ηλ), then Adam; papers/01 §4.3); "adam_then_decay" is paper 1's hand-written runner (Adam step, then
P -= lr·λ·P; papers/01 §1.3). They differ by O((lr·λ)·lr) per step.

Coupled against decoupled decay: ``name = "adam"`` is torch.optim.Adam with ``weight_decay`` (Tian's / Xu's
two-layer runs, papers/03 §14): g <- g + λ·p *before* the moments, so the decay is normalised by √v like the loss
gradient (with no loss gradient its first step moves every weight by lr·sign(p), whatever λ). ``name = "adamw"``
decays outside the moments, p <- p·(1 − lr·λ) (a geometric shrink). tests/twolayer/test_kernels.py checks both.
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
            # mean(0) over the window each step, not a running sum: a float32 running sum drifts, and this keeps
            # the filter (and resumed runs) bit-identical to earlier versions
            if self.t + 1 >= gf.window:
                grads = {n: g + gf.lamb * buf[n].mean(0) for n, g in grads.items()}
        return grads

    # -- update -------------------------------------------------------------------------------------------------
    def _adam_moments(self, grads: list[Tensor], names: list[str]) -> list[Tensor]:
        """Update m, v in place for ``names`` and return the denominators sqrt(v)/sqrt(1-β2^t) + ε.

        One ``torch._foreach_*`` call per operation over the parameter list: on CUDA these are multi-tensor kernels
        (few launches instead of one per tensor and op); on CPU they run the per-tensor kernels, so the results are
        bit-identical to the per-tensor code (tests/unit/test_optim.py checks it)."""
        cfg, t = self.cfg, self.t
        ms = [self.state["m"][n] for n in names]
        vs = [self.state["v"][n] for n in names]
        torch._foreach_lerp_(ms, grads, 1 - cfg.beta1)
        torch._foreach_mul_(vs, cfg.beta2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - cfg.beta2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, math.sqrt(1 - cfg.beta2**t))
        torch._foreach_add_(denom, cfg.eps)
        return denom

    @torch.no_grad()
    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor], lr: Tensor, wd: Tensor) -> None:
        """One update; ``lr``/``wd`` are ``[M]`` on the parameters' device.

        adamw: decoupled decay p *= 1 - lr·wd and the Adam update, in ``cfg.adamw_order``; adam/sgd: L2 decay
        wd·p added to the gradient. A member with lr = 0 keeps its parameters bit for bit (every change is
        scaled by its lr: p·(1 - 0·wd) = p and p - 0·u = p for finite u; only a -0.0 entry may turn +0.0),
        while its moments and filters still advance; the loop uses this for stopped members.
        """
        cfg = self.cfg
        grads = self._filter(grads, params)
        self.t += 1
        t = self.t
        names = list(params)
        if cfg.name in ("adamw", "adam"):
            bc1 = 1 - cfg.beta1**t
            if cfg.name == "adam":  # torch.optim.Adam: L2 weight decay added to the gradient
                gs = [grads[n] + _per_member(wd, params[n]) * params[n] if n in self.decay else grads[n]
                      for n in names]
            else:
                gs = [grads[n] for n in names]
            decay_first = cfg.name == "adamw" and cfg.adamw_order == "decay_then_adam"
            decay_after = cfg.name == "adamw" and not decay_first
            if decay_first:  # torch.optim.AdamW's order (paper 4's runner): decay from the pre-update weights
                self._decay(params, lr, wd)
            denoms = self._adam_moments(gs, names)
            for n, denom in zip(names, denoms, strict=True):
                p = params[n]
                p.sub_((_per_member(lr, p) / bc1) * self.state["m"][n] / denom)
            if decay_after:  # paper 1's runner: Adam step, then P -= lr·λ·P on the updated weights
                self._decay(params, lr, wd)
        else:  # sgd with optional momentum, as torch.optim.SGD (dampening 0, no Nesterov)
            for n, p in params.items():
                g = grads[n] + _per_member(wd, p) * p if n in self.decay else grads[n]
                buf = self.state["m"][n]
                if cfg.momentum > 0:
                    g = buf.mul_(cfg.momentum).add_(g) if t > 1 else buf.copy_(g)
                p.sub_(_per_member(lr, p) * g)

    def _decay(self, params: dict[str, Tensor], lr: Tensor, wd: Tensor) -> None:
        """Decoupled weight decay p *= 1 - lr·wd on the decay set (per member)."""
        for n, p in params.items():
            if n in self.decay:
                p.mul_(1 - _per_member(lr, p) * _per_member(wd, p))

    def state_dict(self) -> dict:
        """Resume state. The Grokfast MA buffer is saved compactly: during the warm-up only its filled slots
        (slot s holds the gradient of update s+1); once full, the filter needs all ``window`` slots to resume
        exactly, so they are all saved."""
        state = dict(self.state)
        if "ma_buf" in state and self.t < self.cfg.grokfast.window:
            state["ma_buf"] = {n: b[:self.t].clone() for n, b in state["ma_buf"].items()}  # clone: a view saves all
        return {"t": self.t, "state": state}

    def load_state_dict(self, sd: dict) -> None:
        """Restore ``state_dict()`` output (compact or full MA buffers); slots not saved are zero."""
        self.t = int(sd["t"])
        for kind, tensors in sd["state"].items():
            for n, v in tensors.items():
                dst = self.state[kind][n]
                if kind == "ma_buf" and v.shape[0] < dst.shape[0]:
                    dst.zero_()
                    dst[:v.shape[0]].copy_(v)
                else:
                    dst.copy_(v)


def lr_at(base_lr: Tensor, step: int, warmup_steps: int) -> Tensor:
    """Linear warm-up: step 1 of a w-step warm-up uses lr·1/w, reaching lr at step w (1-based update count)."""
    if warmup_steps and step < warmup_steps:
        return base_lr * ((step + 1) / warmup_steps)
    return base_lr
