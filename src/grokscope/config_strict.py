"""Strict scalar types for configs: what pydantic's lax mode would coerce silently is refused (issue 11).

Lax validation turns ``intervene.wd_off_step=false`` into 0 and ``train.steps=true`` into 1, and lets
``optim.lr=.inf`` through. These checks compare the raw input with the validated config, field by field, so they
cover every section (task and model configs included) without each declaring strict types:

- a bool where the validated field holds a number, or a number where it holds a bool, is an error;
- NaN or ±inf anywhere in the input (any numeric field, ``members.vary`` lists, rescale factors) is an error.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

MAX_DEPTH = 32  # configs are a few levels deep; deeper input is refused before anything recurses on it


def non_finite(data: Any, path: str = "", depth: int = 0) -> str | None:
    """The dotted key of the first NaN/inf number in ``data`` (nested dicts/lists), else None."""
    if depth > MAX_DEPTH:
        return f"{path or 'config'}: nested deeper than {MAX_DEPTH} levels"
    if isinstance(data, float) and not math.isfinite(data):
        return f"{path}: must be a finite number (got {data!r})"
    if isinstance(data, dict):
        for k, v in data.items():
            bad = non_finite(v, f"{path}.{k}" if path else str(k), depth + 1)
            if bad:
                return bad
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            bad = non_finite(v, f"{path}[{i}]", depth + 1)
            if bad:
                return bad
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_mismatch(raw: Any, validated: Any, path: str = "", depth: int = 0) -> str | None:
    """The first place where ``raw`` was a bool and became a number, or a number and became a bool."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(raw, bool) and _is_number(validated):
        return f"{path}: expects a number, got {str(raw).lower()}"
    if _is_number(raw) and isinstance(validated, bool):
        return f"{path}: expects true or false, got {raw!r}"
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(validated, BaseModel):
                if k not in type(validated).model_fields:
                    continue
                sub = getattr(validated, k)
            elif isinstance(validated, dict) and k in validated:
                sub = validated[k]
            else:
                continue
            bad = type_mismatch(v, sub, f"{path}.{k}" if path else str(k), depth + 1)
            if bad:
                return bad
    elif isinstance(raw, (list, tuple)) and isinstance(validated, (list, tuple)) and len(raw) == len(validated):
        for i, (r, v) in enumerate(zip(raw, validated)):
            bad = type_mismatch(r, v, f"{path}[{i}]", depth + 1)
            if bad:
                return bad
    return None
