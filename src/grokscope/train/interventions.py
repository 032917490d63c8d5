"""Interventions applied between optimizer steps (per member; none of them touches optimizer moments).

- global norm clamp to an absolute target or ρ·w_c from a step on (papers 1 and 4: one common scalar rescales
  every weight matrix so that ||W|| equals the target exactly); per-group clamp;
- one-shot rescale of all weights or one group; weight decay switched off at a step or at T_mem;
- the norm frozen at its value at T_mem; Langevin noise sqrt(2·lr·T)·ξ (paper 3's clean temperature knob).
Label noise and init scale act on the data and the init; they live in the loop and the model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..config import RunConfig


def member_sq_norm(params: dict[str, Tensor], names: list[str]) -> Tensor:
    """Squared norm per member: Σ over the named tensors of ||W_i||_F² -> ``[M]`` (float64 accumulation)."""
    return torch.stack([params[n].double().pow(2).flatten(1).sum(1) for n in names]).sum(0)


class Interventions:
    def __init__(self, base: RunConfig, members: list[RunConfig], params: dict[str, Tensor],
                 groups: dict[str, list[str]], device: torch.device) -> None:
        self.params, self.groups, self.device = params, groups, device
        M = len(members)
        iv = base.intervene
        self.weights = [n for names in groups.values() for n in names]
        c = iv.clamp
        self.clamp_from = c.from_step if c else 0
        self.clamp_names = [n for g in (c.groups or list(groups)) for n in groups.get(g, [])] if c else []
        if c and c.groups:
            unknown = sorted(set(c.groups) - set(groups))
            if unknown:
                raise ValueError(f"intervene.clamp.groups: unknown group {unknown[0]!r} (model groups: {sorted(groups)})")
        self.per_group = c.per_group if c else None
        if self.per_group:
            unknown = sorted(set(self.per_group) - set(groups))
            if unknown:
                raise ValueError(f"intervene.clamp.per_group: unknown group {unknown[0]!r} (model groups: {sorted(groups)})")
        targets = []
        for mc in members:
            mcl = mc.intervene.clamp
            if mcl is None or mcl.per_group is not None:
                targets.append(math.nan)
            else:
                targets.append(mcl.target if mcl.target is not None else mcl.rho * mcl.w_c)
        self.clamp_target = torch.tensor(targets, dtype=torch.float64, device=device)
        self.langevin_T = torch.tensor([mc.intervene.langevin_T for mc in members], dtype=torch.float64, device=device)
        r = iv.rescale
        if r and r.group and r.group not in groups:
            raise ValueError(f"intervene.rescale.group: unknown group {r.group!r} (model groups: {sorted(groups)})")
        self.rescale = r
        self.wd_off_step, self.wd_off_at_t_mem = iv.wd_off_step, iv.wd_off_at_t_mem
        self.freeze_at_t_mem = iv.freeze_norm_at_t_mem
        # state (saved with the run's resume state)
        self.t_mem_seen = torch.full((M,), -1, dtype=torch.int64)
        self.frozen_norm = torch.full((M,), math.nan, dtype=torch.float64, device=device)

    # -- hooks used by the loop ---------------------------------------------------------------------------------
    def wd_mask(self, step: int) -> Tensor:
        """[M] multiplier on weight decay for the update that follows ``step`` completed updates."""
        mask = torch.ones(len(self.t_mem_seen), dtype=torch.float64)
        if self.wd_off_step is not None and step >= self.wd_off_step:
            mask.zero_()
        if self.wd_off_at_t_mem:
            mask[self.t_mem_seen >= 0] = 0.0
        return mask.to(self.device)

    @torch.no_grad()
    def after_step(self, step: int, lr: Tensor, noise_gens: list[torch.Generator] | None = None) -> None:
        """Called after the update that completed ``step`` updates; ``lr`` is the [M] lr just used."""
        P = self.params
        if noise_gens is not None and self.langevin_T.gt(0).any():
            scale = torch.sqrt(2 * lr.double() * self.langevin_T).tolist()
            for n in self.weights:
                for m, gen in enumerate(noise_gens):  # member m draws from its own stream
                    if scale[m] > 0:
                        P[n][m].add_(torch.randn(P[n].shape[1:], generator=gen, dtype=P[n].dtype, device=P[n].device),
                                     alpha=scale[m])
        if self.rescale and step == self.rescale.step:
            names = self.groups[self.rescale.group] if self.rescale.group else self.weights
            for n in names:
                P[n].mul_(self.rescale.factor)
        if step >= self.clamp_from:
            if self.per_group:
                for g, target in self.per_group.items():
                    self._scale_to(self.groups[g], torch.full_like(self.clamp_target, target))
            elif self.clamp_names:
                self._scale_to(self.clamp_names, self.clamp_target)
        if self.freeze_at_t_mem:
            self._scale_to(self.weights, self.frozen_norm)

    def _scale_to(self, names: list[str], target: Tensor) -> None:
        """Rescale the named tensors of member m by one scalar so their joint norm is target[m] (NaN: untouched)."""
        if torch.isnan(target).all():
            return
        norm = member_sq_norm(self.params, names).sqrt()
        scale = torch.where(torch.isnan(target), torch.ones_like(norm), target / norm.clamp_min(1e-30))
        for n in names:
            p = self.params[n]
            p.mul_(scale.to(p.dtype).view(-1, *([1] * (p.dim() - 1))))

    @torch.no_grad()
    def on_eval(self, step: int, train_acc: Tensor, mem_threshold: float) -> None:
        newly = (self.t_mem_seen < 0) & (train_acc.cpu() >= mem_threshold)
        if newly.any():
            self.t_mem_seen[newly] = step
            if self.freeze_at_t_mem:
                norm = member_sq_norm(self.params, self.weights).sqrt()
                self.frozen_norm[newly.to(self.device)] = norm[newly.to(self.device)]

    def state_dict(self) -> dict:
        return {"t_mem_seen": self.t_mem_seen.clone(), "frozen_norm": self.frozen_norm.cpu().clone()}

    def load_state_dict(self, sd: dict) -> None:
        self.t_mem_seen.copy_(sd["t_mem_seen"])
        self.frozen_norm.copy_(sd["frozen_norm"].to(self.device))
