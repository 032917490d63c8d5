"""Checksums of the files the store writes, verified on read (issue 11: flipped bytes must never load silently).

Every file written through ``atomic.write_atomic`` gets a sidecar ``.<name>.sha256`` beside it holding the
SHA-256 of its content. The sidecar is written (atomically) *before* the data file is renamed into place and
also keeps the previous version's digest, so a kill between the two renames leaves a pair that still verifies
(the old data matches ``prev``). A file without a sidecar (a run written before checksums) is read unverified.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..errors import UserError

CHUNK = 1 << 20
CHECKSUM_MISMATCH = "its checksum does not match the one recorded when it was written"


class DamagedFile(UserError):
    """A stored file whose content no longer matches its recorded checksum (or cannot be parsed)."""

    def __init__(self, path: Path, what: str, message: str | None = None) -> None:
        super().__init__(message or f"{path} is damaged ({what})")
        self.path, self.what = path, what


def _umask() -> int:
    from .atomic import _UMASK

    return _UMASK


def sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.sha256")


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def recorded(path: Path) -> dict[str, str] | None:
    """The sidecar's digests ``{"sha256", "prev"}``, None when there is none; a damaged sidecar raises."""
    side = sidecar(path)
    try:
        doc = json.loads(side.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        raise DamagedFile(side, "checksum file is not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("sha256"), str):
        raise DamagedFile(side, "checksum file has the wrong shape")
    return doc


def record(target: Path, new_digest: str) -> None:
    """Write ``target``'s sidecar for content ``new_digest`` (before ``target`` is replaced)."""
    prev = None
    try:
        old = recorded(target)
        prev = old["sha256"] if old else None
    except DamagedFile:
        pass  # a damaged sidecar is replaced by a good one
    side = sidecar(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{side.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            json.dump({"sha256": new_digest, "prev": prev}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, side)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def verify(path: Path) -> None:
    """Raise ``DamagedFile`` when ``path`` does not match its recorded checksum (no sidecar: nothing to check)."""
    doc = recorded(path)
    if doc is None:
        return
    actual = digest(path)
    if actual != doc["sha256"] and actual != doc.get("prev"):
        raise DamagedFile(path, CHECKSUM_MISMATCH)


def forget(path: Path) -> None:
    """Remove ``path`` and its sidecar."""
    path.unlink(missing_ok=True)
    sidecar(path).unlink(missing_ok=True)
