"""The run directory, the unit of durability::

    runs/<run-id>/
      config.json        resolved config (the run id is derived from its hash)
      members.json       one row per member: seed, per-member values, init/split seeds
      meta.json          versions, git revision, device, threads, status, steps done
      metrics/           part-NNNNN.parquet chunks while running (long format: step, member, metric, value)
      metrics.parquet    all chunks compacted when the run completes
      events.json        T_mem / T_grok / delay / censoring per member
      state.pt           latest resume state (params, optimizer, interventions, RNG), written atomically
      ckpt/step_NNNNNNNN.pt   weights-only checkpoints on a log-spaced schedule
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

from ..errors import UserError
from .atomic import write_atomic, write_json

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
    def read_json(self, name: str) -> Any:
        f = self.path / name
        try:
            return json.loads(f.read_text())
        except FileNotFoundError:
            raise UserError(f"{self.path} is not a grokscope run (no {name})") from None
        except json.JSONDecodeError as e:
            raise UserError(f"{f} is corrupt: {e}") from None

    def write_json(self, name: str, obj: Any) -> None:
        write_json(self.path / name, obj)

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
                f.unlink()

    def compact(self) -> None:
        """Join the chunks into metrics.parquet (atomically), then remove the chunks.

        metrics.parquet is only ever written here, from every chunk, so chunks found beside it are left over from
        a compaction cut short after the write: they are already in it."""
        parts = self.part_files()
        if not self.metrics_file.exists():
            tables = [pq.read_table(f) for f in parts]
            table = pa.concat_tables(tables) if tables else METRICS_SCHEMA.empty_table()
            write_atomic(self.metrics_file, lambda p: pq.write_table(table, p))
        for f in parts:
            f.unlink()
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
        try:
            return [pq.read_table(f).cast(METRICS_SCHEMA) for f in files]
        except Exception as e:  # noqa: BLE001 - a damaged file is reported, not raised raw
            raise UserError(f"cannot read offline results of {self.path}: {e}") from None

    def read_metrics(self) -> pa.Table:
        files = [self.metrics_file] if self.metrics_file.exists() else self.part_files()  # see compact()
        try:
            tables = [pq.read_table(f) for f in files]
        except Exception as e:  # noqa: BLE001 - a damaged file is reported, not raised raw
            raise UserError(f"cannot read metrics of {self.path}: {e}") from None
        return pa.concat_tables(tables) if tables else METRICS_SCHEMA.empty_table()


def open_run(path: str | Path) -> RunDir:
    run = RunDir(path)
    if not run.path.exists():
        raise UserError(f"run directory not found: {run.path}")
    if not run.exists():
        raise UserError(f"{run.path} is not a grokscope run (no config.json)")
    return run
