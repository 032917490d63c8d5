"""The run catalog: DuckDB tables over every run directory below a root.

``Catalog(root)`` walks ``root`` (a run, a sweep, or any tree of them) and builds an in-memory DuckDB database:

``runs``     one row per run directory: ``run_id`` (the directory name; the path relative to the root when two runs
             share a name), ``path``, ``status``, ``name``, ``task``, ``model`` (task/model names), ``steps_done``,
             ``train_seconds``, ``created``, ``n_members``, ``n_grokked``, ``sweep``, then the flattened
             ``config.json``. A key varied per member (``members.vary``) is NULL here: it has no single run value.
``members``  one row per (run, member): ``run_id``, ``member``, ``seed``, ``sweep`` and ``cell`` (from the
             ``sweep.json`` of an enclosing sweep dir, else NULL), ``status``, ``name``, ``task``, ``model``,
             ``t_mem``, ``t_grok``, ``delay``, ``censored``, ``grokked``, ``budget`` (``events.json``; recomputed from
             the metrics for a run still running), ``init_seed``, ``split_seed``, ``path``, the last value of every
             metric (``final_<metric>`` with ``/`` -> ``_``, ``norm/total`` -> ``final_norm``), every metric at
             T_grok (``at_grok_<metric>``, same naming, from the ``"at_grok"`` snapshot of ``events.json``; NULL for
             a censored member), every other scalar key of the member's ``events.json`` entry (e.g.
             ``alarm/ews_ac1`` -> ``alarm_ews_ac1``, ``forecast/t_grok`` -> ``forecast_t_grok``; see below), then
             the member's *effective* config: ``config.json`` overridden by its ``members.json`` values.
``metrics``  a view over the runs' Parquet files (``read_parquet`` over the file list, nothing loaded up front):
             ``run_id``, ``step``, ``member``, ``metric``, ``value``: the training metrics (``metrics.parquet``,
             or the chunks of a run still running) and the offline results (``<run>/offline/<name>.parquet``,
             same long format, written later by analyses of stored checkpoints). ``final_`` columns come from
             the training metrics only.

Event columns: an ``events.json`` entry has the standard keys ``member``, ``seed``, ``t_mem``, ``t_grok``,
``delay``, ``censored``, ``budget``, ``final`` (a dict: the ``final_`` columns) and ``at_grok`` (a dict: the
``at_grok_`` columns, DOUBLE). Any other key with a scalar value (number, bool, string, null) is a ``members``
column named like a metric column (non-identifier characters as ``_``) with the type DuckDB detects over all
runs (text when the runs disagree); NULL for runs that lack it. A key that is not a scalar, or whose column name
is a fixed column or starts with ``final_`` / ``at_grok_``, is left out with a warning. For a run still running
(no ``events.json``) only the standard events are known (recomputed from its metrics).

Column naming of config fields (both tables): every field is there under its full dotted name, a quoted column
(``"optim.wd"``, ``"task.p"``), and under a short SQL-friendly name: the last dotted component when it is unique
(``p``, ``wd``, ``lr``, ``frac``, ``d_hidden``), otherwise the last two components joined by ``_`` (``task_name``,
``model_name``), then three, ... A short name is lengthened the same way when it would equal (case-insensitively)
a fixed column (``split_seed`` -> ``task_split_seed``) or a reserved SQL keyword (``window`` -> ``grokfast_window``).
Short names depend on which fields the catalogued runs have; the dotted names never change. Lists and dicts
(``eval.probes``, ``members.vary``) are JSON strings; a column whose values mix types is a string column.

Speed: the per-run rows are cached in ``<root>/catalog.parquet`` (runs) and ``<root>/catalog-members.parquet``
(members), written atomically and keyed by the size and mtime of each run's JSON documents, metrics files and
offline files, so only new or changed runs are read again. Nothing goes through pandas or pyarrow: rows are
handed to DuckDB as JSON, the cache is read and written by DuckDB itself.

Damaged inputs never stop the catalog: an unlistable directory or unreadable / malformed document becomes a line
in ``Catalog.warnings`` (see ``catalog_rows``), a damaged cache is rebuilt, and a query over the ``metrics`` view
that meets a corrupt Parquet file is a one-line ``UserError``.

Modules: ``catalog_scan`` (finding runs), ``catalog_rows`` (one run's rows), ``catalog_cache`` (the row cache),
``catalog_schema`` (naming, tables), this one (the ``Catalog`` facade).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError, first_line
from .catalog_cache import CACHE_FORMAT, CACHE_MEMBERS_NAME, CACHE_NAME, load
from .catalog_rows import flatten, read_json
from .catalog_scan import Found, scan
from .catalog_schema import build_tables, final_column, metrics_view, short_names

SEED_AXES = ("seed", "members.seeds")

__all__ = ["CACHE_FORMAT", "CACHE_MEMBERS_NAME", "CACHE_NAME", "SEED_AXES", "Catalog", "Found", "QueryResult",
           "Sweep", "final_column", "flatten", "scan", "short_names"]


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Sweep:
    path: Path
    axes: dict[str, list[Any]]
    cells: list[dict[str, Any]]


class Catalog:
    """DuckDB tables ``runs`` and ``members`` and the view ``metrics`` over the run directories below ``root``.

    ``cache=False`` neither reads nor writes the index files. ``missing_ok`` makes a missing root an empty catalog.
    ``warnings``: one line per damaged input met while loading.
    """

    def __init__(self, root: str | Path, cache: bool = True, missing_ok: bool = False,
                 threads: int | None = None) -> None:
        import duckdb

        self.root = Path(root).absolute()
        self.warnings: list[str] = []
        if not self.root.exists():
            if not missing_ok:
                raise UserError(f"directory not found: {root}")
        elif not self.root.is_dir():
            raise UserError(f"not a directory: {root}")
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"set threads = {int(threads)}")
        found, sweep_dirs = scan(self.root, self.warnings) if self.root.is_dir() else ([], [])
        self.found = {f.rel: f for f in found}
        self.sweeps = self._sweeps(sweep_dirs)
        # runs whose documents were read (not served from the index cache)
        self.n_read = load(self.con, self.root, found, cache, self.warnings)
        self._build()
        self.warnings = list(dict.fromkeys(self.warnings))  # e.g. one line per run, not per member

    def _sweeps(self, dirs: list[Path]) -> list[Sweep]:
        candidates = list(dirs)
        for up in (self.root.parent, self.root.parent.parent):  # a sweep's runs/ dir, or one run of a sweep
            if (up / "sweep.json").is_file() and up not in candidates:
                candidates.append(up)
        out = []
        for d in candidates:
            doc = read_json(str(d), "sweep.json", self.warnings)
            if isinstance(doc, dict):
                out.append(Sweep(d, dict(doc.get("axes") or {}), list(doc.get("cells") or [])))
        return out

    def sweep_of(self, path: str | Path) -> Sweep | None:
        """The innermost sweep dir that holds ``path``."""
        path = str(path)
        best = None
        for s in self.sweeps:
            sp = str(s.path)
            if (path + os.sep).startswith(sp + os.sep) and (best is None or len(sp) > len(str(best.path))):
                best = s
        return best

    def _placement(self) -> tuple[list[dict], list[dict]]:
        """Where each run sits: ``{_rel, sweep}`` rows, and each member's cell (sweep.json) as
        ``{_rel, member, cell}`` rows."""
        sweep_rows, cell_rows = [], []
        by_sweep: dict[int, dict[str, list[str]]] = {}
        for rel, f in self.found.items():
            s = self.sweep_of(f.path)
            if s is not None:
                sweep_rows.append({"_rel": rel, "sweep": str(s.path)})
                by_sweep.setdefault(id(s), {}).setdefault(os.path.basename(f.path.rstrip(os.sep)), []).append(rel)
        for s in self.sweeps:
            names = by_sweep.get(id(s), {})
            for c in s.cells:
                if not isinstance(c, dict):
                    continue
                for rel in names.get(str(c.get("run_id")), []):
                    cell_rows.append({"_rel": rel, "member": c.get("member"), "cell": c.get("cell")})
        return sweep_rows, cell_rows

    def _build(self) -> None:
        schema = build_tables(self.con, str(self.root), *self._placement())
        self.names, self.finals = schema.names, schema.finals
        self.run_keys, self.member_keys, self.event_cols = schema.run_keys, schema.member_keys, schema.event_cols
        self.rel_of = dict(self.con.execute("select run_id, _rel from _run_ids").fetchall())
        # training metrics first: the view takes its column types from the first file
        self.files = [(p, rid) for rid, rel in self.rel_of.items() for p in self.found[rel].files]
        self.files += [(p, rid) for rid, rel in self.rel_of.items() for p in self.found[rel].offline]
        metrics_view(self.con, "metrics", self.files, self.warnings)
        self._mark_dead_writers()

    def _mark_dead_writers(self) -> None:
        """A run whose meta.json says running but whose lock nobody holds lost its writer (kill -9): it is
        catalogued as interrupted, never as running (issue 11). Checked live, never cached."""
        from .run_dir import RunDir

        running = self.con.execute("select run_id from runs where status = 'running'").fetchall()
        dead = [rid for (rid,) in running if not RunDir(self.root / self.rel_of[rid]).writer_alive()]
        for rid in dead:
            self.con.execute("update runs set status = 'interrupted' where run_id = ?", [rid])

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> QueryResult:
        """Run SQL; a mistake in it (or a metrics file that vanished under a running sweep, or is corrupt) is a
        one-line UserError."""

        def run() -> QueryResult:
            cur = self.con.execute(sql, params or [])
            if cur.description is None:
                return QueryResult([], [])
            return QueryResult([d[0] for d in cur.description], cur.fetchall())

        return self._retrying(run)

    def _retrying(self, fn: Any) -> Any:
        """``fn()``; when a metrics file vanished (a run compacting its chunks under us: issue 11) the metrics
        files are listed again and the query rerun, so it sees a consistent snapshot of that run."""
        import duckdb

        for attempt in range(4):
            try:
                return fn()
            except duckdb.IOException as e:
                if attempt == 3:
                    raise UserError(f"query failed: {first_line(e, hints=True)}") from None
                self._relist_metrics()
            except duckdb.Error as e:
                raise UserError(f"query failed: {first_line(e, hints=True)}") from None

    def _relist_metrics(self) -> None:
        import os

        from .catalog_scan import inspect_run

        for f in self.found.values():
            try:
                entries = {e.name: e for e in os.scandir(f.path)}
                _, f.files, f.offline = inspect_run(entries, [])
            except OSError:
                f.files, f.offline = [], []
        self.files = [(p, rid) for rid, rel in self.rel_of.items() for p in self.found[rel].files]
        self.files += [(p, rid) for rid, rel in self.rel_of.items() for p in self.found[rel].offline]
        metrics_view(self.con, "metrics", self.files, self.warnings)

    def df(self, sql: str, params: list | None = None) -> Any:
        """A query as a pandas DataFrame."""

        return self._retrying(lambda: self.con.execute(sql, params or []).df())

    def columns(self, table: str) -> list[str]:
        return [d[0] for d in self.con.execute(f"select * from {table} limit 0").description]

    def config_columns(self, table: str = "members") -> list[str]:
        """The short config column names of ``table``, in config order."""
        keys = self.member_keys if table == "members" else self.run_keys
        return [self.names[k] for k in keys]

    def dotted(self, short: str) -> str:
        """Dotted config key of a short column name (or the name itself)."""
        return {v: k for k, v in self.names.items()}.get(short, short)

    def metrics(self, run_ids: Iterable[str] | None = None, metrics: Iterable[str] | None = None) -> Any:
        """Metric rows (pandas: run_id, step, member, metric, value) of some runs, reading only their files."""
        want = None if run_ids is None else set(run_ids)
        metrics_view(self.con, "_metrics_subset", [(p, r) for p, r in self.files if want is None or r in want],
                     self.warnings)
        sql, params = "select * from _metrics_subset", []
        if metrics is not None:
            params = list(metrics)
            sql += " where metric in (" + ", ".join("?" for _ in params) + ")"
        return self.df(sql, params)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
