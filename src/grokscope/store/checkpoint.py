"""Checkpoints and resume state: ``torch.save`` through an atomic rename, loaded with ``weights_only=True``
(never executing pickled code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from .atomic import write_atomic


def save(path: Path, obj: dict[str, Any]) -> None:
    write_atomic(path, lambda p: torch.save(obj, p))


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint for the user
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"corrupt checkpoint {path}: {reason[:200]}") from None


def ckpt_path(ckpt_dir: Path, step: int) -> Path:
    return ckpt_dir / f"step_{step:08d}.pt"
