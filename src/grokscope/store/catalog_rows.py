"""Reading one run directory into catalog rows: a run row and one row per member (config keys dotted).

Damaged documents never stop the catalog: an unreadable ``config.json`` / ``meta.json`` skips the run, an
unreadable or malformed ``members.json`` falls back to the members the config describes, an unreadable or malformed
``events.json`` makes the events be recomputed from the metrics (as for a run still running), and a metrics file
that cannot be read is left out of the per-member values. Each such case adds one line to ``warnings``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from ..errors import first_line
from .catalog_scan import Found
from .catalog_schema import AT_GROK_PREFIX, VARY_PREFIX, event_column, final_column, metric_column, scalar

LEAF_DICTS = {"members.vary", "intervene.clamp.per_group"}  # kept whole (JSON), never flattened into columns
MEMBER_KEYS = {"member", "seed", "init_seed", "split_seed"}  # members.json keys that are not config values
EVENT_KEYS = ("t_mem", "t_grok", "delay", "censored", "budget")
STANDARD_EVENT_KEYS = {"member", "seed", *EVENT_KEYS, "final", "at_grok"}
SCALARS = (int, float, bool, str, type(None))


def flatten(d: dict, prefix: str = "", out: dict | None = None) -> dict[str, Any]:
    """``{"optim": {"wd": 1}}`` -> ``{"optim.wd": 1}``; dicts named in ``LEAF_DICTS`` (and empty ones) stay whole."""
    out = {} if out is None else out
    for k, v in d.items():
        key = prefix + k
        t = type(v)
        if t is dict and v and key not in LEAF_DICTS:
            flatten(v, key + ".", out)
        else:
            out[key] = v if t is str or t is int or t is bool or v is None else scalar(v)
    return out


def read_json(path: str, name: str, warnings: list[str]) -> Any:
    """A JSON document of a directory; None (and a warning) when it is unreadable, None when it is missing."""
    from pathlib import Path

    from .integrity import DamagedFile, verify

    try:
        verify(Path(path, name))  # a checksum mismatch is a damaged document: warned about, not catalogued
        with open(os.path.join(path, name), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except DamagedFile as e:
        warnings.append(f"{path}: cannot read {name}: damaged ({e.what})")
        return None
    except (OSError, ValueError, RecursionError) as e:
        warnings.append(f"{path}: cannot read {name}: {e}")
        return None


def fallback_members(cfg: dict) -> list[dict]:
    """members.json rows rebuilt from the config (``RunConfig.member_table`` order: vary rows outer, seeds inner)."""
    from ..config import member_rows

    m = cfg.get("members") or {}
    return [{"member": i, **row} for i, row in enumerate(member_rows(m.get("seeds", 1), m.get("vary") or {}))]


def _members(found: Found, cfg: dict, warnings: list[str]) -> list[dict]:
    doc = read_json(found.path, "members.json", warnings) if "members.json" in found.names else None
    if isinstance(doc, list) and doc and all(isinstance(m, dict) and type(m.get("member", 0)) is int for m in doc):
        return doc
    if doc is not None:
        warnings.append(f"{found.path}: members.json is not a list of members: using the config's members")
    return fallback_members(cfg)


def _events(found: Found, warnings: list[str]) -> dict[Any, dict]:
    """events.json entries by member ({} when missing or malformed: the events then come from the metrics)."""
    doc = read_json(found.path, "events.json", warnings) if "events.json" in found.names else None
    if doc is None:
        return {}
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        warnings.append(f"{found.path}: events.json is not a list of member entries: events recomputed")
        return {}
    return {e.get("member"): e for e in doc}


def event_values(e: dict, warnings: list[str], where: str) -> dict[str, Any]:
    """The columns one events.json entry adds beyond the standard keys: ``at_grok_<metric>`` from its
    ``"at_grok"`` dict, and every other scalar key under its column name (``alarm/ews_ac1`` -> ``alarm_ews_ac1``).
    Non-scalar extras and keys that would shadow a fixed column are left out, with a warning."""
    out: dict[str, Any] = {}
    snap = e.get("at_grok")
    if isinstance(snap, dict):
        for metric, v in snap.items():
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            out[metric_column(AT_GROK_PREFIX, str(metric))] = v if ok else None
    for k, v in e.items():
        if k in STANDARD_EVENT_KEYS:
            continue
        col = event_column(str(k))
        if col is None or not isinstance(v, SCALARS):
            warnings.append(f"{where}: events.json key {k!r} not catalogued "
                            f"({'not a scalar' if col else 'its column name is taken'})")
            continue
        out[col] = scalar(v)
    return out


def read_run(found: Found, warnings: list[str]) -> dict | None:
    """A run's documents as rows: ``{"run": run row, "members": [member rows], ...}`` (config keys dotted)."""
    cfg = read_json(found.path, "config.json", warnings)
    meta = read_json(found.path, "meta.json", warnings)
    if not isinstance(cfg, dict) or not isinstance(meta, dict):
        warnings.append(f"{found.path}: skipped (config.json or meta.json unreadable)")
        return None
    members = _members(found, cfg, warnings)
    ev = _events(found, warnings)
    flat = flatten(cfg)
    flat.pop("name", None)  # that is the fixed ``name`` column
    keys = list(flat)
    vary_keys: list[str] = []
    event_cols: list[str] = []
    rows = []
    for i, m in enumerate(members):
        mem = int(m.get("member", i))
        vary = {k: scalar(v) for k, v in m.items() if k not in MEMBER_KEYS}
        vary_keys.extend(k for k in vary if k not in vary_keys)
        e = ev.get(mem, {})
        extra = event_values(e, warnings, found.path) if e else {}
        event_cols.extend(c for c in extra if c not in event_cols)
        rows.append({"_rel": found.rel, "_sig": found.sig, "member": mem, "seed": m.get("seed"),
                     "init_seed": m.get("init_seed"), "split_seed": m.get("split_seed"),
                     **{k: e.get(k) for k in EVENT_KEYS}, **extra,
                     **{VARY_PREFIX + k: v for k, v in vary.items()}})
    task, model = cfg.get("task") or {}, cfg.get("model") or {}
    run = {"_rel": found.rel, "_sig": found.sig,
           "_name": os.path.basename(found.path.rstrip(os.sep)), "_keys": json.dumps(keys),
           "_vary_keys": json.dumps(vary_keys), "_finals": "[]", "_event_cols": json.dumps(event_cols),
           "status": meta.get("status"), "name": cfg.get("name"), "task": task.get("name"), "model": model.get("name"),
           "steps_done": meta.get("steps_done"), "train_seconds": meta.get("train_seconds"),
           "created": meta.get("created"), "n_members": len(rows), "n_grokked": None,
           **{k: (None if k in vary_keys else v) for k, v in flat.items()}}
    ev_cfg = cfg.get("eval") or {}
    finals = {mem: e["final"] for mem, e in ev.items() if isinstance(e.get("final"), dict)}
    return {"run": run, "members": rows, "has_events": bool(ev),
            "finals": finals if len(finals) == len(rows) else None,  # written at completion: no Parquet read needed
            "eval": {k: ev_cfg.get(k) for k in ("mem_threshold", "grok_threshold", "loss_rule")}}


