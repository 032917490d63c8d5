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
             metric (``final_<metric>`` with ``/`` -> ``_``, ``norm/total`` -> ``final_norm``), then the member's
             *effective* config: ``config.json`` overridden by its ``members.json`` values.
``metrics``  a view over the runs' Parquet files (``read_parquet`` over the file list, nothing loaded up front):
             ``run_id``, ``step``, ``member``, ``metric``, ``value``.

Column naming of config fields (both tables): every field is there under its full dotted name, a quoted column
(``"optim.wd"``, ``"task.p"``), and under a short SQL-friendly name: the last dotted component when it is unique
(``p``, ``wd``, ``lr``, ``frac``, ``d_hidden``), otherwise the last two components joined by ``_`` (``task_name``,
``model_name``), then three, ... A short name is lengthened the same way when it would equal (case-insensitively)
a fixed column (``split_seed`` -> ``task_split_seed``) or a reserved SQL keyword (``window`` -> ``grokfast_window``).
Short names depend on which fields the catalogued runs have; the dotted names never change. Lists and dicts
(``eval.probes``, ``members.vary``) are JSON strings; a column whose values mix types is a string column.

Speed: the per-run rows are cached in ``<root>/catalog.parquet`` (runs) and ``<root>/catalog-members.parquet``
(members), written atomically and keyed by the size and mtime of each run's JSON documents and metrics files, so only
new or changed runs are read again. Nothing goes through pandas or pyarrow: rows are handed to DuckDB as JSON,
the cache is read and written by DuckDB itself.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

CACHE_NAME = "catalog.parquet"
CACHE_MEMBERS_NAME = "catalog-members.parquet"
CACHE_FORMAT = "grokscope-catalog-2"
SKIP_DIRS = {"__pycache__", "node_modules", "ckpt"}
LEAF_DICTS = {"members.vary", "intervene.clamp.per_group"}  # kept whole (JSON), never flattened into columns
MEMBER_KEYS = {"member", "seed", "init_seed", "split_seed"}  # members.json keys that are not config values
VARY_PREFIX = "~"  # a member's own value of a config key, in the member rows (effective value = this, else the run's)
SEED_AXES = ("seed", "members.seeds")

RUN_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR"), ("path", "VARCHAR"), ("status", "VARCHAR"), ("name", "VARCHAR"), ("task", "VARCHAR"),
    ("model", "VARCHAR"), ("steps_done", "BIGINT"), ("train_seconds", "DOUBLE"), ("created", "VARCHAR"),
    ("n_members", "BIGINT"), ("n_grokked", "BIGINT"), ("sweep", "VARCHAR"),
]
MEMBER_COLUMNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR"), ("member", "BIGINT"), ("seed", "BIGINT"), ("sweep", "VARCHAR"), ("cell", "BIGINT"),
    ("status", "VARCHAR"), ("name", "VARCHAR"), ("task", "VARCHAR"), ("model", "VARCHAR"), ("t_mem", "BIGINT"),
    ("t_grok", "BIGINT"), ("delay", "BIGINT"), ("censored", "BOOLEAN"), ("grokked", "BOOLEAN"), ("budget", "BIGINT"),
    ("init_seed", "BIGINT"), ("split_seed", "BIGINT"), ("path", "VARCHAR"),
]
# per-run fields read from the run's documents (the rest of the fixed columns is derived when the tables are built)
RUN_FIELDS = ["status", "name", "task", "model", "steps_done", "train_seconds", "created", "n_members", "n_grokked"]
MEMBER_FIELDS = ["member", "seed", "init_seed", "split_seed", "t_mem", "t_grok", "delay", "censored", "budget"]
FINAL_FIRST = ["final_train_acc", "final_test_acc", "final_train_loss", "final_test_loss", "final_norm"]
# names no config short name may take: the fixed columns of both tables and the metrics view
FIXED_NAMES = {c for c, _ in RUN_COLUMNS + MEMBER_COLUMNS} | {"step", "metric", "value"}


def final_column(metric: str) -> str:
    """Column of a metric's last value: ``final_`` + the name with non-identifier characters as ``_``."""
    if metric == "norm/total":
        return "final_norm"
    return "final_" + re.sub(r"\W", "_", metric)


