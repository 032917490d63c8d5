"""Actions a closed-loop rule (``[[intervene.on_alarm]]``, ``train/rules.py``) applies to one member, and the
per-member controls they change. A small registry: ``@register_action("name")`` on a function
``(setup, member, **args) -> str`` (the returned text goes into the firing's event); its keyword arguments are
the action's config keys, checked when the run is built.

Built in (papers/03 §11 E3's controller: halve the lr, add replay of the old task; escalation: freeze fc1):

- ``scale_lr(factor)``: the member's lr is multiplied by ``factor`` from the next update on (cumulative);
- ``set_replay(fraction, source)``: the member's batches replay ``fraction`` of phase ``source``'s training data
  (needs ``[[phases]]`` and a minibatch, see ``train/phases.py``);
- ``freeze_group(group)``: the member's parameters of a model group (``hidden``, ``unembed``, ...) stop changing
  (restored bit for bit after each optimizer step: no update, no decay; Adam moments keep running);
- ``reinit_heads(heads, layer=0)``: re-draw the member's chosen attention heads from the model's init
  (``train/surgery.py``; papers/02 §9's intervention B, here triggered by a rule instead of at a fixed step);
- ``clip_norm(target= | factor= | match_heads=, layer=0)``: one scalar rescales the member's weight matrices so
  that ‖W‖ equals ``target``, or ``factor`` × its current value, or the norm a ``reinit_heads(match_heads)`` with
  the same draw would give (02 §9's matched clipping, C).

The surgery actions draw member m's n-th firing from ``Generator().manual_seed(init_seed_m · 1,000,003 + n)`` (n is
counted per member and saved in the resume state), so a re-init and a matched clip that fire at the same count
share the draw, and a resumed run draws what the uninterrupted one did.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

Action = Callable[..., str]
ACTIONS: dict[str, Action] = {}


def register_action(name: str) -> Callable[[Action], Action]:
    """Register ``fn(setup, member, **args) -> description`` as the action ``name``."""
    def deco(fn: Action) -> Action:
        if name in ACTIONS:
            raise ValueError(f"action {name!r} is already registered")
        ACTIONS[name] = fn
        return fn
    return deco


def check_action(name: str, args: dict[str, Any], where: str) -> None:
    """A ValueError unless ``name`` is registered and ``args`` bind to its keyword arguments."""
    if name not in ACTIONS:
        raise ValueError(f"{where}: unknown action {name!r} (registered: {', '.join(sorted(ACTIONS))})")
    try:
        inspect.signature(ACTIONS[name]).bind(None, 0, **args)
    except TypeError as e:
        raise ValueError(f"{where}: action {name!r}: {e}") from None


class Controls:
    """Per-member controls actions set (host arrays; a device copy is rebuilt only when an action changes them,
    so a run without firings pays nothing per step). Saved in the resume state."""

    def __init__(self, M: int, groups: dict[str, list[str]], device: torch.device) -> None:
        self.M, self.groups, self.device = M, groups, device
        self.lr_scale = np.ones(M)
        self.frozen: dict[str, np.ndarray] = {}  # group -> bool [M]
        self.draws = np.zeros(M, dtype=np.int64)  # surgery draws so far, per member (seeds the next one)
        self._lr_dev: Tensor | None = None
        self._frozen_dev: dict[str, Tensor] = {}

    def lr_factor(self, like: Tensor) -> Tensor | None:
        """[M] lr multiplier on the device (None while every factor is 1: nothing to multiply)."""
        if np.all(self.lr_scale == 1.0):
            return None
        if self._lr_dev is None:
            self._lr_dev = torch.tensor(self.lr_scale, dtype=like.dtype, device=like.device)
        return self._lr_dev

    def frozen_masks(self) -> dict[str, Tensor]:
        """parameter name -> bool [M] on the device, for the parameters some member froze."""
        if not self._frozen_dev and self.frozen:
            for g, mask in self.frozen.items():
                for n in self.groups[g]:
                    self._frozen_dev[n] = torch.tensor(mask, device=self.device)
        return self._frozen_dev

    def changed(self) -> None:
        self._lr_dev, self._frozen_dev = None, {}

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale.tolist(), "frozen": {g: m.tolist() for g, m in self.frozen.items()},
                "draws": self.draws.tolist()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.lr_scale = np.array(sd["lr_scale"], dtype=float)
        self.frozen = {g: np.array(m, dtype=bool) for g, m in sd["frozen"].items()}
        self.draws = np.array(sd.get("draws", [0] * self.M), dtype=np.int64)
        self.changed()


def restore_frozen(params: dict[str, Tensor], before: dict[str, Tensor], masks: dict[str, Tensor]) -> None:
    """After an optimizer step: frozen members' parameters back to their values before it (exactly)."""
    with torch.no_grad():
        for n, mask in masks.items():
            p = params[n]
            p.copy_(torch.where(mask.view(-1, *([1] * (p.dim() - 1))), before[n], p))


