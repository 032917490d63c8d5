"""The per-run row cache of a catalog root, and loading the per-run rows through it.

The rows of every run are kept in ``<root>/catalog.parquet`` (runs) and ``<root>/catalog-members.parquet``
(members), written atomically by DuckDB itself. Each row carries its run's scan signature (``catalog_scan``: size
and mtime of the run's JSON documents, metrics files and offline files); a run whose signature matches in both
files is served from the cache, any other is read again. A damaged, foreign or older-format cache is ignored and
rewritten; a read-only tree is catalogued, just not cached.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .catalog_rows import fill_from_metrics, read_run
from .catalog_scan import Found
from .catalog_schema import MEMBER_FIELDS, RUN_FIELDS, RUN_META, json_table, sql_str

CACHE_NAME = "catalog.parquet"
CACHE_MEMBERS_NAME = "catalog-members.parquet"
CACHE_FORMAT = "grokscope-catalog-3"  # 3: event columns (_event_cols), offline files in the signature


def cache_paths(root: Path, found: list[Found]) -> tuple[Path, Path] | None:
    """The two cache files of ``root``; None when the root is itself one run (a run dir stays as its run wrote it)."""
    if len(found) == 1 and found[0].rel == ".":
        return None
    return root / CACHE_NAME, root / CACHE_MEMBERS_NAME


def cached_signatures(con: Any, paths: tuple[Path, Path]) -> tuple[dict[str, str], dict[str, str]]:
    """``(_rel -> _sig)`` of the runs file (current format only) and of the members file; empty when unreadable."""
    if not (paths[0].is_file() and paths[1].is_file()):
        return {}, {}
    try:
        runs = dict(con.execute("select _rel, _sig from read_parquet(?) where _format = ?",
                                [str(paths[0]), CACHE_FORMAT]).fetchall())
        members = dict(con.execute("select distinct _rel, _sig from read_parquet(?)", [str(paths[1])]).fetchall())
    except Exception:  # noqa: BLE001 - a damaged or foreign index is rebuilt
        return {}, {}
    return runs, members


def read_runs(con: Any, found: list[Found], warnings: list[str]) -> list[tuple[Found, dict]]:
    """The rows of each run in ``found`` (runs that cannot be read are skipped, with a warning)."""
    todo = []
    for f in found:
        if not _metrics_intact(f, warnings):
            continue
        try:
            rec = read_run(f, warnings)
        except (AttributeError, KeyError, TypeError, ValueError) as e:  # a document of the wrong shape
            warnings.append(f"{f.path}: skipped (malformed documents: {type(e).__name__}: {e})")
            continue
        if rec is not None:
            rec["run"] = {"_format": CACHE_FORMAT, **rec["run"]}
            todo.append((f, rec))
    if todo:
        fill_from_metrics(con, todo, warnings)
    return todo


def _metrics_intact(f: Found, warnings: list[str]) -> bool:
    """Whether every metrics / offline Parquet file of ``f`` matches its recorded checksum (issue 11: a flipped
    byte must not turn into a silently wrong value in ``query``). Checked when the run's row is (re)built, i.e.
    whenever one of its files changed since the cache was written; a damaged run is left out with one warning and
    is not cached, so it is checked again next time."""
    from .integrity import DamagedFile, verify

    for path in [*f.files, *f.offline]:
        try:
            verify(Path(path))
        except FileNotFoundError:  # a chunk removed by a compaction under us: the view re-lists the run's files
            continue
        except DamagedFile as e:
            warnings.append(f"{f.path}: skipped ({Path(path).name} is damaged: {e.what})")
            return False
    return True


def load(con: Any, root: Path, found: list[Found], use_cache: bool, warnings: list[str]) -> int:
    """Tables ``_all_runs`` and ``_all_members``: the rows of every run in ``found``, from the cache where it is
    current; the cache is rewritten when anything changed. Returns how many runs were read from their documents."""
    paths = cache_paths(root, found) if use_cache and found else None
    cached, msig = cached_signatures(con, paths) if paths is not None else ({}, {})
    valid = {f.rel for f in found if cached.get(f.rel) == f.sig and msig.get(f.rel) == f.sig}
    todo = read_runs(con, [f for f in found if f.rel not in valid], warnings)
    json_table(con, "_new_runs", [rec["run"] for _, rec in todo], [*RUN_META, *RUN_FIELDS])
    json_table(con, "_new_members", [m for _, rec in todo for m in rec["members"]], ["_rel", "_sig", *MEMBER_FIELDS])
    keep = sorted(valid)
    for table, new, i in (("_all_runs", "_new_runs", 0), ("_all_members", "_new_members", 1)):
        parts, params = [], []
        if keep and paths is not None:  # the unchanged runs, from the index
            parts.append(f"select * from read_parquet({sql_str(str(paths[i]))}) where list_contains(?, _rel)")
            params.append(keep)
        if todo or not parts:
            parts.append(f"select * from {new}")
        con.execute(f"create table {table} as " + " union all by name ".join(parts), params)
    if found and paths is not None and (todo or set(cached) != valid or len(valid) != len(found)):
        write_cache(con, paths)
    return len(todo)


def write_cache(con: Any, paths: tuple[Path, Path]) -> None:
    """Write ``_all_runs`` / ``_all_members`` to the cache files (temp file + rename each); errors are ignored."""
    tmps = []
    try:
        for table, path in zip(("_all_runs", "_all_members"), paths):
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmps.append(tmp)
            con.execute(f"copy (select * from {table}) to {sql_str(tmp)} (format parquet)")
        for tmp, path in zip(tmps, paths):
            os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - a read-only tree is catalogued, just not cached
        for tmp in tmps:
            Path(tmp).unlink(missing_ok=True)
