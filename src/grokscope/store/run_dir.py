"""The run directory, the unit of durability::

    runs/<run-id>/
      config.json        resolved config (the run id is derived from its hash)
      members.json       one row per member: seed, per-member values, init/split seeds
      meta.json          versions, git revision, device, threads, status, steps done
      metrics/           part-NNNNN.parquet chunks while running (long format: step, member, metric, value)
      metrics.parquet    all chunks compacted when the run completes
      events.json        T_mem / T_grok / delay / censoring per member
      state.pt           latest resume state (params, optimizer, interventions, RNG), written atomically
      state.prev.pt      the resume state before it: what resume falls back to when state.pt is damaged
      ckpt/step_NNNNNNNN.pt   weights-only checkpoints on a log-spaced schedule
      ckpt/state_NNNNNNNN.pt  full training state at the last step of a complete run (what `resume --steps N`
                              extends from; grokscope/extend.py), and at every checkpoint with checkpoint.states
      offline/<name>.parquet  results computed later from checkpoints (same long format; written once each)
      curves.png
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError, first_line
from .atomic import write_atomic, write_json
from .integrity import DamagedFile, forget, verify

JSON_SHAPES: dict[str, type] = {"config.json": dict, "meta.json": dict, "members.json": list, "events.json": list}
ROW_KEYS = {"members.json": {"member", "seed"},
            "events.json": {"member", "seed", "t_mem", "t_grok", "delay", "censored", "budget"}}


def inside(root: Path, path: Path) -> Path:
    """``path`` if it lies inside ``root`` once both are resolved (symlinks, '..'), else a UserError."""
    r, p = Path(os.path.abspath(root)), Path(os.path.abspath(path))
    if p != r and r not in p.parents:
        raise UserError(f"{path} lies outside {root}; refused")
    return path

METRICS_SCHEMA = pa.schema([("step", pa.int64()), ("member", pa.int32()), ("metric", pa.string()),
                            ("value", pa.float64())])


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None

    # -- paths ----------------------------------------------------------------------------------------------
    @property
    def parts_dir(self) -> Path:
        return self.path / "metrics"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.parquet"

    @property
    def ckpt_dir(self) -> Path:
        return self.path / "ckpt"

    def exists(self) -> bool:
        return (self.path / "config.json").is_file()

    # -- json documents -----------------------------------------------------------------------------------------
    def child(self, name: str) -> Path:
        """``self.path / name``, refused unless it stays inside the run directory (no '..', no absolute name)."""
        return inside(self.path, self.path / name)

    def read_json(self, name: str, shape: type | None = None) -> Any:
        """A JSON document of the run, checksum-verified; ``shape`` (dict or list): the top-level type it must have.
        A default shape is known for the store's own documents."""
        f = self.child(name)
        shape = shape or JSON_SHAPES.get(name)
        try:
            verify(f)
            doc = json.loads(f.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise UserError(f"{self.path} is not a grokscope run (no {name})") from None
        except UnicodeDecodeError:
            raise DamagedFile(f, "not UTF-8 text") from None
        except json.JSONDecodeError as e:
            raise DamagedFile(f, f"invalid JSON: {e}") from None
        except RecursionError:
            raise DamagedFile(f, "JSON nested too deeply") from None
        if shape is not None and not isinstance(doc, shape):
            raise DamagedFile(f, f"expected a JSON {'object' if shape is dict else 'array'}, got {type(doc).__name__}")
        keys = ROW_KEYS.get(name)
        if keys and not doc:
            raise DamagedFile(f, "expected one row per member, got an empty array")
        if keys and not all(isinstance(r, dict) and keys <= r.keys() for r in doc):
            raise DamagedFile(f, f"expected an array of objects with keys {sorted(keys)}")
        return doc

    def write_json(self, name: str, obj: Any) -> None:
        write_json(self.child(name), obj)

    def update_meta(self, **fields: Any) -> None:
        meta = self.read_json("meta.json")
        meta.update(fields)
        self.write_json("meta.json", meta)

    # -- lock ---------------------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Hold an exclusive lock while training, so two processes never write one run."""
        fd = os.open(self.path / ".lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(f"run {self.path} is being written by another process") from None
        self._lock_fd = fd

    def writer_alive(self) -> bool:
        """Whether some process holds this run's lock (a writer that died released it: kill -9 included)."""
        if self._lock_fd is not None:
            return True
        try:
            fd = os.open(self.path / ".lock", os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # closing releases a lock we took
        return False

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- metrics ------------------------------------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.parquet")) if self.parts_dir.is_dir() else []

    def write_part(self, index: int, rows: dict[str, list]) -> None:
        table = pa.table(rows, schema=METRICS_SCHEMA)
        write_atomic(self.parts_dir / f"part-{index:05d}.parquet", lambda p: pq.write_table(table, p))

    @property
    def state_files(self) -> tuple[Path, Path]:
        """(state.pt, state.prev.pt): the latest resume state and the one before it."""
        return self.path / "state.pt", self.path / "state.prev.pt"

    def keep_previous_state(self) -> None:
        """Before a new state.pt is written: the current one becomes state.prev.pt (two renames, no copy).

        The sidecar moves first: a kill between the renames leaves state.pt without a sidecar (read unverified)
        and a state.prev.pt that fails verification, or no state.pt and a good state.prev.pt; resume tries both."""
        from .integrity import sidecar

        cur, prev = self.state_files
        if not cur.exists():
            return
        if sidecar(cur).exists():
            os.replace(sidecar(cur), sidecar(prev))
        else:
            sidecar(prev).unlink(missing_ok=True)
        os.replace(cur, prev)

    def forget_states(self) -> None:
        for f in self.state_files:
            forget(f)

    def remove_stale_temp_files(self) -> None:
        """Temp files of atomic writes cut short by a kill (their targets are intact)."""
        for folder in (self.path, self.parts_dir, self.ckpt_dir):
            if folder.is_dir():
                for f in folder.glob(".*.tmp"):
                    f.unlink(missing_ok=True)

    def drop_parts_from(self, index: int) -> None:
        """Remove chunks written after the resume state (they are recomputed identically)."""
        for f in self.part_files():
            if int(f.stem.split("-")[1]) >= index:
                forget(f)

    def compact(self) -> None:
        """Join the chunks into metrics.parquet (atomically), then remove the chunks.

        metrics.parquet is only ever written here, from every chunk, so chunks found beside it are left over from
        a compaction cut short after the write: they are already in it."""
        parts = self.part_files()
        if not self.metrics_file.exists():
            tables = [read_parquet(f) for f in parts]
            table = pa.concat_tables(tables) if tables else METRICS_SCHEMA.empty_table()
            write_atomic(self.metrics_file, lambda p: pq.write_table(table, p))
        for f in parts:
            forget(f)
        if self.parts_dir.is_dir() and not any(self.parts_dir.iterdir()):
            self.parts_dir.rmdir()

    @property
    def offline_dir(self) -> Path:
        return self.path / "offline"

    def write_offline(self, name: str, rows: Any) -> Path:
        """``offline/<name>.parquet`` from a DataFrame or column dict (step, member, metric, value), atomically;
        an existing file is never rewritten."""
        import re

        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
            raise UserError(f"offline result name {name!r}: use letters, digits, '.', '_' and '-'")
        path = self.offline_dir / f"{name}.parquet"
        if path.exists():
            raise UserError(f"{path} exists; offline results are never rewritten (choose another name)")
        cols = {k: list(rows[k]) for k in ("step", "member", "metric", "value")}
        table = pa.table(cols, schema=METRICS_SCHEMA)
        write_atomic(path, lambda p: pq.write_table(table, p))
        return path

    def read_offline(self) -> list[pa.Table]:
        files = sorted(self.offline_dir.glob("*.parquet")) if self.offline_dir.is_dir() else []
        return [read_parquet(f).cast(METRICS_SCHEMA) for f in files]

    def read_metrics(self) -> pa.Table:
        for attempt in range(3):  # a compaction in another process may remove the chunks between listing and reading
            files = [self.metrics_file] if self.metrics_file.exists() else self.part_files()  # see compact()
            try:
                tables = [read_parquet(f) for f in files]
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise UserError(f"metrics of {self.path} changed while being read (is it being written?)") from None
        return pa.concat_tables(tables) if tables else METRICS_SCHEMA.empty_table()


def read_parquet(f: Path) -> pa.Table:
    """A metrics table, checksum-verified, in the long schema; a damaged file raises ``DamagedFile`` naming it."""
    verify(f)
    try:
        table = pq.read_table(f)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise DamagedFile(f, f"unreadable parquet: {first_line(e, 160)}") from None
    if table.schema.names != METRICS_SCHEMA.names:
        raise DamagedFile(f, f"columns {table.schema.names}, expected {METRICS_SCHEMA.names}")
    try:
        return table.cast(METRICS_SCHEMA)
    except Exception as e:  # noqa: BLE001
        raise DamagedFile(f, f"column types: {first_line(e, 160)}") from None


def open_run(path: str | Path) -> RunDir:
    run = RunDir(path)
    if not run.path.exists():
        raise UserError(f"run directory not found: {run.path}")
    if not run.exists():
        raise UserError(f"{run.path} is not a grokscope run (no config.json)")
    return run
