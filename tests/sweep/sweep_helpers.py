"""Tiny sweep specs for the tests (imported by the test modules of this folder)."""

from __future__ import annotations

import copy

TINY_BASE = {
    "task": {"name": "modular", "op": "add", "p": 11, "frac": 0.5},
    "model": {"name": "mlp", "d_embed": 8, "d_hidden": 32, "act": "gelu"},
    "optim": {"lr": 1e-2, "wd": 1.0},
    "train": {"steps": 60},
    "eval": {"points": 12},
    "checkpoint": {"count": 2},
}


def tiny_spec(**kw) -> dict:
    spec = {"name": "t", "base": copy.deepcopy(TINY_BASE), "seeds": 2}
    base_extra = kw.pop("base", {})
    for section, values in base_extra.items():
        if isinstance(values, dict) and isinstance(spec["base"].get(section), dict):
            spec["base"][section].update(values)
        else:
            spec["base"][section] = values
    spec.update(kw)
    return spec
