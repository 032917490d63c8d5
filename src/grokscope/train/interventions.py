"""Interventions applied between optimizer steps (per member; none of them touches optimizer moments).

- global norm clamp to an absolute target or ρ·w_c from a step on (papers 1 and 4: one common scalar rescales
  every weight matrix so that ||W|| equals the target exactly); per-group clamp;
- one-shot rescale of all weights or one group; weight decay switched off at a step or at T_mem;
- the norm frozen at its value at T_mem; Langevin noise sqrt(2·lr·T)·ξ (paper 3's clean temperature knob).
Label noise and init scale act on the data and the init; they live in train/labels.py and the model.

GPU readiness: the per-step hooks (``wd_mask``, ``after_step``) never read a device value on the host
(no ``.item()``, ``.tolist()``, ``bool(tensor)``), so CUDA can queue steps without waiting. Everything that
decides control flow is fixed at setup (which members have T > 0, whether a clamp exists) or changes only at
evaluations (``on_eval`` already reads accuracies on the host).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..config import ClampConfig, RunConfig

# Largest float64 copy (elements) made while summing squares: torch's reductions cast a float32 input to the
# float64 accumulation dtype by materialising a copy (seen as aten::_to_copy in the profiler; only half/bf16 ->
# float32 is fused on CUDA), so long tensors are reduced in chunks to bound that copy to 32 MiB.
NORM_CHUNK = 1 << 22


def member_sq_norm(params: dict[str, Tensor], names: list[str]) -> Tensor:
    """Squared norm per member: Σ over the named tensors of ||W_i||_F² -> ``[M]`` float64 (float64 accumulation).

    Equal to Σ ``p.double().pow(2).sum()`` within a few ulps, without a float64 copy of every tensor at once."""
    total = None
    for n in names:
        flat = params[n].flatten(1)  # [M, numel/M]
        step = max(1, NORM_CHUNK // max(1, flat.shape[0]))
        for chunk in flat.split(step, dim=1):
            sq = torch.linalg.vector_norm(chunk, dim=1, dtype=torch.float64).square()
            total = sq if total is None else total + sq
    assert total is not None, "member_sq_norm needs at least one tensor"
    return total


def clamp_structure(clamps: list[ClampConfig | None]) -> ClampConfig | None:
    """The clamp every clamped member shares (mode, from_step, groups, per_group), or None if none is clamped.

    Members may differ only in the target value (target, or rho·w_c); anything else is a ValueError."""
    present = [c for c in clamps if c is not None]
    if not present:
        return None
    first = present[0]
    for c in present[1:]:
        for field in ("mode", "from_step", "groups", "per_group"):
            if getattr(c, field) != getattr(first, field):
                raise ValueError(f"intervene.clamp.{field} differs between members ({getattr(first, field)!r} vs "
                                 f"{getattr(c, field)!r}): members of one run may differ only in the clamp target")
    return first


def clamp_target(c: ClampConfig | None) -> float:
    """A member's global clamp target ||W|| (NaN: not clamped globally, i.e. no clamp or a per-group clamp; also a
    relative clamp, whose target is measured when it first applies)."""
    if c is None or c.per_group is not None or c.relative is not None:
        return math.nan
    return c.target if c.target is not None else c.rho * c.w_c  # type: ignore[operator]


def _per_member(x: Tensor, like: Tensor) -> Tensor:
    return x.view(-1, *([1] * (like.dim() - 1)))


def _check_groups(key: str, names: list[str], groups: dict[str, list[str]]) -> None:
    unknown = sorted(set(names) - set(groups))
    if unknown:
        raise ValueError(f"{key}: unknown group {unknown[0]!r} (model groups: {sorted(groups)})")


class Interventions:
    def __init__(self, base: RunConfig, members: list[RunConfig], params: dict[str, Tensor],
                 groups: dict[str, list[str]], device: torch.device) -> None:
        self.params, self.groups, self.device = params, groups, device
        M = len(members)
        iv = base.intervene
        self.weights = [n for names in groups.values() for n in names]
        self._init_clamp([mc.intervene.clamp for mc in members])
        temps = [mc.intervene.langevin_T for mc in members]
        self.langevin_T = torch.tensor(temps, dtype=torch.float64, device=device)
        self.noisy_members = [m for m, T in enumerate(temps) if T > 0]  # fixed at setup: no per-step host check
        r = iv.rescale
        if r and r.group and r.group not in groups:
            raise ValueError(f"intervene.rescale.group: unknown group {r.group!r} (model groups: {sorted(groups)})")
        self.rescale = r
        self._rescale_factor = torch.full((M,), r.factor if r and r.factor else 1.0, dtype=torch.float64,
                                          device=device)
        self.wd_off_step, self.wd_off_at_t_mem = iv.wd_off_step, iv.wd_off_at_t_mem
        self.freeze_at_t_mem = iv.freeze_norm_at_t_mem
        # state (saved with the run's resume state)
        self.t_mem_seen = torch.full((M,), -1, dtype=torch.int64)
        self.frozen_norm = torch.full((M,), math.nan, dtype=torch.float64, device=device)
        self._any_frozen = False  # host mirror of ~isnan(frozen_norm).all(), updated where frozen_norm changes
        self._wd_cache: tuple[bool, Tensor] | None = None  # (wd_off_step reached, device mask)
        self.surgery: Any = None  # a train.surgery.ScheduledSurgery, set by the setup when a member has one

    def _init_clamp(self, clamps: list[ClampConfig | None]) -> None:
        """Clamp structure from the member configs (a base config without a clamp may still clamp members)."""
        c = clamp_structure(clamps)
        self.clamp_from = c.from_step if c else 0
        if c and c.groups:
            _check_groups("intervene.clamp.groups", c.groups, self.groups)
        self.clamp_names = [n for g in (c.groups or list(self.groups)) for n in self.groups[g]] if c else []
        targets = [clamp_target(mc) for mc in clamps]
        self.clamp_target = torch.tensor(targets, dtype=torch.float64, device=self.device)
        rel = [mc.relative if mc is not None and mc.relative is not None else math.nan for mc in clamps]
        self.clamp_relative = torch.tensor(rel, dtype=torch.float64, device=self.device)
        self._relative_pending = any(not math.isnan(x) for x in rel)  # host flag: targets not measured yet
        self._clamp_any = any(not math.isnan(x) for x in targets) or self._relative_pending
        self.per_group: dict[str, Tensor] = {}  # group -> [M] target (NaN for members without a clamp)
        if c and c.per_group:
            _check_groups("intervene.clamp.per_group", list(c.per_group), self.groups)
            for g, target in c.per_group.items():
                vals = [target if mc is not None else math.nan for mc in clamps]
                self.per_group[g] = torch.tensor(vals, dtype=torch.float64, device=self.device)

    # -- hooks used by the loop ---------------------------------------------------------------------------------
    def wd_mask(self, step: int) -> Tensor:
        """[M] float64 multiplier on weight decay for the update that follows ``step`` completed updates.

        Cached on the device: rebuilt (one small host-to-device copy) only when ``wd_off_step`` is reached or a
        member's T_mem is first seen. The returned tensor is shared: do not modify it in place."""
        off = self.wd_off_step is not None and step >= self.wd_off_step
        if self._wd_cache is None or self._wd_cache[0] != off:
            mask = torch.ones(len(self.t_mem_seen), dtype=torch.float64)
            if off:
                mask.zero_()
            if self.wd_off_at_t_mem:
                mask[self.t_mem_seen >= 0] = 0.0
            self._wd_cache = (off, mask.to(self.device))
        return self._wd_cache[1]

    @torch.no_grad()
    def after_step(self, step: int, lr: Tensor, noise_gens: list[torch.Generator] | None = None,
                   active: Tensor | None = None) -> None:
        """Called after the update that completed ``step`` updates; ``lr`` is the [M] lr just used.

        ``active``: bool [M] on the device (None: all active); an inactive (stopped) member is left bit for bit
        untouched by every intervention (its Langevin stream still advances, so deciding needs no host sync)."""
        P = self.params
        if noise_gens is not None and self.noisy_members:
            self._langevin(lr, noise_gens, active)
        if self.rescale and step == self.rescale.step:
            names = self.groups[self.rescale.group] if self.rescale.group else self.weights
            if self.rescale.to_norm is not None:  # per member: the factor that brings its norm to to_norm
                target = torch.full_like(self._rescale_factor, self.rescale.to_norm)
                self._scale_to(names, target, active)
                names = []
            for n in names:
                if active is None:
                    P[n].mul_(self.rescale.factor)
                else:
                    factor = self._only_active(self._rescale_factor, active)
                    P[n].mul_(_per_member(factor.to(P[n].dtype), P[n]))
        if step >= self.clamp_from:
            if self._relative_pending:  # a relative clamp's target: its multiple of the norm it starts from
                norm = member_sq_norm(self.params, self.clamp_names).sqrt()
                rel = self.clamp_relative
                self.clamp_target = torch.where(torch.isnan(rel), self.clamp_target, rel * norm)
                self._relative_pending = False
            for g, target in self.per_group.items():
                self._scale_to(self.groups[g], target, active)
            if self._clamp_any and self.clamp_names:
                self._scale_to(self.clamp_names, self.clamp_target, active)
        if self.freeze_at_t_mem and self._any_frozen:
            self._scale_to(self.weights, self.frozen_norm, active)
        if self.surgery is not None:
            self.surgery.after_step(P, step, active)

    def _langevin(self, lr: Tensor, noise_gens: list[torch.Generator], active: Tensor | None) -> None:
        """p += sqrt(2·lr·T)·ξ on the weights of each member with T > 0, ξ from the member's own stream."""
        scale = torch.sqrt(2 * lr.double() * self.langevin_T)  # [M], stays on the device
        for n in self.weights:
            p = self.params[n]
            s = scale.to(p.dtype)
            for m in self.noisy_members:
                xi = torch.randn(p.shape[1:], generator=noise_gens[m], dtype=p.dtype, device=p.device)
                if active is None:
                    p[m].add_(xi.mul_(s[m]))
                else:  # where, not a zero scale: p + 0·ξ would turn -0.0 into +0.0
                    p[m].copy_(torch.where(active[m], p[m] + xi.mul_(s[m]), p[m]))

    @staticmethod
    def _only_active(scale: Tensor, active: Tensor | None) -> Tensor:
        """A per-member factor with inactive members set to exactly 1 (x·1 = x bit for bit, NaN and -0.0 too)."""
        return scale if active is None else torch.where(active, scale, torch.ones_like(scale))

    def _scale_to(self, names: list[str], target: Tensor, active: Tensor | None = None) -> None:
        """Rescale the named tensors of member m by one scalar so their joint norm is target[m] (NaN: untouched)."""
        norm = member_sq_norm(self.params, names).sqrt()
        # no additive epsilon in the ratio (unlike paper 1's target/(||W||+1e-12)): exact at any scale
        scale = torch.where(torch.isnan(target), torch.ones_like(norm), target / norm.clamp_min(1e-30))
        scale = self._only_active(scale, active)
        for n in names:
            p = self.params[n]
            p.mul_(_per_member(scale.to(p.dtype), p))

    @torch.no_grad()
    def on_eval(self, step: int, train_acc: Tensor, mem_threshold: float) -> None:
        newly = (self.t_mem_seen < 0) & (train_acc.cpu() >= mem_threshold)
        if newly.any():
            self.t_mem_seen[newly] = step
            self._wd_cache = None
            if self.freeze_at_t_mem:
                norm = member_sq_norm(self.params, self.weights).sqrt()
                self.frozen_norm[newly.to(self.device)] = norm[newly.to(self.device)]
                self._any_frozen = True

    def state_dict(self) -> dict:
        return {"t_mem_seen": self.t_mem_seen.clone(), "frozen_norm": self.frozen_norm.cpu().clone(),
                "clamp_target": self.clamp_target.cpu().clone()}

    def load_state_dict(self, sd: dict) -> None:
        """A state without ``clamp_target`` (written before relative clamps) keeps the configured targets; a
        branch (train.fork) must not call this with its parent's state if it measures its own relative targets."""
        self.t_mem_seen.copy_(sd["t_mem_seen"])
        if "clamp_target" in sd and sd["clamp_target"].shape == self.clamp_target.shape:
            measured = ~torch.isnan(self.clamp_relative.cpu()) & ~torch.isnan(sd["clamp_target"])
            if bool(measured.any()):  # a resumed relative clamp keeps the target it measured
                self.clamp_target = torch.where(measured.to(self.device), sd["clamp_target"].to(self.device),
                                                self.clamp_target)
                self._relative_pending = False
        self.frozen_norm.copy_(sd["frozen_norm"].to(self.device))
        self._any_frozen = bool((~torch.isnan(sd["frozen_norm"])).any())  # host copy: no device read
        self._wd_cache = None
