"""Saving a figure in the format its file name asks for (``--out x.pdf`` is a PDF), atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UserError

FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def figure_format(path: str | Path) -> str:
    """matplotlib's format name for ``path``'s suffix (PNG, PDF or SVG); anything else is a UserError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"cannot write a figure as {Path(path).name!r}: use a .png, .pdf or .svg file name")
    return FORMATS[suffix]


def save_figure(fig: Any, path: str | Path, dpi: int = 110, checksum: bool = False) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (through a temp file and a rename); ``checksum``:
    record its sidecar too (files inside a run directory)."""
    from ..store.atomic import write_atomic

    fmt = figure_format(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda p: fig.savefig(p, dpi=dpi, format=fmt), checksum=checksum)
    return path
