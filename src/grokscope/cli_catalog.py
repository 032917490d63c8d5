"""``grokscope runs``, ``grokscope query`` and ``grokscope report``: the run catalog and reports.

Registered on the main app by ``cli._register_extensions``. DuckDB, matplotlib and pandas are imported inside the
commands, so ``grokscope --help`` stays instant.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .errors import UserError

# the columns `grokscope runs` always shows after the config columns that vary
RUNS_EVENT_COLUMNS = ["t_mem", "t_grok", "delay", "censored", "final_test_acc"]
# never shown as "varying" by `grokscope runs`: bookkeeping that differs between any two runs or members
RUNS_HIDDEN = {"path", "sweep", "init_seed", "split_seed", "created", "status", "budget", "grokked"}
LEFT_COLUMNS = {"run_id", "path", "sweep", "name", "task", "model", "status", "created"}
RICH_MAX_ROWS = 300  # longer tables are printed as plain aligned text


def jsonable(v: Any) -> Any:
    """A cell as a JSON value: non-finite floats as null, decimals as floats, dates as ISO text."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, decimal.Decimal):
        return jsonable(float(v))
    if isinstance(v, (datetime.date, datetime.datetime, datetime.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


def fmt_cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        from .report.fmt import fmt_number  # one rule for numbers in every table (report/fmt.py)

        return fmt_number(v)
    if isinstance(v, decimal.Decimal):
        return fmt_cell(float(v))
    return str(v)


def print_rows(columns: list[str], rows: list[tuple], fmt: str, title: str | None = None) -> None:
    """Rows to stdout as a rich table, CSV or JSON (a list of row objects)."""
    if fmt == "json":
        doc = [{c: jsonable(v) for c, v in zip(columns, r)} for r in rows]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else json.dumps(jsonable(v)) if isinstance(v, (list, dict)) else v for v in r])
        sys.stdout.write(buf.getvalue())
    elif fmt == "table" and len(rows) > RICH_MAX_ROWS:  # rich takes seconds for thousands of rows
        cells = [[fmt_cell(v) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        left = {i for i, c in enumerate(columns) if c in LEFT_COLUMNS}

        def line(items: list[str]) -> str:
            return "  ".join(x.ljust(w) if i in left else x.rjust(w) for i, (x, w) in enumerate(zip(items, widths)))

        out = ([title] if title else []) + [line(list(columns)), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in cells]
        sys.stdout.write("\n".join(x.rstrip() for x in out) + "\n")
    elif fmt == "table":
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=title, show_edge=False, header_style="bold")
        for c in columns:
            table.add_column(escape(c), justify="left" if c in LEFT_COLUMNS else "right", overflow="fold")
        for r in rows:
            table.add_row(*(escape(fmt_cell(v)) for v in r))
        Console(highlight=False, width=max(80, min(250, 14 * len(columns)))).print(table)
    else:
        raise UserError(f"unknown --format {fmt!r} (choose table, csv or json)")


def _open_catalog(root: Path, missing_ok: bool = False) -> Any:
    from .store.catalog import Catalog

    cat = Catalog(root, missing_ok=missing_ok)
    for w in cat.warnings:
        sys.stderr.write(f"warning: {w}\n")
    return cat


def runs(
    root: Path = typer.Argument(Path("runs"), help="a run, a sweep, or any directory of runs (searched recursively)"),
    where: Optional[str] = typer.Option(None, "--where",
                                        help="SQL filter on the members table, e.g. \"wd > 0.1 and p = 43\""),
    as_json: bool = typer.Option(False, "--json", help="a JSON list of row objects (every column)"),
    columns: Optional[str] = typer.Option(None, "--columns",
                                          help="comma-separated columns to show, e.g. run_id,wd,t_grok"),
) -> None:
    """One row per run member: its config values, T_mem, T_grok, delay, censoring (see `grokscope query` for SQL).

    The table shows the config columns that differ between the rows; --json gives every column.
    """
    from .registry import suggest

    cat = _open_catalog(root)
    all_cols = cat.columns("members")
    dotted = set(cat.names)
    sql = "select * from members" + (f" where ({where})" if where else "") + " order by path, member"
    try:
        res = cat.query(sql)
    except UserError as e:
        raise UserError(f"bad --where {where!r}: {str(e).removeprefix('query failed: ')}") from None
    if columns:
        lower = {c.lower(): c for c in all_cols}
        want = []
        for c in (x.strip() for x in columns.split(",") if x.strip()):
            if c.lower() not in lower:
                hint = suggest(c, [x for x in all_cols if x not in dotted])
                raise UserError(f"unknown column {c!r} for --columns{hint}")
            want.append(lower[c.lower()])
    elif as_json:
        want = [c for c in all_cols if c not in dotted]
    else:
        want = _varying_columns(cat, res)
    idx = [res.columns.index(c) for c in want]
    rows = [tuple(r[i] for i in idx) for r in res.rows]
    if as_json:
        print_rows(want, rows, "json")
        return
    if not rows:
        sys.stderr.write(f"no runs under {root}" + (f" matching {where!r}" if where else "") + "\n")
        return
    n_runs = len({r[res.columns.index("run_id")] for r in res.rows})
    print_rows(want, rows, "table", title=f"{root}: {n_runs} runs, {len(rows)} members")


def _varying_columns(cat: Any, res: Any) -> list[str]:
    """run_id, member, then the (short) config and fixed columns whose values differ between rows, then events.

    Readable over unrelated runs (report/axes.py): measurement and storage settings (eval.*, checkpoint.*) are not
    shown, and of several columns that split the rows into the same groups only the first is; a note on stderr
    names the others (``--columns`` or ``--json`` show them)."""
    from .report.axes import distinct_axes, matters

    cols = res.columns
    fixed = ["seed", "cell", "name", "task", "model"]
    varying: dict[str, list[Any]] = {}
    for c in fixed + cat.config_columns("members"):
        if c in varying or c in RUNS_HIDDEN or c in RUNS_EVENT_COLUMNS or c not in cols:
            continue
        if c not in fixed and not matters(cat.dotted(c)):
            continue
        i = cols.index(c)
        vals = [jsonable(r[i]) for r in res.rows]
        if len({json.dumps(v) for v in vals}) > 1:
            varying[c] = vals
    kept, stands = distinct_axes({c: v for c, v in varying.items()})
    kept = [c for c in varying if c in kept]  # fixed columns first, then config order
    hidden = {k: v for k, v in stands.items() if v}
    if hidden:
        sys.stderr.write("columns varying together (one shown): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in
                                                                             hidden.items()) + "\n")
    return ["run_id", "member", *kept] + [c for c in RUNS_EVENT_COLUMNS if c in cols]


