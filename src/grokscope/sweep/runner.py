"""Run a sweep into a directory: idempotent, resumable, one failing run never stops the others.

    <out>/sweep.json      the spec, its axes and values, every cell -> (run_id, member); written atomically
    <out>/runs/<run-id>/  one grokscope run directory per packed run (see grokscope.store.run_dir)
    <out>/.sweep.lock     held (fcntl) by the sweep process working on this directory

A run whose directory is complete is skipped without starting a worker; an incomplete one is resumed. A second
sweep process pointed at a directory in use is refused with one line, and so is a different sweep (another spec,
packing or --set) pointed at a directory that holds one.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import UserError
from ..store.atomic import write_json
from .executors import Job, LocalExecutor, Outcome, RayExecutor, available_cores, gpu_slots, resolve_device
from .spec import Plan, load_spec


class Progress(Protocol):
    def begin(self, plan: Plan, todo: list[Job], skipped: int) -> None: ...
    def event(self, kind: str, worker: str, run_id: str, step: int) -> None: ...
    def finished(self, outcome: Outcome, cells: int) -> None: ...
    def end(self) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class CellResult:
    cell: int
    values: dict[str, Any]
    run_id: str
    member: int
    status: str  # "done" (trained now), "skipped" (was complete), "failed"
    error: str | None = None
    t_mem: int | None = None
    t_grok: int | None = None
    censored: bool | None = None
    budget: int | None = None


@dataclass
class SweepResult:
    out: Path
    plan: Plan
    cells: list[CellResult]
    runs_trained: int = 0
    runs_skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


class SweepLock:
    """An exclusive, non-blocking fcntl lock on ``<out>/.sweep.lock``; released when the process dies."""

    def __init__(self, out: Path) -> None:
        self.path = out / ".sweep.lock"
        self.fd: int | None = None

    def __enter__(self) -> SweepLock:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(f"{self.path.parent} is in use by another sweep process (pid {holder}); "
                            "wait for it to finish or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def run_complete(path: Path) -> bool:
    try:
        return json.loads((path / "meta.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def resolve_workers(executor: str, workers: int | None, threads: int) -> tuple[int | None, int, list[str]]:
    """Workers × threads never exceed the cores of this machine (local executor); returns (workers, threads, notes)."""
    if threads < 1:
        raise UserError(f"--threads-per-worker must be >= 1, got {threads}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if executor != "local":
        return workers, threads, []
    cores, notes = available_cores(), []
    if threads > cores:
        notes.append(f"--threads-per-worker {threads} > {cores} cores: using {cores}")
        threads = cores
    fit = max(1, cores // threads)
    if workers is None:
        workers = fit
    elif workers * threads > cores:
        notes.append(f"{workers} workers × {threads} threads would exceed the {cores} cores: using {fit} workers")
        workers = fit
    return workers, threads, notes


def run_sweep(spec: str | Path | dict | Plan, out: str | Path | None = None, workers: int | None = None,
              threads_per_worker: int = 1, executor: str = "local", address: str | None = None,
              pack: bool | None = None, member_cap: int | None = None, overrides: list[str] | None = None,
              device: str = "auto", progress: Progress | None = None,
              gpus_per_task: float | None = None) -> SweepResult:
    """Expand ``spec`` and train every cell not already complete under ``out`` (default ``sweeps/<name>``).

    ``device`` ``auto`` is resolved here for the local executor (every worker agrees; with a GPU the workers
    default to one per GPU, each pinned to its own); Ray tasks resolve it on their node. ``gpus_per_task``: GPUs
    each Ray task asks for with a cuda device (default 1; a fraction shares a GPU)."""
    plan = spec if isinstance(spec, Plan) else load_spec(spec, overrides, pack, member_cap)
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r} (choose local or ray)")
    gpus = None
    if executor == "local":
        device = resolve_device(device)
        workers, gpus = gpu_slots(device, workers)
    workers, threads, notes = resolve_workers(executor, workers, threads_per_worker)
    if gpus is not None and workers is not None:
        gpus = gpus[:workers]
    if executor == "ray":
        from .executors import import_ray

        import_ray()  # one clear line before anything is written
    out = Path(out) if out is not None else Path("sweeps") / plan.spec.name
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with SweepLock(out):
        doc = plan.to_json()
        _check_same_sweep(out, doc)
        runs_dir = out / "runs"
        todo = [r for r in plan.runs if not run_complete(runs_dir / r.run_id)]
        skipped = {r.run_id for r in plan.runs} - {r.run_id for r in todo}
        jobs = sorted((Job(r.run_id, r.config.model_dump(mode="json"), r.members, r.config.train.steps, r.cost)
                       for r in todo), key=lambda j: -j.cost)  # largest first: a shorter tail
        ex: Any = (LocalExecutor(workers or 1, threads, device, gpus) if executor == "local"
                   else RayExecutor(address, threads, workers, device, gpus_per_task))
        if jobs:
            ex.start()  # e.g. reach the Ray cluster before anything is written
        try:
            result = _execute(plan, out, doc, ex, jobs, skipped, progress, notes)
        finally:
            ex.stop()
    result.runs_trained, result.runs_skipped = len(jobs), len(skipped)
    result.seconds, result.notes = time.monotonic() - t0, notes
    return result


def _execute(plan: Plan, out: Path, doc: dict[str, Any], ex: Any, jobs: list[Job], skipped: set[str],
             progress: Progress | None, notes: list[str]) -> SweepResult:
    runs_dir = out / "runs"
    write_json(out / "sweep.json", {**doc, "status": "running"})
    runs_dir.mkdir(exist_ok=True)
    for n in notes:
        if progress:
            progress.note(n)
    outcomes: dict[str, Outcome] = {}
    if progress:
        progress.begin(plan, jobs, len(skipped))
    report = progress.event if progress else (lambda *a: None)
    n_cells = {r.run_id: len(r.cells) for r in plan.runs}
    try:
        for o in ex.run(jobs, runs_dir, report):
            if o.detail:  # an unexpected error (a bug, not a user mistake): keep the traceback
                log = out / "errors" / f"{o.run_id}.log"
                log.parent.mkdir(exist_ok=True)
                log.write_text(o.detail)
                o.error = f"{o.error} (traceback: {log})"
            outcomes[o.run_id] = o
            if progress:
                progress.finished(o, n_cells.get(o.run_id, 0))
    finally:
        if progress:
            progress.end()
    result = _collect(plan, out, outcomes, skipped)
    write_json(out / "sweep.json", {**doc, "status": "failed" if result.failed else "complete",
                                    "failed": [{"cell": c.cell, "run_id": c.run_id, "error": c.error}
                                               for c in result.failed]})
    return result


def _check_same_sweep(out: Path, doc: dict[str, Any]) -> None:
    f = out / "sweep.json"
    if not f.is_file():
        if (out / "runs").is_dir() and any((out / "runs").iterdir()):
            raise UserError(f"{out} has runs/ but no sweep.json: not a sweep directory; use another --out")
        return
    try:
        old = json.loads(f.read_text())
    except ValueError as e:
        raise UserError(f"{f} is corrupt: {e}") from None
    if old.get("digest") != doc["digest"]:
        raise UserError(f"{out} holds a different sweep ({old.get('name')!r}: other cells, packing or settings); "
                        "use another --out, or delete the directory to start over")


def _collect(plan: Plan, out: Path, outcomes: dict[str, Outcome], skipped: set[str]) -> SweepResult:
    cells: list[CellResult] = []
    events_cache: dict[str, list[dict[str, Any]]] = {}
    for c in plan.cells:
        run = plan.runs[c.run]
        o = outcomes.get(run.run_id)
        if run.run_id in skipped:
            status, error = "skipped", None
            if run.run_id not in events_cache:
                events_cache[run.run_id] = _read_events(out / "runs" / run.run_id)
            events = events_cache[run.run_id]
        elif o is None:
            status, error, events = "failed", "not run (the sweep was interrupted)", []
        elif not o.ok:
            status, error, events = "failed", o.error, []
        else:
            status, error, events = "done", None, o.events
        ev = next((e for e in events if e.get("member") == c.member), {})
        cells.append(CellResult(c.index, c.values, run.run_id, c.member, status, error, ev.get("t_mem"),
                                ev.get("t_grok"), ev.get("censored"), ev.get("budget")))
    return SweepResult(out, plan, cells)


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((path / "events.json").read_text())
    except (OSError, ValueError):
        try:
            from ..api import Run

            return Run(path).events
        except Exception:  # noqa: BLE001 - a summary never fails the sweep
            return []
