"""The catalog's SQL side: fixed columns, column naming, and building the ``runs`` / ``members`` tables and the
``metrics`` view from the per-run rows (``_all_runs``, ``_all_members``; see ``catalog_rows``).

The column rules themselves are documented in ``grokscope.store.catalog``.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import first_line

VARY_PREFIX = "~"  # a member's own value of a config key, in the member rows (effective value = this, else the run's)
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
# bookkeeping columns of the per-run rows (cache format, identity, which columns the run contributes)
RUN_META = ["_format", "_rel", "_sig", "_name", "_keys", "_vary_keys", "_finals", "_event_cols"]
FIRST_METRICS = ["train/acc", "test/acc", "train/loss", "test/loss", "norm/total"]
FINAL_PREFIX, AT_GROK_PREFIX = "final_", "at_grok_"
# names no config short name or event column may take: the fixed columns of both tables and the metrics view
FIXED_NAMES = {c for c, _ in RUN_COLUMNS + MEMBER_COLUMNS} | {"step", "metric", "value"}


def metric_column(prefix: str, metric: str) -> str:
    """Column of a per-member metric value: ``prefix`` + the name with non-identifier characters as ``_``
    (``norm/total`` is ``<prefix>norm``)."""
    if metric == "norm/total":
        return prefix + "norm"
    return prefix + re.sub(r"\W", "_", metric)


def final_column(metric: str) -> str:
    """Column of a metric's last value (``final_test_acc``)."""
    return metric_column(FINAL_PREFIX, metric)


def event_column(key: str) -> str | None:
    """Column of an extra scalar ``events.json`` key (``alarm/ews_ac1`` -> ``alarm_ews_ac1``), or None when that
    name belongs to a fixed column or to the ``final_`` / ``at_grok_`` families (the key is then not catalogued)."""
    col = re.sub(r"\W", "_", key)
    low = col.lower()
    if not col or low in FIXED_NAMES or low.startswith((FINAL_PREFIX, AT_GROK_PREFIX)):
        return None
    return col


def metric_columns_order(cols: Iterable[str], prefix: str) -> list[str]:
    """The common metrics first (accuracy, loss, norm), then the rest alphabetically."""
    cols = set(cols)
    first = [metric_column(prefix, m) for m in FIRST_METRICS]
    return [c for c in first if c in cols] + sorted(c for c in cols if c not in first)


def short_names(keys: Iterable[str], taken: Iterable[str] = (), reserved: Iterable[str] = ()) -> dict[str, str]:
    """Dotted config keys -> unique SQL-friendly names (the rule is in the ``catalog`` module docstring)."""
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