def query(
    sql: str = typer.Argument(..., help="SQL over the tables runs, members and metrics"),
    root: Path = typer.Option(Path("runs"), "--root", help="directory searched for runs"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Run SQL over the run catalog (tables runs, members, metrics); print a table, CSV or JSON.

    `runs`: one row per run. `members`: one row per run member with its effective config (short names such as
    p, wd, lr; dotted names such as "optim.wd" too), t_mem, t_grok, delay, censored, final_* metrics, cell.
    `metrics`: run_id, step, member, metric, value (read from the runs' Parquet files).
    Example: grokscope query "select p, median(t_grok) from members group by p"
    """
    if fmt not in ("table", "csv", "json"):
        raise UserError(f"unknown --format {fmt!r} (choose table, csv or json)")
    explicit = root != Path("runs")
    cat = _open_catalog(root, missing_ok=not explicit)
    res = cat.query(sql)
    print_rows(res.columns, res.rows, fmt)


def report(
    root: Path = typer.Argument(..., help="a run, a sweep dir (sweep.json), or any directory of runs"),
    out: Optional[Path] = typer.Option(None, "--out", help="output directory (default: DIR/report)"),
) -> None:
    """Write a self-contained report.html (figures inline) and its PNGs for a run, a sweep or a directory of runs.

    Accuracy curves per cell, T_grok against each swept axis (censored members as hollow triangles at the budget),
    a median-T_grok heatmap for two-axis grids, and a table of cells (seeds pooled). A predictor pool scored by
    `grokscope bench-predictors` gets its leaderboard, ROC curves, lead-time distributions and claims instead.
    """
    from rich.console import Console

    from .bench.report import is_pool, write_bench_report
    from .report.html import write_report

    path = write_bench_report(root, out) if is_pool(root) else write_report(root, out)
    Console(stderr=False, highlight=False).print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command()(runs)
    app.command()(query)
    app.command()(report)
