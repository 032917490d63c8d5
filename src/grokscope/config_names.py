"""Names of runs built from a preset with a different task or model (issue 12: ``--set task.op=x2xyy2`` on
``quick`` was still named and titled "quick"), and the note saying which fields switching ``task.name`` /
``model.name`` reset. ``config.load_config`` applies both; ``name=`` given by the user always wins."""

from __future__ import annotations

import re
from typing import Any

MAX_NAME = 100  # config.NAME_RE: one path component of at most 100 characters
SECTIONS = ("task", "model")


def _token(value: Any) -> str:
    """A value as name characters: lists joined by '_', anything outside [A-Za-z0-9._] dropped."""
    if isinstance(value, (list, tuple)):
        value = "_".join(str(v) for v in value)
    return re.sub(r"[^A-Za-z0-9._]", "", str(value))


def differences(base: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """``key=value`` for each task/model field of ``cfg`` that differs from ``base`` (both model_dump dicts); a
    switched family is ``task=<name>`` followed by its fields that differ from the base's same-named fields."""
    parts: list[str] = []
    for section in SECTIONS:
        old, new = base.get(section) or {}, cfg.get(section) or {}
        if old.get("name") != new.get("name"):
            parts.append(f"{section}={_token(new.get('name'))}")
        for key, value in new.items():
            if key != "name" and key in old and old[key] != value:
                parts.append(f"{key}={_token(value)}")
    return parts


def derived_name(base_name: str, parts: list[str]) -> str:
    """``<base>-<part>-<part>...`` cut at a part boundary to at most ``MAX_NAME`` characters (the run directory
    appends ``-<hash>``, so two runs never collide on a shortened name)."""
    name = base_name
    for p in parts:
        if not p or len(name) + 1 + len(p) > MAX_NAME:
            break
        name = f"{name}-{p}"
    return name


def reset_note(section: str, old: dict[str, Any], new: dict[str, Any], kept: set[str]) -> str | None:
    """One line saying which ``section`` fields switching its family reset to the new family's defaults (or
    dropped); ``kept`` are the fields the user set after the switch."""
    reset, dropped = [], []
    for key, value in old.items():
        if key == "name" or key in kept:
            continue
        if key not in new:
            dropped.append(f"{section}.{key}")
        elif new[key] != value:
            reset.append(f"{section}.{key} ({value!r} -> {new[key]!r})")
    if not reset and not dropped:
        return None
    text = f"{section}.name={new.get('name')} reset the other {section} fields: "
    bits = []
    if reset:
        bits.append("to defaults " + ", ".join(reset))
    if dropped:
        bits.append("dropped " + ", ".join(dropped))
    return text + "; ".join(bits) + f" (set them after {section}.name to keep them)"
