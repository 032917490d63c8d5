"""Weight surgery kernels: re-initialise chosen attention heads; rescale weights to a norm exactly (papers/02 §9).

Paper 9's intervention experiment (arXiv:2605.20441, 02 §9 "Intervention") compares, at λ = 0.05 and paired seeds,
A = control, B = attention-head re-initialisation and C = matched weight-norm clipping. These are the pure kernels
behind ``intervene.reinit_heads`` and ``intervene.clip_norm`` (``train.interventions``), kept free of the run
machinery so that other triggers (an on-alarm rule) can call them too.

Head layout (the ``transformer`` model, ``[M, in, out]`` weights): head h of layer l owns the columns
``h·d_head : (h+1)·d_head`` of ``W_Q``, ``W_K``, ``W_V`` (and of the biases ``b_Q``, ``b_K``, ``b_V``) and the same
rows of ``W_O``. Re-initialising a head re-draws exactly those entries from the model's init distribution
(``N(0, std²)`` with the parameter's init std, times ``intervene.init_scale``; zero-init biases back to 0);
every other entry is left bit for bit as it was. Optimizer moments are not touched (as for every intervention).

Matched clipping [reconstructed: the paper does not say how its target was matched]: one common scalar per member
rescales every weight matrix so that ``‖W‖`` (02 conventions: biases excluded) equals the norm the member's
weights *would* have right after the head re-initialisation of the same step and draw, so C changes the norm as
B does while leaving every head's pattern direction intact.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .interventions import member_sq_norm

# (parameter suffix, axis of the head blocks in the per-member tensor [in, out] / [n])
HEAD_AXES = (("W_Q", 1), ("W_K", 1), ("W_V", 1), ("W_O", 0), ("b_Q", 0), ("b_K", 0), ("b_V", 0))


def head_columns(heads: Sequence[int], d_head: int, n_heads: int) -> Tensor:
    """int64 indices of the entries of the heads ``heads`` along a head-major axis of length n_heads·d_head."""
    bad = [h for h in heads if not 0 <= h < n_heads]
    if bad or not heads:
        raise ValueError(f"heads {list(heads)}: choose at least one of 0..{n_heads - 1}")
    return torch.cat([torch.arange(h * d_head, (h + 1) * d_head) for h in sorted(set(heads))])


def head_slots(layer: int, prefix: str = "blocks") -> list[tuple[str, int]]:
    """(parameter name, head axis in the per-member tensor) of one attention layer's head-owned tensors."""
    return [(f"{prefix}.{layer}.attn.{s}", axis) for s, axis in HEAD_AXES]


