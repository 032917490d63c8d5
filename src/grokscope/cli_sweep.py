"""``grokscope sweep``: expand a sweep spec into cells, pack them into runs, train the missing ones.

Registered on the main app by ``grokscope.cli._register_extensions``.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)


def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (TOML or YAML): a base config plus grid/zip/arms/seeds axes"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w",
                                          help="parallel runs (local default: cores ÷ threads per worker)"),
    threads_per_worker: int = typer.Option(1, "--threads-per-worker", help="torch threads in each worker"),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (e.g. auto); default: a local Ray"),
    out: Optional[Path] = typer.Option(None, "--out", help="sweep directory (default sweeps/<spec name>)"),
    no_pack: bool = typer.Option(False, "--no-pack", help="one run per cell (no member packing)"),
    member_cap: Optional[int] = typer.Option(None, "--member-cap", help="most members per packed run (default: the spec's)"),
    set_: list[str] = typer.Option([], "--set", help="override a base config field, e.g. --set train.steps=2000"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    gpus_per_task: Optional[float] = typer.Option(None, "--gpus-per-task",
                                                  help="Ray with --device cuda: GPUs per task (default 1; 0.25 shares one)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the cells and the packing, train nothing"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="run the valid cells and list the invalid ones (default: refuse the sweep)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no live progress"),
) -> None:
    """Run a sweep: skips complete cells, resumes interrupted ones, lists failures at the end (exit 1)."""
    from .sweep.runner import run_sweep
    from .sweep.spec import load_spec

    plan = load_spec(spec, set_, False if no_pack else None, member_cap, skip_invalid)
    con = _console(stderr=True)
    if dry_run:
        _print_plan(plan)
        _print_invalid(plan)
        return
    progress = RichProgress(con, live=not quiet)
    try:
        result = run_sweep(plan, out=out, workers=workers, threads_per_worker=threads_per_worker, executor=executor,
                           address=address, device=device, progress=progress, gpus_per_task=gpus_per_task)
    except KeyboardInterrupt:
        con.print("interrupted: rerun the same command to finish the missing cells")
        raise typer.Exit(130) from None
    _print_result(result)
    _print_invalid(plan)
    if result.failed:
        raise typer.Exit(1)


def _print_invalid(plan: Any) -> None:
    """The cells --skip-invalid left out, one line each (stderr)."""
    if not plan.invalid:
        return
    err = _console(stderr=True)
    err.print(f"{len(plan.invalid)} invalid cells were skipped (--skip-invalid):")
    for c in plan.invalid:
        err.print(f"  {_axes_text(c['values'])}: {c['error']}")


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False)
    if not con.is_terminal:  # logs: no wrapping at 80 columns
        con = Console(stderr=stderr, highlight=False, width=200)
    return con


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _axes_text(values: dict[str, Any]) -> str:
    return " ".join(f"{k.split('.')[-1]}={_fmt(v)}" for k, v in values.items())


class RichProgress:
    """Live view: runs done/total, work-weighted bar with ETA, one status line per worker; a log line per run."""

    def __init__(self, console: Any, live: bool = True) -> None:
        self.con, self.live_on = console, live
        self.lock = threading.Lock()
        self.live: Any = None
        self.workers: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, str] = {}
        self.finished_runs: set[str] = set()
        self.weights: dict[str, float] = {}
        self.members: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.done_work = 0.0
        self.done_runs = 0
        self.t0 = time.monotonic()

    def note(self, text: str) -> None:
        self.con.print(f"note: {text}")

    def begin(self, plan: Any, todo: list[Any], skipped: int) -> None:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.t0 = time.monotonic()
        n_runs, n_cells = len(plan.runs), len(plan.cells)
        packed = sum(1 for r in plan.runs if r.members > 1)
        self.con.print(f"sweep {plan.spec.name}: {n_cells} cells in {n_runs} runs ({packed} packed), "
                       f"{skipped} runs already complete, {len(todo)} to train")
        self.total_runs = len(todo)
        for job in todo:
            self.weights[job.run_id] = float(job.members * job.steps)
            self.members[job.run_id], self.steps[job.run_id] = job.members, job.steps
        if not todo:
            return
        self.progress = Progress(TextColumn("runs {task.fields[done]}/{task.fields[runs]}"), BarColumn(),
                                 TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.con)
        self.task = self.progress.add_task("sweep", total=sum(self.weights.values()) or 1.0, done=0,
                                           runs=self.total_runs)
        if self.live_on and self.con.is_terminal:
            self.live = Live(Group(self.progress, _WorkerLines(self)), console=self.con, refresh_per_second=4,
                             transient=False, redirect_stdout=False, redirect_stderr=False)
            self.live.start()

    def _label(self, worker: str) -> str:
        if worker not in self.labels:
            self.labels[worker] = f"worker {len(self.labels) + 1}"
        return self.labels[worker]

    def event(self, kind: str, worker: str, run_id: str, step: int) -> None:
        with self.lock:
            if run_id in self.finished_runs:
                return
            self.workers[self._label(worker)] = {"run": run_id, "step": step, "since": time.monotonic()
                                                 if kind == "start" else self.workers.get(self._label(worker), {})
                                                 .get("since", time.monotonic())}
            self._update()

    def _update(self) -> None:
        inflight = sum(min(w["step"], self.steps.get(w["run"], 0)) * self.members.get(w["run"], 1)
                       for w in self.workers.values() if w.get("run"))
        self.progress.update(self.task, completed=self.done_work + inflight, done=self.done_runs)

    def finished(self, outcome: Any, cells: int) -> None:
        with self.lock:
            self.finished_runs.add(outcome.run_id)
            self.done_runs += 1
            self.done_work += self.weights.get(outcome.run_id, 0.0)
            for w in self.workers.values():
                if w.get("run") == outcome.run_id:
                    w.update(run=None, step=0)
            if hasattr(self, "progress"):
                self._update()
        m = self.members.get(outcome.run_id, "?")
        total = sum(self.weights.values()) or 1.0
        elapsed = time.monotonic() - self.t0
        eta = elapsed * (total - self.done_work) / self.done_work if self.done_work else math.nan
        where = f"[{self.done_runs}/{self.total_runs} runs, {elapsed:.0f} s, ETA {eta:.0f} s]"
        if outcome.ok:
            self.con.print(f"done   {outcome.run_id}  ({m} members, {cells} cells)  {outcome.seconds:.1f} s  {where}")
        else:
            self.con.print(f"FAILED {outcome.run_id}  ({cells} cells): {outcome.error}  {where}")

    def end(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


class _WorkerLines:
    def __init__(self, p: RichProgress) -> None:
        self.p = p

    def __rich__(self) -> Any:
        from rich.text import Text

        lines = []
        with self.p.lock:
            for label, w in sorted(self.p.workers.items()):
                if w.get("run"):
                    total = self.p.steps.get(w["run"], 0)
                    lines.append(f"  {label}: {w['run']}  step {w['step']}/{total}  "
                                 f"({self.p.members.get(w['run'], '?')} members, {time.monotonic() - w['since']:.0f} s)")
                else:
                    lines.append(f"  {label}: idle")
        return Text("\n".join(lines))


def _median_time(values: list[int | None]) -> str:
    xs = sorted(math.inf if v is None else v for v in values)
    if not xs:
        return "-"
    from .report.fmt import fmt_steps  # one rule for step times in every table

    return fmt_steps(statistics.median(xs))


def _points(result: Any) -> list[tuple[dict[str, Any], list[Any]]]:
    groups: dict[str, tuple[dict[str, Any], list[Any]]] = {}
    for c in result.cells:
        values = {k: v for k, v in c.values.items() if k != "seed"}
        key = json.dumps(values, sort_keys=True, default=str)
        groups.setdefault(key, (values, []))[1].append(c)
    return list(groups.values())


def _print_result(result: Any) -> None:
    from rich.table import Table

    plan = result.plan
    axes = [a for a in plan.axes if a != "seed"]
    table = Table(title=f"{result.out}  ({len(plan.cells)} cells, {len(plan.runs)} runs: {result.runs_trained} trained, "
                        f"{result.runs_skipped} already complete; {result.seconds:.1f} s)")
    for a in axes:
        table.add_column(a, justify="right")
    for col in ("seeds", "T_mem (median)", "T_grok (median)", "grokked", "status"):
        table.add_column(col, justify="right")
    for values, cells in _points(result):
        ok = [c for c in cells if c.status != "failed"]
        failed = len(cells) - len(ok)
        grokked = sum(1 for c in ok if c.t_grok is not None)
        table.add_row(*[_fmt(values.get(a, "-")) for a in axes], str(len(cells)),
                      _median_time([c.t_mem for c in ok]) if ok else "-",
                      _median_time([c.t_grok for c in ok]) if ok else "-",
                      f"{grokked}/{len(ok)}", "ok" if not failed else f"{failed} failed")
    _console().print(table)
    if result.failed:
        err = _console(stderr=True)
        err.print(f"{len(result.failed)} of {len(result.cells)} cells failed:")
        for c in result.failed:
            err.print(f"  cell {c.cell} ({_axes_text(c.values)}) run {c.run_id}: {c.error}")
        err.print("fix the cause and rerun the same command: finished cells are skipped")


def _print_plan(plan: Any) -> None:
    from rich.table import Table

    table = Table(title=f"sweep {plan.spec.name}: {len(plan.cells)} cells in {len(plan.runs)} runs "
                        f"(pack={plan.spec.pack}, member cap {plan.spec.member_cap})")
    for col in ("run", "members", "steps", "cells"):
        table.add_column(col, justify="right" if col != "cells" else "left")
    for r in plan.runs:
        cells = [plan.cells[i] for i in r.cells]
        varying = {a: list(dict.fromkeys(_fmt(c.values.get(a)) for c in cells)) for a in plan.axes}
        text = " ".join(f"{a.split('.')[-1]}={','.join(v)}" for a, v in varying.items())
        table.add_row(r.run_id, str(r.members), str(r.config.train.steps), text)
    _console().print(table)
    sys.stdout.flush()