def read_parquet_rows(con: Any, files: list[tuple[str, int]], sql: str, warnings: list[str]) -> list[tuple]:
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
                warnings.append(f"{item[0]}: unreadable metrics ({first_line(e, hints=True)})")
        return rows


def fill_from_metrics(con: Any, todo: list[tuple[Found, dict]], warnings: list[str]) -> None:
    """The last value of every metric of each member (one query over all the files of the runs in ``todo``), and
    the events of runs without events.json (still running) from their curves."""
    files = [(f, i) for i, (found, rec) in enumerate(todo) if rec.get("finals") is None for f in found.files]
    sql = ("select k, member, list(metric), list(value) from (select k, member, metric, arg_max(value, step) as value "
           "from {src} p join (select unnest(?::VARCHAR[]) as filename, unnest(?::BIGINT[]) as k) using (filename) "
           "group by all) group by all")
    rows = read_parquet_rows(con, files, sql, warnings)
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
                m[col] = v if isinstance(v, (int, float)) and math.isfinite(v) else None  # JSON may hold anything
                if col not in finals:
                    finals.append(col)
        rec["run"]["_finals"] = json.dumps(finals)
    pending = [(found, rec) for found, rec in todo if not rec["has_events"] and found.files]
    if pending:
        _events_from_metrics(con, pending, warnings)
    for _found, rec in todo:
        rec["run"]["n_grokked"] = sum(1 for m in rec["members"] if m.get("t_grok") is not None)


def _events_from_metrics(con: Any, pending: list[tuple[Found, dict]], warnings: list[str]) -> None:
    import numpy as np

    from ..detect.events import events_from_curves

    files = [(f, i) for i, (found, _rec) in enumerate(pending) for f in found.files]
    sql = ("select k, member, step, metric, value from {src} p join (select unnest(?::VARCHAR[]) as filename, "
           "unnest(?::BIGINT[]) as k) using (filename) where metric in ('train/acc', 'test/acc', 'test/loss')")
    curves: dict[tuple[int, int], dict[str, dict[int, float]]] = {}
    for k, member, step, metric, value in read_parquet_rows(con, files, sql, warnings):
        curves.setdefault((k, int(member)), {}).setdefault(metric, {})[int(step)] = value
    for i, (_found, rec) in enumerate(pending):
        e = rec["eval"]
        for m in rec["members"]:
            c = curves.get((i, m["member"]))
            if not c:
                continue
            steps = np.array(sorted(set().union(*[set(v) for v in c.values()])), dtype=np.int64)

            cols = {name: np.array([d.get(int(s), np.nan) for s in steps], dtype=float) for name, d in c.items()}
            try:
                got = events_from_curves(m["member"], m["seed"] or 0, steps, cols, e).as_dict()
            except (ValueError, TypeError):
                continue
            if rec["run"].get("status") != "complete" and got["t_grok"] is None:
                got["censored"] = None  # unfinished (running or its writer died): not censored, not known yet
            m.update({k: got[k] for k in EVENT_KEYS})
