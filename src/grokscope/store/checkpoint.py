"""Checkpoints and resume state: ``torch.save`` through an atomic rename, loaded with ``weights_only=True``
(never executing pickled code)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError, first_line
from .atomic import write_atomic
from .integrity import DamagedFile, verify


def save(path: Path, obj: dict[str, Any]) -> None:
    write_atomic(path, lambda p: torch.save(obj, p))


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        verify(path)  # flipped bytes in tensor data would otherwise load as silently altered weights
    except DamagedFile as e:
        raise DamagedFile(path, e.what, f"corrupt checkpoint {path}: {e.what}") from None
    try:
        with warnings.catch_warnings():  # a raw (non-zip) pickle makes torch warn before failing: one line only
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint for the user
        text = str(e).strip()
        if "Weights only load failed" in text or "Unsupported global" in text:
            reason = "it holds objects other than tensors and plain values (refused: loading never runs pickled code)"
        elif not zipfile.is_zipfile(path):  # torch.save writes a zip archive
            reason = "truncated or not a torch checkpoint"
        elif isinstance(e, (EOFError, RuntimeError)) or "pickle" in type(e).__name__.lower():
            reason = f"truncated or not a torch checkpoint ({type(e).__name__})"
        else:
            reason = first_line(e, 200)
        raise DamagedFile(path, reason, f"corrupt checkpoint {path}: {reason}") from None
    if not isinstance(obj, dict):
        what = f"holds a {type(obj).__name__}, not a dict"
        raise DamagedFile(path, what, f"corrupt checkpoint {path}: {what}")
    return obj


def ckpt_path(ckpt_dir: Path, step: int) -> Path:
    return ckpt_dir / f"step_{step:08d}.pt"


def state_path(ckpt_dir: Path, step: int) -> Path:
    """A full training state kept at a checkpoint step (``checkpoint.states``), for ``train.fork``."""
    return ckpt_dir / f"state_{step:08d}.pt"