# -- SQL text and values ---------------------------------------------------------------------------------------
def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_str(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def scalar(v: Any) -> Any:
    """A cell value: lists and dicts as JSON text, non-finite floats as None."""
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def dumps(rows: list[dict]) -> str:
    try:
        return json.dumps(rows, allow_nan=False, default=str)
    except ValueError:  # a non-finite float somewhere: as null
        return json.dumps([{k: scalar(v) for k, v in r.items()} for r in rows], default=str)


# -- tables from Python rows ------------------------------------------------------------------------------------
def json_table(con: Any, name: str, rows: list[dict], empty: list[str]) -> None:
    """A table from row dicts via a JSON temp file (types detected by DuckDB over all rows; a column that mixes
    types becomes text). No rows: columns ``empty``, typeless (NULL) so that they take any type in a union."""
    if not rows:
        cols = ", ".join(f"NULL as {q(c)}" for c in empty)
        con.execute(f"create table {name} as select * from (select {cols}) where false")
        return
    fd, tmp = tempfile.mkstemp(prefix="grokscope-catalog-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(dumps(rows))
        src = (f"read_json({sql_str(tmp)}, format='array', records=true, sample_size=-1, "
               "maximum_object_size=67108864, date_format='disabled', timestamp_format='disabled')")
        con.execute(f"create table {name} as select * from {src}")
    finally:
        os.unlink(tmp)
    mixed = [c for c, t, *_ in con.execute(f"describe {name}").fetchall() if t == "JSON"]
    if mixed:
        fix = ", ".join(f"json_extract_string({q(c)}, '$') as {q(c)}" for c in mixed)
        con.execute(f"create or replace table {name} as select * replace ({fix}) from {name}")


def typed_table(con: Any, name: str, rows: list[dict], columns: dict[str, str]) -> None:
    """A table with declared columns from row dicts (one list parameter per column, unnested)."""
    cols = ", ".join(f"unnest(?::{t}[]) as {q(c)}" for c, t in columns.items())
    params = [[r.get(c) for r in rows] for c in columns]
    con.execute(f"create or replace table {name} as select {cols}", params)


def metrics_view(con: Any, view: str, files: list[tuple[str, str]], warnings: list[str] | None = None) -> None:
    """View ``view`` (run_id, step, member, metric, value) over ``(parquet file, run_id)`` pairs; nothing is read
    until it is queried. Files whose member column is int64 (offline results) are cast to the first file's type.

    Creating the view reads the first file's footer (its schema). When that fails, each file's footer is probed
    and the unreadable ones are left out, with a warning; a damaged file that is not first stays in the view, and a
    query that reaches it fails (``Catalog.query``: one line)."""
    import duckdb

    files = sorted(files)  # a deterministic view: the same first file whatever order the directory scan gave
    if files:
        try:
            _create_metrics_view(con, view, files)
            return
        except duckdb.Error:
            files = [(p, r) for p, r in files if _readable(con, p, warnings)]
    if not files:
        con.execute(f"create or replace view {view} as select * from (select NULL::VARCHAR as run_id, "
                    "NULL::BIGINT as step, NULL::INTEGER as member, NULL::VARCHAR as metric, "
                    "NULL::DOUBLE as value) where false")
        return
    _create_metrics_view(con, view, files)


def _readable(con: Any, path: str, warnings: list[str] | None) -> bool:
    import duckdb

    try:
        con.execute(f"select step, member, metric, value from read_parquet({sql_str(path)}) limit 0")
        return True
    except duckdb.Error as e:
        if warnings is not None:
            warnings.append(f"{path}: left out of the metrics view ({first_line(e, hints=True)})")
        return False


def _create_metrics_view(con: Any, view: str, files: list[tuple[str, str]]) -> None:
    typed_table(con, f"_{view}_files", [{"filename": p, "run_id": r} for p, r in files],
                {"filename": "VARCHAR", "run_id": "VARCHAR"})
    listing = "[" + ", ".join(sql_str(p) for p, _ in files) + "]"
    con.execute(f"create or replace view {view} as select f.run_id, p.step, p.member, p.metric, p.value "
                f"from read_parquet({listing}, filename=true) p join _{view}_files f using (filename)")


# -- the runs and members tables --------------------------------------------------------------------------------
@dataclass
class Schema:
    """What the built tables hold: short names of config keys, the config keys of each table, value columns."""

    names: dict[str, str]
    run_keys: list[str]
    member_keys: list[str]
    finals: list[str]
    event_cols: list[str]  # at_grok_<metric> columns, then extra events.json keys


def collect_schema(con: Any) -> Schema:
    """Config keys, final / event columns of every run in ``_all_runs``, and the short names of the config keys."""
    types = {c: t for c, t, *_ in con.execute("describe _all_runs").fetchall()}
    run_keys: list[str] = []
    member_keys: list[str] = []
    finals: list[str] = []
    events: list[str] = []
    if "_keys" in types:
        ev = "_event_cols" if "_event_cols" in types else "'[]'"
        for keys_s, vary_s, finals_s, ev_s in con.execute(f"select distinct _keys, _vary_keys, _finals, {ev} "
                                                          "from _all_runs order by all").fetchall():
            keys = json.loads(keys_s or "[]")
            run_keys.extend(k for k in keys if k not in run_keys)
            member_keys.extend(k for k in keys + json.loads(vary_s or "[]")
                               if not k.startswith("members.") and k not in member_keys)
            finals.extend(k for k in json.loads(finals_s or "[]") if k not in finals)
            events.extend(k for k in json.loads(ev_s or "[]") if k not in events)
    at_grok = metric_columns_order([c for c in events if c.startswith(AT_GROK_PREFIX)], AT_GROK_PREFIX)
    events = at_grok + sorted(c for c in events if not c.startswith(AT_GROK_PREFIX))
    finals = metric_columns_order(finals, FINAL_PREFIX)
    reserved = [r for (r,) in con.execute(
        "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'").fetchall()]
    names = short_names(member_keys + [k for k in run_keys if k not in member_keys],
                        FIXED_NAMES | set(finals) | set(events), reserved)
    return Schema(names, run_keys, member_keys, finals, events)


def _config_cols(names: dict[str, str], keys: list[str], have: dict[str, str], alias: str,
                 own: dict[str, str] | None = None) -> str:
    """Select list of config columns (short name, then dotted name); ``own``: the member's own (varied) values."""
    srcs = {}
    for k in keys:
        t = have.get(k, '"NULL"')
        src = f"{alias}.{q(k)}" if k in have else "NULL"
        if own is not None and VARY_PREFIX + k in own:  # a member's own value, else the run's
            t_own = own[VARY_PREFIX + k]
            mine = f"m.{q(VARY_PREFIX + k)}"
            if t_own != t and '"NULL"' not in (t, t_own):
                mine, src, t = f"cast({mine} as VARCHAR)", f"cast({src} as VARCHAR)", "VARCHAR"
            # the run varies k per member: the member's value counts even when it is null (e.g. the
            # no-clamp control arm of a packed clamp sweep)
            varied = f"contains({alias}._vary_keys, {sql_str(json.dumps(k))})"
            src, t = f"(case when {varied} then {mine} else {src} end)", t_own if t == '"NULL"' else t
        srcs[k] = f"cast({src} as VARCHAR)" if t == '"NULL"' else src
    out = [f"{srcs[k]} as {q(names[k])}" for k in keys] + [f"{srcs[k]} as {q(k)}" for k in keys]
    return ", ".join(out)


def _fixed(cols: list[tuple[str, str]], have: dict[str, str], alias: str, given: dict[str, str]) -> str:
    out = []
    for c, t in cols:
        if c in given:
            out.append(f"{given[c]} as {c}")
        else:
            out.append(f"try_cast({alias}.{q(c)} as {t}) as {c}" if c in have else f"NULL::{t} as {c}")
    return ", ".join(out)


def _event_select(cols: list[str], mtypes: dict[str, str]) -> str:
    """at_grok_ columns as DOUBLE (like final_), extra event keys with their detected type (text when it mixes)."""
    out = []
    for c in cols:
        if c not in mtypes:
            out.append(f"NULL::{'DOUBLE' if c.startswith(AT_GROK_PREFIX) else 'VARCHAR'} as {q(c)}")
        elif c.startswith(AT_GROK_PREFIX):
            out.append(f"try_cast(m.{q(c)} as DOUBLE) as {q(c)}")
        elif mtypes[c] == '"NULL"':
            out.append(f"cast(m.{q(c)} as VARCHAR) as {q(c)}")
        else:
            out.append(f"m.{q(c)} as {q(c)}")
    return ", ".join(out)


def build_tables(con: Any, root: str, sweep_rows: list[dict], cell_rows: list[dict]) -> Schema:
    """Tables ``runs`` and ``members`` (and ``_run_ids``: _rel -> run_id, path, sweep) from ``_all_runs`` and
    ``_all_members``; ``sweep_rows``: {_rel, sweep}, ``cell_rows``: {_rel, member, cell}."""
    s = collect_schema(con)
    types = {c: t for c, t, *_ in con.execute("describe _all_runs").fetchall()}
    mtypes = {c: t for c, t, *_ in con.execute("describe _all_members").fetchall()}
    typed_table(con, "_sweep_of", sweep_rows, {"_rel": "VARCHAR", "sweep": "VARCHAR"})
    typed_table(con, "_cells", cell_rows, {"_rel": "VARCHAR", "member": "BIGINT", "cell": "BIGINT"})
    con.execute(f"""create table _run_ids as select a._rel,
        case when count(*) over (partition by a._name) > 1 then a._rel else a._name end as run_id,
        case when a._rel = '.' then {sql_str(root)} else {sql_str(root + '/')} || a._rel end as path,
        s.sweep from _all_runs a left join _sweep_of s using (_rel)""")
    ids = {"run_id": "i.run_id", "path": "i.path", "sweep": "i.sweep"}
    extra = _config_cols(s.names, s.run_keys, types, "a")
    con.execute(f"create table runs as select {_fixed(RUN_COLUMNS, types, 'a', ids)}{', ' + extra if extra else ''} "
                "from _all_runs a join _run_ids i using (_rel) order by a._rel")
    run_fields = {c: f"try_cast(r.{c} as {t})" for c, t in RUN_COLUMNS if c in ("status", "name", "task", "model")}
    given = {**ids, **run_fields, "cell": "c.cell",
             "grokked": "case when m.t_grok is not null then true when m.censored is not null then false end"}
    fin = ", ".join(f"try_cast(m.{q(c)} as DOUBLE) as {q(c)}" for c in s.finals)
    extra = _config_cols(s.names, s.member_keys, types, "r", own=mtypes)
    cols = ", ".join(x for x in (_fixed(MEMBER_COLUMNS, mtypes, "m", given), fin, _event_select(s.event_cols, mtypes),
                                 extra) if x)
    con.execute(f"""create table members as select {cols} from _all_members m join _run_ids i using (_rel)
        join _all_runs r using (_rel) left join _cells c on c._rel = m._rel and c.member = m.member
        order by m._rel, m.member""")
    return s
