"""``grokscope plot``, ``grokscope compare`` and ``grokscope export``: looking at runs after training.

Registered on the main app by ``cli._register_extensions``; matplotlib, pandas and the export tools are imported
inside the commands.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .errors import UserError


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def plot(
    run_dir: Path = typer.Argument(..., help="run directory"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="a stored metric to draw, e.g. logit/scale "
                                     "(repeatable; default: the curves.png figure)"),
    out: Optional[Path] = typer.Option(None, help="output file, .png, .pdf or .svg (default: RUN/curves.png, or "
                                       "RUN/plot_<metrics>.png with --metric)"),
    members: bool = typer.Option(False, "--members/--mean", help="one line per member, or the mean with its "
                                 "min..max range shaded"),
    log: bool = typer.Option(False, "--log/--linear", help="value axis log or linear"),
    log_steps: bool = typer.Option(True, "--log-steps/--linear-steps", help="step axis log or linear"),
) -> None:
    """Draw a run's curves (accuracy, loss, norm, T_mem/T_grok) or any stored metrics, as PNG, PDF or SVG."""
    from . import api
    from .report.curves import plot_run
    from .report.figure_io import figure_format

    r = api.Run(run_dir)
    if out is not None:
        figure_format(out)
    if not metric:
        path = plot_run(r, out or r.path / "curves.png")
    else:
        from .report.metric_plot import check_metrics, plot_metrics

        df = r.metrics()
        check_metrics(metric, set(df["metric"]), str(r.path))
        slug = "_".join(m.replace("/", "-") for m in metric)[:80]
        path = plot_metrics([(r.path.name, (df, r.events))], metric, out or r.path / f"plot_{slug}.png",
                            per_member=members, log_y=log, log_steps=log_steps,
                            title=f"{r.path.name}: " + ("per member" if members else "mean over members, shaded "
                                                        "min..max") + "; vertical lines: T_grok")
    _console().print(f"wrote {path}")


def _labels(runs: list[Any]) -> list[str]:
    names = [r.path.name for r in runs]
    return [f"{i + 1}: {n}" if names.count(n) > 1 else n for i, n in enumerate(names)]


def compare_rows(runs: list[Any], labels: list[str], metrics: list[str]) -> list[dict[str, Any]]:
    """One row per run: members, grokked, median T_mem / T_grok / delay (one formatting rule: report.fmt) and the
    median over members of each metric's final value."""
    from .report.cells import cens_median
    from .report.fmt import median_steps

    rows = []
    for label, r in zip(labels, runs):
        ev = r.events
        df = r.metrics()
        finals: dict[str, Any] = {}
        for m in metrics:
            sub = df[df["metric"] == m]
            last = sub.sort_values("step").groupby("member").tail(1)["value"]
            finals[m] = float(last.median()) if len(last) else None
        rows.append({"run": label, "path": str(r.path), "status": r.status, "steps": r.meta.get("steps_done"),
                     "members": len(ev), "grokked": sum(e.get("t_grok") is not None for e in ev),
                     "median_t_mem": median_steps([e.get("t_mem") for e in ev]),
                     "median_t_grok": cens_median([e.get("t_grok") for e in ev]),
                     "median_delay": median_steps([e.get("delay") for e in ev]), "final": finals})
    return rows


def compare(
    runs: list[Path] = typer.Argument(..., help="two or more run directories"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="metric to overlay (repeatable; default test/acc)"),
    out: Optional[Path] = typer.Option(None, help="overlay figure, .png, .pdf or .svg (default: compare.png in the "
                                       "first run's parent folder, like `report`'s DIR/report)"),
    members: bool = typer.Option(False, "--members/--mean", help="one line per member, or mean and range"),
    log: bool = typer.Option(False, "--log/--linear", help="value axis log or linear"),
    as_json: bool = typer.Option(False, "--json", help="the table as JSON"),
) -> None:
    """Overlay runs' curves in one figure and print their events and final metrics side by side."""
    from . import api
    from .report.figure_io import figure_format
    from .report.fmt import fmt_steps
    from .report.metric_plot import check_metrics, plot_metrics

    if len(runs) < 2:
        raise UserError("compare needs two or more runs")
    if out is not None:
        figure_format(out)
    metric = metric or ["test/acc"]
    opened = [api.Run(p) for p in runs]
    out = out or opened[0].path.parent / "compare.png"
    labels = _labels(opened)
    frames = []
    for r in opened:
        df = r.metrics()
        check_metrics(metric, set(df["metric"]), str(r.path))
        frames.append((df, r.events))
    path = plot_metrics(list(zip(labels, frames)), metric, out, per_member=members, log_y=log,
                        title="compare: " + ("per member" if members else "mean over members, shaded min..max"))
    rows = compare_rows(opened, labels, metric)
    if as_json:
        def plain(row: dict[str, Any]) -> dict[str, Any]:  # standard JSON: a censored median is null, flagged
            t = row["median_t_grok"]
            cens = t is not None and math.isinf(t)
            return {**row, "median_t_grok": None if cens else t, "median_t_grok_censored": cens}

        doc = {"figure": str(path), "metrics": metric, "runs": [plain(r) for r in rows]}
        sys.stdout.write(json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n")
        return
    from rich.table import Table

    table = Table(title="runs compared")
    cols = ["run", "status", "steps", "grokked", "median T_mem", "median T_grok", "median delay"] + \
        [f"final {m}" for m in metric]
    for c in cols:
        table.add_column(c, justify="left" if c == "run" else "right", no_wrap=c == "run")
    for row in rows:
        table.add_row(row["run"], str(row["status"]), str(row["steps"]), f"{row['grokked']}/{row['members']}",
                      fmt_steps(row["median_t_mem"]), fmt_steps(row["median_t_grok"]), fmt_steps(row["median_delay"]),
                      *[("-" if row["final"][m] is None else f"{row['final'][m]:.4g}") for m in metric])
    con = _console()
    con.print(table)
    con.print(f"overlay: {path}")


def export(
    path: Path = typer.Argument(..., help="a run directory, or a directory of runs"),
    to: str = typer.Option(..., "--to", help="csv, tensorboard, mlflow or wandb-offline"),
    out: Optional[Path] = typer.Option(None, help="output directory (default: ./export-<to>)"),
) -> None:
    """Export runs' metrics, config and events to CSV, TensorBoard, MLflow (local file store) or W&B (offline)."""
    from .export import export as run_export

    written = run_export(path, to, out or Path(f"export-{to}"))
    for p in sorted(set(written)):
        _console().print(f"wrote {p}")


def register(app: typer.Typer) -> None:
    app.command()(plot)
    app.command()(compare)
    app.command()(export)