# -- scanning ------------------------------------------------------------------------------------------------------
@dataclass
class _Found:
    rel: str  # POSIX path relative to the root ("." for the root itself)
    path: str  # absolute path
    sig: str  # changes whenever a document or a metrics file of the run changes
    files: list[str]  # metrics Parquet files (compacted file first, then chunks)
    names: set[str]  # entries of the run directory


def _stat_sig(entry: os.DirEntry) -> str:
    st = entry.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def _inspect_run(path: str, entries: dict[str, os.DirEntry]) -> tuple[str, list[str]]:
    parts_sig = ""
    files = []
    if "metrics.parquet" in entries:
        files.append(entries["metrics.parquet"].path)
    m = entries.get("metrics")
    if m is not None and m.is_dir() and not files:  # beside metrics.parquet, chunks are leftovers (RunDir.compact)
        try:
            parts = sorted((e for e in os.scandir(m.path) if e.name.startswith("part-")
                            and e.name.endswith(".parquet")), key=lambda e: e.name)
        except OSError:
            parts = []
        files.extend(e.path for e in parts)
        parts_sig = ",".join(f"{e.name}:{_stat_sig(e)}" for e in parts)
    sig = "|".join(f"{n}={_stat_sig(entries[n])}" if n in entries else f"{n}=-"
                   for n in ("config.json", "meta.json", "members.json", "events.json", "metrics.parquet"))
    return f"{sig}|parts={parts_sig}", files


def scan(root: Path) -> tuple[list[_Found], list[Path]]:
    """Every run directory (config.json + meta.json) and every sweep dir (sweep.json) below ``root``.

    Dot-directories (temp dirs of runs being created, caches) and run internals are skipped; a run dir is a leaf.
    """
    runs: list[_Found] = []
    sweeps: list[Path] = []
    stack = [str(root)]
    seen: set[tuple[int, int]] = set()
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = {e.name: e for e in os.scandir(d)}
        except OSError:
            continue
        if "config.json" in entries and "meta.json" in entries:
            sig, files = _inspect_run(d, entries)
            rel = os.path.relpath(d, root).replace(os.sep, "/")
            runs.append(_Found(rel, d, sig, files, set(entries)))
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


# -- reading one run -------------------------------------------------------------------------------------------------
def flatten(d: dict, prefix: str = "", out: dict | None = None) -> dict[str, Any]:
    """``{"optim": {"wd": 1}}`` -> ``{"optim.wd": 1}``; dicts named in ``LEAF_DICTS`` (and empty ones) stay whole."""
    out = {} if out is None else out
    for k, v in d.items():
        key = prefix + k
        t = type(v)
        if t is dict and v and key not in LEAF_DICTS:
            flatten(v, key + ".", out)
        else:
            out[key] = v if t is str or t is int or t is bool or v is None else _scalar(v)
    return out