@torch.no_grad()
def reinit_heads(params: dict[str, Tensor], stds: dict[str, float], layer: int, heads: Sequence[int],
                 n_heads: int, members: Sequence[int], generators: Sequence[torch.Generator],
                 scale: Sequence[float] | float = 1.0) -> None:
    """Re-draw, in place, the parameters of ``heads`` in attention layer ``layer`` for each member in ``members``.

    ``params``: name -> ``[M, ...]``; ``stds``: a tensor's init std (0: zero-init); ``generators[i]`` draws member
    ``members[i]``'s values (float64, then cast), ``scale``: the init scale α (per member or one). Tensors of the
    layer that the model lacks (biases of a bias-free model) are skipped; nothing else is written."""
    scales = [float(scale)] * len(members) if isinstance(scale, (int, float)) else [float(s) for s in scale]
    for i, m in enumerate(members):
        for name, axis in head_slots(layer):
            if name not in params:
                continue
            p = params[name]
            width = p.shape[1 + axis]
            idx = head_columns(heads, width // n_heads, n_heads).to(p.device)
            shape = list(p.shape[1:])
            shape[axis] = len(idx)
            std = stds.get(name, 0.0)
            if std == 0.0:
                new = torch.zeros(shape, dtype=torch.float64)
            else:
                new = torch.randn(shape, generator=generators[i], dtype=torch.float64) * std
                new = new * (scales[i] if name.split(".")[-1].startswith("W_") else 1.0)
            p[m].index_copy_(axis, idx, new.to(p.dtype).to(p.device))


@torch.no_grad()
def clip_to_norm(params: dict[str, Tensor], names: Sequence[str], target: Tensor) -> None:
    """Scale the named tensors of member m by one scalar so that their joint norm is ``target[m]`` (``[M]``; NaN:
    leave member m untouched). Exact up to the working precision's rounding of the product."""
    names = list(names)
    norm = member_sq_norm(params, names).sqrt()
    target = target.to(norm)
    factor = torch.where(torch.isnan(target), torch.ones_like(norm), target / norm.clamp_min(1e-30))
    for n in names:
        p = params[n]
        p.mul_(factor.to(p.dtype).view(-1, *([1] * (p.dim() - 1))))


@torch.no_grad()
def norm_after_reinit(params: dict[str, Tensor], names: Sequence[str], stds: dict[str, float], layer: int,
                      heads: Sequence[int], n_heads: int, members: Sequence[int],
                      generators: Sequence[torch.Generator], scale: Sequence[float] | float = 1.0) -> Tensor:
    """``[M]`` float64: the joint norm of ``names`` each member would have after ``reinit_heads`` with these
    arguments (computed on copies; ``params`` unchanged). Members not in ``members``: NaN."""
    touched = {n for n, _ in head_slots(layer)}
    copy = {n: (p.clone() if n in touched else p) for n, p in params.items()}
    reinit_heads(copy, stds, layer, heads, n_heads, members, generators, scale)
    norm = member_sq_norm(copy, list(names)).sqrt()
    keep = torch.zeros_like(norm, dtype=torch.bool)
    keep[list(members)] = True
    return torch.where(keep, norm, torch.full_like(norm, float("nan")))


class ScheduledSurgery:
    """``intervene.reinit_heads`` / ``intervene.clip_norm`` of each member, applied once after their step.

    Member m's re-initialisation draw comes from ``torch.Generator().manual_seed(draw_seeds[m] + step)``, where
    ``draw_seeds[m]`` derives from the task and the member seed only (never from the intervention), so a re-init arm
    and its matched-clip arm (and any other arm of the same seed) share the draw: the clip target is the norm that
    the re-init arm's member really gets at that step (when both start from the same weights, as paired arms do)."""

    def __init__(self, members: list, draw_seeds: list[int], stds: dict[str, float], n_heads: int | None,
                 init_scale: list[float], weights: list[str]) -> None:
        self.reinit = [mc.intervene.reinit_heads for mc in members]
        self.clip = [mc.intervene.clip_norm for mc in members]
        self.draw_seeds, self.stds, self.n_heads = draw_seeds, stds, n_heads
        self.init_scale, self.weights = init_scale, weights
        self.steps = {c.step for c in [*self.reinit, *self.clip] if c is not None}
        if self.steps and n_heads is None and (any(self.reinit) or any(c and c.match_heads for c in self.clip)):
            raise ValueError("intervene.reinit_heads / clip_norm.match_heads need a model with attention heads")

    def _gens(self, members: list[int], step: int) -> list[torch.Generator]:
        return [torch.Generator().manual_seed(self.draw_seeds[m] + step) for m in members]

    @torch.no_grad()
    def after_step(self, params: dict[str, Tensor], step: int, active: Tensor | None = None) -> None:
        if step not in self.steps:  # a host set lookup: no device read on the other steps
            return
        live = [True] * len(self.reinit) if active is None else [bool(a) for a in active.cpu()]
        clip = [m for m, c in enumerate(self.clip) if c is not None and c.step == step and live[m]]
        if clip:
            target = torch.full((len(self.clip),), float("nan"), dtype=torch.float64)
            for m in clip:
                c = self.clip[m]
                if c.target is not None:
                    target[m] = c.target
                else:
                    target[m] = norm_after_reinit(params, self.weights, self.stds, c.layer, c.match_heads,
                                                  self.n_heads, [m], self._gens([m], step),
                                                  [self.init_scale[m]])[m].cpu()
            clip_to_norm(params, self.weights, target.to(next(iter(params.values())).device))
        for m, r in enumerate(self.reinit):
            if r is not None and r.step == step and live[m]:
                reinit_heads(params, self.stds, r.layer, r.heads, self.n_heads, [m], self._gens([m], step),
                             [self.init_scale[m]])
