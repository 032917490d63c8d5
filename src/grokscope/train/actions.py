"""Actions a closed-loop rule (``[[intervene.on_alarm]]``, ``train/rules.py``) applies to one member, and the
per-member controls they change. A small registry: ``@register_action("name")`` on a function
``(setup, member, **args) -> str`` (the returned text goes into the firing's event); its keyword arguments are
the action's config keys, checked when the run is built.

Built in (papers/03 §11 E3's controller: halve the lr, add replay of the old task; escalation: freeze fc1):

- ``scale_lr(factor)``: the member's lr is multiplied by ``factor`` from the next update on (cumulative);
- ``set_replay(fraction, source)``: the member's batches replay ``fraction`` of phase ``source``'s training data
  (needs ``[[phases]]`` and a minibatch, see ``train/phases.py``);
- ``freeze_group(group)``: the member's parameters of a model group (``hidden``, ``unembed``, ...) stop changing
  (restored bit for bit after each optimizer step: no update, no decay; Adam moments keep running).
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
        return {"lr_scale": self.lr_scale.tolist(), "frozen": {g: m.tolist() for g, m in self.frozen.items()}}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.lr_scale = np.array(sd["lr_scale"], dtype=float)
        self.frozen = {g: np.array(m, dtype=bool) for g, m in sd["frozen"].items()}
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