@register_action("scale_lr")
def scale_lr(s: Any, m: int, factor: float) -> str:
    if not factor > 0:
        raise ValueError(f"scale_lr: factor must be > 0, got {factor}")
    c = s.controls
    c.lr_scale[m] *= factor
    c.changed()
    return f"lr × {factor:g} (now × {c.lr_scale[m]:g})"


@register_action("set_replay")
def set_replay(s: Any, m: int, fraction: float, source: str) -> str:
    if s.phases is None:
        raise ValueError("set_replay needs [[phases]] (the replayed data is a phase's task)")
    s.phases.set_replay(m, fraction, source)
    return f"replay {fraction:g} of {source}"


@register_action("freeze_group")
def freeze_group(s: Any, m: int, group: str) -> str:
    c = s.controls
    if group not in c.groups:
        raise ValueError(f"freeze_group: unknown group {group!r} (model groups: {sorted(c.groups)})")
    c.frozen.setdefault(group, np.zeros(c.M, dtype=bool))[m] = True
    c.changed()
    return f"froze {group}"


def _surgery_args(s: Any, m: int) -> tuple[dict[str, float], int, list[torch.Generator], list[float]]:
    n_heads = getattr(s.model.cfg, "n_heads", None)
    if n_heads is None:
        raise ValueError(f"the {s.cfg.model.name!r} model has no attention heads to re-initialise")
    seed = int(s.init_seeds[m]) * 1_000_003 + int(s.controls.draws[m])
    return ({sp.name: sp.std for sp in s.model.specs}, n_heads, [torch.Generator().manual_seed(seed)],
            [s.members[m].intervene.init_scale])


@register_action("reinit_heads")
def reinit_heads(s: Any, m: int, heads: list[int], layer: int = 0) -> str:
    from .surgery import reinit_heads as kernel

    stds, n_heads, gens, scale = _surgery_args(s, m)
    kernel(s.params, stds, layer, heads, n_heads, [m], gens, scale)
    s.controls.draws[m] += 1
    return f"re-initialised heads {list(heads)} of layer {layer}"


@register_action("clip_norm")
def clip_norm(s: Any, m: int, target: float | None = None, factor: float | None = None,
              match_heads: list[int] | None = None, layer: int = 0) -> str:
    from .surgery import clip_to_norm, norm_after_reinit

    if sum(x is not None for x in (target, factor, match_heads)) != 1:
        raise ValueError("clip_norm: give exactly one of target, factor, match_heads")
    names = s.iv.weights
    goal = torch.full((s.M,), float("nan"), dtype=torch.float64)
    if match_heads is not None:
        stds, n_heads, gens, scale = _surgery_args(s, m)
        goal[m] = norm_after_reinit(s.params, names, stds, layer, match_heads, n_heads, [m], gens, scale)[m].cpu()
        s.controls.draws[m] += 1
    elif factor is not None:
        from .interventions import member_sq_norm

        goal[m] = float(member_sq_norm(s.params, names)[m].detach().sqrt()) * factor
    else:
        goal[m] = target
    if not goal[m] > 0:
        raise ValueError(f"clip_norm: the target norm must be > 0, got {float(goal[m])}")
    clip_to_norm(s.params, names, goal.to(next(iter(s.params.values())).device))
    return f"‖W‖ clipped to {float(goal[m]):.4g}"
