"""Atomic file writes: write a temp file in the same directory, fsync, record its checksum, then rename over the
target."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, write: Callable[[Path], None], checksum: bool = True) -> None:
    """Write ``path`` via ``write(tmp)``; with ``checksum``, its SHA-256 sidecar first (``store/integrity.py``)."""
    from .integrity import digest, record

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files get the usual permissions
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if checksum:
            record(path, digest(Path(tmp)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN / inf float replaced by None: the store writes standard JSON only (a metric that went
    non-finite reads as missing, never as the non-standard ``NaN`` other tools reject)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


def write_json(path: Path, obj: Any) -> None:
    text = json.dumps(finite_json(obj), indent=2, default=str, allow_nan=False) + "\n"
    write_atomic(path, lambda p: p.write_text(text))
