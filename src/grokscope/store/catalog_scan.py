"""Finding run directories below a catalog root, and the files of each that the catalog reads.

A run directory is a directory holding ``config.json`` and ``meta.json``; it is a leaf (nothing below it is
searched). A sweep directory holds ``sweep.json``. Dot-directories (temp dirs of runs being created, caches) and
run internals (``SKIP_DIRS``) are skipped. Each run gets a signature string that changes whenever one of its JSON
documents, its metrics files or its offline result files changes: the key of the per-run row cache
(``catalog_cache``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {"__pycache__", "node_modules", "ckpt"}
SIG_DOCS = ("config.json", "meta.json", "members.json", "events.json", "metrics.parquet")
OFFLINE_DIR = "offline"  # <run>/offline/<name>.parquet: long-format results computed later on stored checkpoints


@dataclass
class Found:
    """One run directory found by ``scan``."""

    rel: str  # POSIX path relative to the root ("." for the root itself)
    path: str  # absolute path
    sig: str  # changes whenever a document, a metrics file or an offline file of the run changes
    files: list[str]  # training metrics Parquet files (compacted file first, then chunks)
    names: set[str]  # entries of the run directory
    offline: list[str] = field(default_factory=list)  # offline result Parquet files, by name


def _stat_sig(entry: os.DirEntry) -> str:
    st = entry.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def _parquet_entries(path: str, prefix: str, warnings: list[str]) -> list[os.DirEntry]:
    """The ``<prefix>*.parquet`` files of a folder, by name; temp files of atomic writes (``.name.tmp``) excluded."""
    try:
        return sorted((e for e in os.scandir(path) if e.name.startswith(prefix) and not e.name.startswith(".")
                       and e.name.endswith(".parquet")), key=lambda e: e.name)
    except OSError as e:
        warnings.append(f"{path}: cannot list ({e.strerror or e})")
        return []


def _listing_sig(parts: list[os.DirEntry]) -> str:
    return ",".join(f"{e.name}:{_stat_sig(e)}" for e in parts)


def inspect_run(entries: dict[str, os.DirEntry], warnings: list[str]) -> tuple[str, list[str], list[str]]:
    """A run directory's signature, its metrics files and its offline files (from its directory entries)."""
    parts_sig = ""
    files = []
    if "metrics.parquet" in entries:
        files.append(entries["metrics.parquet"].path)
    m = entries.get("metrics")
    if m is not None and m.is_dir() and not files:  # beside metrics.parquet, chunks are leftovers (RunDir.compact)
        parts = _parquet_entries(m.path, "part-", warnings)
        files.extend(e.path for e in parts)
        parts_sig = _listing_sig(parts)
    sig = "|".join(f"{n}={_stat_sig(entries[n])}" if n in entries else f"{n}=-" for n in SIG_DOCS)
    sig = f"{sig}|parts={parts_sig}"
    off = entries.get(OFFLINE_DIR)
    offline: list[str] = []
    if off is not None and off.is_dir():
        found = _parquet_entries(off.path, "", warnings)
        offline = [e.path for e in found]
        sig += f"|offline={_listing_sig(found)}"  # runs without offline/ keep the signature they had
    return sig, files, offline


def scan(root: Path, warnings: list[str] | None = None) -> tuple[list[Found], list[Path]]:
    """Every run directory (config.json + meta.json) and every sweep dir (sweep.json) below ``root``.

    A directory that cannot be listed is reported in ``warnings`` and skipped (the root itself included).
    """
    warnings = [] if warnings is None else warnings
    runs: list[Found] = []
    sweeps: list[Path] = []
    stack = [str(root)]
    seen: set[tuple[int, int]] = set()
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or two links to one tree
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = {e.name: e for e in os.scandir(d)}
        except FileNotFoundError:  # removed while we walked (a temp dir of a running sweep)
            continue
        except OSError as e:
            warnings.append(f"{d}: skipped, cannot list ({e.strerror or e})")
            continue
        if "config.json" in entries and "meta.json" in entries:
            try:
                sig, files, offline = inspect_run(entries, warnings)
            except OSError as e:  # a file vanished between the listing and its stat (a run being written)
                warnings.append(f"{d}: skipped ({e.strerror or e})")
                continue
            rel = os.path.relpath(d, root).replace(os.sep, "/")
            runs.append(Found(rel, d, sig, files, set(entries), offline))
            continue
        if "sweep.json" in entries:
            sweeps.append(Path(d))
        for name, e in entries.items():
            if name.startswith(".") or name in SKIP_DIRS:
                continue
            try:
                if e.is_dir():
                    stack.append(e.path)
            except OSError:
                continue
    runs.sort(key=lambda f: f.rel)
    return runs, sweeps