def _scalar(v: Any) -> Any:
    """A cell value: lists and dicts as JSON text, non-finite floats as None."""
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _read_json(path: str, name: str, warnings: list[str]) -> Any:
    try:
        with open(os.path.join(path, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        warnings.append(f"{path}: cannot read {name}: {e}")
        return None


def _fallback_members(cfg: dict) -> list[dict]:
    """members.json rows rebuilt from the config (``RunConfig.member_table`` order: vary rows outer, seeds inner)."""
    m = cfg.get("members") or {}
    seeds = m.get("seeds", 1)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    vary = m.get("vary") or {}
    n_rows = len(next(iter(vary.values()))) if vary else 1
    rows = []
    for r in range(n_rows):
        for s in seeds:
            rows.append({"member": len(rows), "seed": s, **{k: v[r] for k, v in vary.items()}})
    return rows


def _read_run(found: _Found, warnings: list[str]) -> dict | None:
    """A run's documents as rows: ``{"run": run row, "members": [member rows], ...}`` (config keys dotted)."""
    cfg = _read_json(found.path, "config.json", warnings)
    meta = _read_json(found.path, "meta.json", warnings)
    if not isinstance(cfg, dict) or not isinstance(meta, dict):
        warnings.append(f"{found.path}: skipped (config.json or meta.json unreadable)")
        return None
    members = _read_json(found.path, "members.json", warnings) if "members.json" in found.names else None
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        members = _fallback_members(cfg)
    events = _read_json(found.path, "events.json", warnings) if "events.json" in found.names else None
    ev = {e.get("member"): e for e in events if isinstance(e, dict)} if isinstance(events, list) else {}
    flat = flatten(cfg)
    flat.pop("name", None)  # that is the fixed ``name`` column
    keys = list(flat)
    vary_keys: list[str] = []
    rows = []
    for i, m in enumerate(members):
        mem = int(m.get("member", i))
        vary = {k: _scalar(v) for k, v in m.items() if k not in MEMBER_KEYS}
        vary_keys.extend(k for k in vary if k not in vary_keys)
        e = ev.get(mem, {})
        rows.append({"_rel": found.rel, "_sig": found.sig, "member": mem, "seed": m.get("seed"),
                     "init_seed": m.get("init_seed"), "split_seed": m.get("split_seed"),
                     **{k: e.get(k) for k in ("t_mem", "t_grok", "delay", "censored", "budget")},
                     **{VARY_PREFIX + k: v for k, v in vary.items()}})
    task, model = cfg.get("task") or {}, cfg.get("model") or {}
    run = {"_format": CACHE_FORMAT, "_rel": found.rel, "_sig": found.sig,
           "_name": os.path.basename(found.path.rstrip(os.sep)), "_keys": json.dumps(keys),
           "_vary_keys": json.dumps(vary_keys), "_finals": "[]",
           "status": meta.get("status"), "name": cfg.get("name"), "task": task.get("name"), "model": model.get("name"),
           "steps_done": meta.get("steps_done"), "train_seconds": meta.get("train_seconds"),
           "created": meta.get("created"), "n_members": len(rows), "n_grokked": None,
           **{k: (None if k in vary_keys else v) for k, v in flat.items()}}
    ev_cfg = cfg.get("eval") or {}
    finals = {mem: e["final"] for mem, e in ev.items() if isinstance(e.get("final"), dict)}
    return {"run": run, "members": rows, "has_events": bool(ev),
            "finals": finals if len(finals) == len(rows) else None,  # written at completion: no Parquet read needed
            "eval": {k: ev_cfg.get(k) for k in ("mem_threshold", "grok_threshold", "loss_rule")}}


def _read_parquet_rows(con: Any, files: list[tuple[str, int]], sql: str, warnings: list[str]) -> list[tuple]:
    """Run ``sql`` over all ``(file, key)`` at once (``{src}``: the files, then two list parameters: the files and
    their keys), or file by file when one of them is broken."""
    if not files:
        return []
    src = "read_parquet(?, filename=true)"

    def run(chunk: list[tuple[str, int]]) -> list[tuple]:
        names = [f for f, _ in chunk]
        return con.execute(sql.format(src=src), [names, names, [k for _, k in chunk]]).fetchall()

    try:
        return run(files)
    except Exception:  # noqa: BLE001 - find the broken file, keep the others
        rows = []
        for item in files:
            try:
                rows.extend(run([item]))
            except Exception as e:  # noqa: BLE001
                warnings.append(f"{item[0]}: unreadable metrics ({_first_line(e)})")
        return rows


def _fill_from_metrics(con: Any, todo: list[tuple[_Found, dict]], warnings: list[str]) -> None:
    """The last value of every metric of each member (one query over all the files of the runs in ``todo``), and
    the events of runs without events.json (still running) from their curves."""
    files = [(f, i) for i, (found, rec) in enumerate(todo) if rec.get("finals") is None for f in found.files]
    sql = ("select k, member, list(metric), list(value) from (select k, member, metric, arg_max(value, step) as value "
           "from {src} p join (select unnest(?::VARCHAR[]) as filename, unnest(?::BIGINT[]) as k) using (filename) "
           "group by all) group by all")
    rows = _read_parquet_rows(con, files, sql, warnings)
    last = {(k, int(member)): (metrics, values) for k, member, metrics, values in rows}
    for i, (_found, rec) in enumerate(todo):
        for mem, final in (rec.get("finals") or {}).items():
            last[(i, mem)] = (list(final), list(final.values()))
    names: dict[str, str] = {}
    for i, (_found, rec) in enumerate(todo):
        finals: list[str] = []
        for m in rec["members"]:
            metrics, values = last.get((i, m["member"]), ((), ()))
            for metric, v in zip(metrics, values):
                col = names.get(metric) or names.setdefault(metric, final_column(metric))
                m[col] = None if v is None or not math.isfinite(v) else v
                if col not in finals:
                    finals.append(col)
        rec["run"]["_finals"] = json.dumps(finals)
    pending = [(found, rec) for found, rec in todo if not rec["has_events"] and found.files]
    if pending:
        _events_from_metrics(con, pending, warnings)
    for _found, rec in todo:
        rec["run"]["n_grokked"] = sum(1 for m in rec["members"] if m.get("t_grok") is not None)


def _events_from_metrics(con: Any, pending: list[tuple[_Found, dict]], warnings: list[str]) -> None:
    import numpy as np

    from ..detect.events import member_events

    files = [(f, i) for i, (found, _rec) in enumerate(pending) for f in found.files]
    sql = ("select k, member, step, metric, value from {src} p join (select unnest(?::VARCHAR[]) as filename, "
           "unnest(?::BIGINT[]) as k) using (filename) where metric in ('train/acc', 'test/acc', 'test/loss')")
    curves: dict[tuple[int, int], dict[str, dict[int, float]]] = {}
    for k, member, step, metric, value in _read_parquet_rows(con, files, sql, warnings):
        curves.setdefault((k, int(member)), {}).setdefault(metric, {})[int(step)] = value
    for i, (_found, rec) in enumerate(pending):
        e = rec["eval"]
        rule = e.get("loss_rule")
        rule = (rule["below"], rule["k"]) if isinstance(rule, dict) else None
        for m in rec["members"]:
            c = curves.get((i, m["member"]))
            if not c:
                continue
            steps = np.array(sorted(set().union(*[set(v) for v in c.values()])), dtype=np.int64)

            def col(name: str, c: dict = c, steps: np.ndarray = steps) -> np.ndarray:
                d = c.get(name, {})
                return np.array([d.get(int(s), np.nan) for s in steps], dtype=float)

            try:
                got = member_events(m["member"], m["seed"] or 0, steps, col("train/acc"), col("test/acc"),
                                    col("test/loss"), e.get("mem_threshold") or 0.99, e.get("grok_threshold") or 0.90,
                                    rule).as_dict()
            except ValueError:
                continue
            m.update({k: got[k] for k in ("t_mem", "t_grok", "delay", "censored", "budget")})


def _first_line(e: BaseException) -> str:
    """A DuckDB error as one line: the message and its hints, without the echoed SQL."""
    keep = []
    for line in str(e).strip().splitlines():
        if not line.strip() or line.startswith("LINE "):
            break
        keep.append(line.strip())
    return "; ".join(keep) or type(e).__name__


# -- naming --------------------------------------------------------------------------------------------------------
def short_names(keys: Iterable[str], taken: Iterable[str] = (), reserved: Iterable[str] = ()) -> dict[str, str]:
    """Dotted config keys -> unique SQL-friendly names (the rule is in the module docstring)."""
    keys = list(dict.fromkeys(keys))
    taken_l = {t.lower() for t in taken}
    reserved_l = {r.lower() for r in reserved}
    parts = {k: [re.sub(r"\W", "_", p) for p in k.split(".")] for k in keys}
    depth = dict.fromkeys(keys, 1)

    def cand(k: str) -> str:
        name = "_".join(parts[k][-depth[k]:])
        return f"_{name}" if name[:1].isdigit() else name

    while True:
        names = {k: cand(k) for k in keys}
        counts = Counter(n.lower() for n in names.values())
        grow = [k for k in keys if depth[k] < len(parts[k]) and (
            counts[names[k].lower()] > 1 or names[k].lower() in taken_l or names[k].lower() in reserved_l)]
        if not grow:
            break
        for k in grow:
            depth[k] += 1
    used = set(taken_l)
    out = {}
    for k in keys:  # whatever still clashes at full length gets a numeric suffix
        name, i = names[k], 2
        while name.lower() in used or name.lower() in reserved_l:
            name, i = f"{names[k]}_{i}", i + 1
        used.add(name.lower())
        out[k] = name
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _dumps(rows: list[dict]) -> str:
    try:
        return json.dumps(rows, allow_nan=False, default=str)
    except ValueError:  # a non-finite float somewhere: as null
        return json.dumps([{k: _scalar(v) for k, v in r.items()} for r in rows], default=str)


# -- the catalog ---------------------------------------------------------------------------------------------------
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
        found, sweep_dirs = scan(self.root) if self.root.is_dir() else ([], [])
        self.found = {f.rel: f for f in found}
        self.sweeps = self._sweeps(sweep_dirs)
        self.n_read = 0  # runs whose documents were read (not served from the index cache)
        self._load(found, cache)
        self._build()

    # -- loading -------------------------------------------------------------------------------------------------
    def _cache_paths(self, found: list[_Found]) -> tuple[Path, Path] | None:
        if len(found) == 1 and found[0].rel == ".":
            return None  # the root is one run: nothing worth caching, and a run dir stays as its run wrote it
        return self.root / CACHE_NAME, self.root / CACHE_MEMBERS_NAME

    def _load(self, found: list[_Found], use_cache: bool) -> None:
        paths = self._cache_paths(found) if use_cache and found else None
        cached: dict[str, str] = {}
        valid: set[str] = set()
        if paths is not None and paths[0].is_file() and paths[1].is_file():
            try:
                cached = dict(self.con.execute("select _rel, _sig from read_parquet(?) where _format = ?",
                                               [str(paths[0]), CACHE_FORMAT]).fetchall())
                msig = dict(self.con.execute("select distinct _rel, _sig from read_parquet(?)",
                                             [str(paths[1])]).fetchall())
                valid = {f.rel for f in found if cached.get(f.rel) == f.sig and msig.get(f.rel) == f.sig}
            except Exception:  # noqa: BLE001 - a damaged or foreign index is rebuilt
                cached, valid = {}, set()
        todo = []
        for f in found:
            if f.rel not in valid:
                rec = _read_run(f, self.warnings)
                if rec is not None:
                    todo.append((f, rec))
        self.n_read = len(todo)
        if todo:
            _fill_from_metrics(self.con, todo, self.warnings)
        self._json_table("_new_runs", [rec["run"] for _, rec in todo],
                         ["_format", "_rel", "_sig", "_name", "_keys", "_vary_keys", "_finals", *RUN_FIELDS])
        self._json_table("_new_members", [m for _, rec in todo for m in rec["members"]],
                         ["_rel", "_sig", *MEMBER_FIELDS])
        keep = sorted(valid)
        for table, new, i in (("_all_runs", "_new_runs", 0), ("_all_members", "_new_members", 1)):
            parts, params = [], []
            if keep and paths is not None:  # the unchanged runs, from the index
                parts.append(f"select * from read_parquet({_sql_str(str(paths[i]))}) where list_contains(?, _rel)")
                params.append(keep)
            if todo or not parts:
                parts.append(f"select * from {new}")
            self.con.execute(f"create table {table} as " + " union all by name ".join(parts), params)
        if not found:
            return
        if paths is not None and (todo or set(cached) != valid or len(valid) != len(found)):
            self._write_cache(paths)

    def _json_table(self, name: str, rows: list[dict], empty: list[str]) -> None:
        """A table from row dicts via a JSON temp file (types detected by DuckDB over all rows; a column
        that mixes types becomes text)."""
        import tempfile

        if not rows:  # columns ``empty``, typeless (NULL) so that they take any type in a union
            cols = ", ".join(f"NULL as {_q(c)}" for c in empty)
            self.con.execute(f"create table {name} as select * from (select {cols}) where false")
            return
        fd, tmp = tempfile.mkstemp(prefix="grokscope-catalog-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(_dumps(rows))
            src = (f"read_json({_sql_str(tmp)}, format='array', records=true, sample_size=-1, "
                   "maximum_object_size=67108864, date_format='disabled', timestamp_format='disabled')")
            self.con.execute(f"create table {name} as select * from {src}")
        finally:
            os.unlink(tmp)
        mixed = [c for c, t, *_ in self.con.execute(f"describe {name}").fetchall() if t == "JSON"]
        if mixed:
            fix = ", ".join(f"json_extract_string({_q(c)}, '$') as {_q(c)}" for c in mixed)
            self.con.execute(f"create or replace table {name} as select * replace ({fix}) from {name}")

    def _write_cache(self, paths: tuple[Path, Path]) -> None:
        import tempfile

        tmps = []
        try:
            for table, path in zip(("_all_runs", "_all_members"), paths):
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                os.close(fd)
                tmps.append(tmp)
                self.con.execute(f"copy (select * from {table}) to {_sql_str(tmp)} (format parquet)")
            for tmp, path in zip(tmps, paths):
                os.replace(tmp, path)
        except Exception:  # noqa: BLE001 - a read-only tree is catalogued, just not cached
            for tmp in tmps:
                Path(tmp).unlink(missing_ok=True)

    def _sweeps(self, dirs: list[Path]) -> list[Sweep]:
        candidates = list(dirs)
        for up in (self.root.parent, self.root.parent.parent):  # a sweep's runs/ dir, or one run of a sweep
            if (up / "sweep.json").is_file() and up not in candidates:
                candidates.append(up)
        out = []
        for d in candidates:
            doc = _read_json(str(d), "sweep.json", self.warnings)
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

    # -- building ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        con = self.con
        types = {c: t for c, t, *_ in con.execute("describe _all_runs").fetchall()}
        mtypes = {c: t for c, t, *_ in con.execute("describe _all_members").fetchall()}
        run_keys: list[str] = []
        member_keys: list[str] = []
        finals: list[str] = []
        if "_keys" in types:
            for keys_s, vary_s, finals_s in con.execute("select distinct _keys, _vary_keys, _finals from _all_runs "
                                                          "order by all").fetchall():
                keys = json.loads(keys_s or "[]")
                run_keys.extend(k for k in keys if k not in run_keys)
                member_keys.extend(k for k in keys + json.loads(vary_s or "[]")
                                   if not k.startswith("members.") and k not in member_keys)
                finals.extend(k for k in json.loads(finals_s or "[]") if k not in finals)
        finals = [c for c in FINAL_FIRST if c in finals] + sorted(c for c in finals if c not in FINAL_FIRST)
        reserved = [r for (r,) in con.execute(
            "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'").fetchall()]
        self.names = short_names(member_keys + [k for k in run_keys if k not in member_keys],
                                 FIXED_NAMES | set(finals), reserved)
        self.run_keys, self.member_keys, self.finals = run_keys, member_keys, finals

        # where each run sits: its id, path and sweep; each member's cell (sweep.json)
        root = str(self.root)
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
                for rel in names.get(str(c.get("run_id")), []):
                    cell_rows.append({"_rel": rel, "member": c.get("member"), "cell": c.get("cell")})
        self._typed_table("_sweep_of", sweep_rows, {"_rel": "VARCHAR", "sweep": "VARCHAR"})
        self._typed_table("_cells", cell_rows, {"_rel": "VARCHAR", "member": "BIGINT", "cell": "BIGINT"})
        con.execute(f"""create table _run_ids as select a._rel,
            case when count(*) over (partition by a._name) > 1 then a._rel else a._name end as run_id,
            case when a._rel = '.' then {_sql_str(root)} else {_sql_str(root + '/')} || a._rel end as path,
            s.sweep from _all_runs a left join _sweep_of s using (_rel)""")

        def config_cols(keys: list[str], have: dict[str, str], alias: str, own: dict[str, str] | None = None) -> str:
            srcs = {}
            for k in keys:
                t = have.get(k, '"NULL"')
                src = f"{alias}.{_q(k)}" if k in have else "NULL"
                if own is not None and VARY_PREFIX + k in own:  # a member's own value, else the run's
                    t_own = own[VARY_PREFIX + k]
                    mine = f"m.{_q(VARY_PREFIX + k)}"
                    if t_own != t and '"NULL"' not in (t, t_own):
                        mine, src, t = f"cast({mine} as VARCHAR)", f"cast({src} as VARCHAR)", "VARCHAR"
                    # the run varies k per member: the member's value counts even when it is null (e.g. the
                    # no-clamp control arm of a packed clamp sweep)
                    varied = f"contains({alias}._vary_keys, {_sql_str(json.dumps(k))})"
                    src, t = f"(case when {varied} then {mine} else {src} end)", t_own if t == '"NULL"' else t
                srcs[k] = f"cast({src} as VARCHAR)" if t == '"NULL"' else src
            out = [f"{srcs[k]} as {_q(self.names[k])}" for k in keys] + [f"{srcs[k]} as {_q(k)}" for k in keys]
            return ", ".join(out)

        def fixed(cols: list[tuple[str, str]], have: dict[str, str], alias: str, given: dict[str, str]) -> str:
            out = []
            for c, t in cols:
                if c in given:
                    out.append(f"{given[c]} as {c}")
                else:
                    out.append(f"try_cast({alias}.{_q(c)} as {t}) as {c}" if c in have else f"NULL::{t} as {c}")
            return ", ".join(out)

        ids = {"run_id": "i.run_id", "path": "i.path", "sweep": "i.sweep"}
        extra = config_cols(run_keys, types, 'a')
        con.execute(f"create table runs as select {fixed(RUN_COLUMNS, types, 'a', ids)}{', ' + extra if extra else ''} "
                    "from _all_runs a join _run_ids i using (_rel) order by a._rel")
        run_fields = {c: f"try_cast(r.{c} as {t})" for c, t in RUN_COLUMNS if c in ("status", "name", "task", "model")}
        given = {**ids, **run_fields, "cell": "c.cell",
                 "grokked": "case when m.t_grok is not null then true when m.censored is not null then false end"}
        fin = ", ".join(f"try_cast(m.{_q(c)} as DOUBLE) as {_q(c)}" for c in finals)
        extra = config_cols(member_keys, types, "r", own=mtypes)
        cols = ", ".join(x for x in (fixed(MEMBER_COLUMNS, mtypes, "m", given), fin, extra) if x)
        con.execute(f"""create table members as select {cols} from _all_members m join _run_ids i using (_rel)
            join _all_runs r using (_rel) left join _cells c on c._rel = m._rel and c.member = m.member
            order by m._rel, m.member""")
        self.rel_of = dict(con.execute("select run_id, _rel from _run_ids").fetchall())
        self.files = [(p, rid) for rid, rel in self.rel_of.items() for p in self.found[rel].files]
        self._metrics_view("metrics", self.files)

    def _typed_table(self, name: str, rows: list[dict], columns: dict[str, str]) -> None:
        """A table with declared columns from row dicts (one list parameter per column, unnested)."""
        cols = ", ".join(f"unnest(?::{t}[]) as {_q(c)}" for c, t in columns.items())
        params = [[r.get(c) for r in rows] for c in columns]
        self.con.execute(f"create or replace table {name} as select {cols}", params)

    def _metrics_view(self, view: str, files: list[tuple[str, str]]) -> None:
        if not files:
            self.con.execute(f"create or replace view {view} as select * from (select NULL::VARCHAR as run_id, "
                             "NULL::BIGINT as step, NULL::INTEGER as member, NULL::VARCHAR as metric, "
                             "NULL::DOUBLE as value) where false")
            return
        self._typed_table(f"_{view}_files", [{"filename": p, "run_id": r} for p, r in files],
                          {"filename": "VARCHAR", "run_id": "VARCHAR"})
        listing = "[" + ", ".join(_sql_str(p) for p, _ in files) + "]"
        self.con.execute(f"create or replace view {view} as select f.run_id, p.step, p.member, p.metric, p.value "
                         f"from read_parquet({listing}, filename=true) p join _{view}_files f using (filename)")

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> QueryResult:
        """Run SQL; a mistake in it (or a metrics file that vanished under a running sweep) is a one-line UserError."""
        import duckdb

        try:
            cur = self.con.execute(sql, params or [])
            if cur.description is None:
                return QueryResult([], [])
            return QueryResult([d[0] for d in cur.description], cur.fetchall())
        except duckdb.Error as e:
            raise UserError(f"query failed: {_first_line(e)}") from None

    def df(self, sql: str, params: list | None = None) -> Any:
        """A query as a pandas DataFrame."""
        import duckdb

        try:
            return self.con.execute(sql, params or []).df()
        except duckdb.Error as e:
            raise UserError(f"query failed: {_first_line(e)}") from None

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
        self._metrics_view("_metrics_subset", [(p, r) for p, r in self.files if want is None or r in want])
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
