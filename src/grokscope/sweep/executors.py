"""Executors: train a list of runs, report progress, hand back one outcome per run.

- ``local``: a process pool (spawn context). Each worker process sets torch to ``threads`` threads (default 1:
  DESIGN.md, small models lose to thread contention) and trains straight into the sweep's ``runs/`` directory
  through ``grokscope.api.run`` (which skips a complete run and resumes an incomplete one). A worker exits as soon
  as the sweep process is gone, so a killed sweep leaves no orphan training and no held run locks.
- ``ray``: plain Ray tasks. A task trains into a temporary directory on whichever node runs it and returns the run
  directory's files as bytes; the driver writes them into the sweep directory atomically. No shared filesystem
  is needed. An incomplete run directory in the sweep (from an interrupted local sweep) is shipped to the task and
  resumed there. Training progress of a Ray task lives on its node until the task returns.

Both call the same training function with the same configs, so a cell's results do not depend on the executor.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

RAY_MISSING = "the ray executor needs Ray: `pip install grokscope[ray]` (or `pip install ray`)"


@dataclass
class Job:
    run_id: str
    config: dict[str, Any]  # RunConfig as JSON
    members: int
    steps: int
    cost: float = 0.0


@dataclass
class Outcome:
    run_id: str
    error: str | None = None  # one line
    events: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    worker: str = ""
    detail: str = ""  # traceback for unexpected errors

    @property
    def ok(self) -> bool:
        return self.error is None


# progress callback: (kind, worker, run_id, step) with kind in {"start", "step"}
Report = Callable[[str, str, str, int], None]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# -- the training function (runs in a worker) -------------------------------------------------------------------------
def train_one(config: dict[str, Any], runs_dir: str, threads: int, device: str,
              on_eval: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Train (or resume, or return a complete) run into ``runs_dir``; never raises: errors come back as one line."""
    t0 = time.monotonic()
    try:
        from .. import api
        from ..config import RunConfig

        cfg = RunConfig.model_validate(config)
        r = api.run(cfg, out=runs_dir, device=device, threads=threads, on_eval=on_eval)
        return {"run_id": r.path.name, "events": r.events, "seconds": time.monotonic() - t0}
    except UserError as e:
        return {"error": str(e), "seconds": time.monotonic() - t0}
    except Exception as e:  # noqa: BLE001 - one failing run must not stop the sweep
        first = (str(e).strip().splitlines() or [""])[0]
        return {"error": f"{type(e).__name__}: {first}" if first else type(e).__name__,
                "detail": traceback.format_exc(), "seconds": time.monotonic() - t0}


def _outcome(job: Job, res: dict[str, Any], worker: str) -> Outcome:
    return Outcome(job.run_id, res.get("error"), res.get("events") or [], float(res.get("seconds", 0.0)), worker,
                   res.get("detail", ""))


# -- local process pool -----------------------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, queue: Any, parent: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    _WORKER.update(threads=threads, queue=queue)

    def watchdog() -> None:  # the sweep process died (even by SIGKILL): stop now, releasing the run lock
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True, name="grokscope-watchdog").start()


def _local_task(config: dict[str, Any], runs_dir: str, device: str, run_id: str) -> dict[str, Any]:
    queue, threads, pid = _WORKER["queue"], _WORKER["threads"], str(os.getpid())
    queue.put(("start", pid, run_id, 0))
    last = [0.0]

    def on_eval(step: int, values: dict) -> None:
        now = time.monotonic()
        if now - last[0] > 0.5:
            last[0] = now
            queue.put(("step", pid, run_id, step))

    res = train_one(config, runs_dir, threads, device, on_eval)
    res["worker"] = pid
    return res


def _terminate(pool: Any) -> None:
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()  # every file a run writes is atomic: a killed worker leaves a resumable run
    for p in procs:
        p.join(timeout=5)


class LocalExecutor:
    name = "local"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __init__(self, workers: int, threads: int, device: str = "auto") -> None:
        self.workers, self.threads, self.device = workers, threads, device

    def run(self, jobs: list[Job], runs_dir: Path, report: Report) -> Iterator[Outcome]:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        if not jobs:
            return
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        stop = threading.Event()

        def pump() -> None:
            import queue as q

            while not stop.is_set():
                try:
                    kind, worker, run_id, step = queue.get(timeout=0.2)
                except q.Empty:
                    continue
                except (EOFError, OSError):
                    return
                report(kind, worker, run_id, step)

        reader = threading.Thread(target=pump, daemon=True, name="grokscope-progress")
        reader.start()
        n_workers = max(1, min(self.workers, len(jobs)))
        pending: deque[Job] = deque(jobs)
        suspects: set[str] = set()  # in flight when a worker process died: rerun each alone
        pool: Any = None
        inflight: dict[Any, Job] = {}
        try:
            while pending or inflight:
                if pool is None:
                    pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker,
                                               initargs=(self.threads, queue, os.getpid()))
                limit = 1 if suspects else n_workers
                while pending and len(inflight) < limit:
                    job = pending.popleft()
                    inflight[pool.submit(_local_task, job.config, str(runs_dir), self.device, job.run_id)] = job
                done, _ = wait(list(inflight), timeout=0.5, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    job = inflight.pop(fut)
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if job.run_id in suspects:  # it broke the pool again, alone
                            suspects.discard(job.run_id)
                            yield Outcome(job.run_id, "the worker process training this run died "
                                                      "(killed, out of memory or crashed)")
                        else:
                            suspects.add(job.run_id)
                            pending.appendleft(job)
                        continue
                    except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be pickled
                        yield Outcome(job.run_id, f"{type(e).__name__}: {e}")
                        continue
                    suspects.discard(job.run_id)
                    yield _outcome(job, res, res.get("worker", ""))
                if broken:
                    for fut, job in list(inflight.items()):  # the rest of the broken pool: requeue as suspects
                        inflight.pop(fut)
                        suspects.add(job.run_id)
                        pending.appendleft(job)
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
        except BaseException:  # interrupted (Ctrl-C, generator closed): stop the workers now; runs resume later
            if pool is not None:
                _terminate(pool)
                pool = None
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            stop.set()
            reader.join(timeout=2)
            queue.close()


# -- Ray -------------------------------------------------------------------------------------------------------------
def read_run_files(path: Path) -> dict[str, bytes]:
    """Every file of a run directory (relative path -> bytes), without the lock file."""
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*"))
            if f.is_file() and f.name != ".lock"}


def write_run_files(runs_dir: Path, run_id: str, files: dict[str, bytes]) -> Path:
    """Put a run directory into place atomically: write a hidden sibling, then rename it over the target."""
    target = runs_dir / run_id
    runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.incoming.", dir=runs_dir))
    try:
        for rel, data in files.items():
            p = Path(rel)
            if p.is_absolute() or ".." in p.parts:
                raise ValueError(f"refusing path {rel!r} from a Ray task")
            (tmp / p).parent.mkdir(parents=True, exist_ok=True)
            (tmp / p).write_bytes(data)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{run_id}.old.", dir=runs_dir))
            os.rename(target, old / "run")
        os.rename(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def ray_task(config: dict[str, Any], run_id: str, existing: dict[str, bytes] | None, threads: int,
             device: str) -> dict[str, Any]:
    """A Ray task: train in a temp dir on the node, return the run directory's files."""
    import socket

    import torch

    torch.set_num_threads(threads)
    tmp = Path(tempfile.mkdtemp(prefix="grokscope-ray-"))
    try:
        runs = tmp / "runs"
        if existing:
            write_run_files(runs, run_id, existing)
        res = train_one(config, str(runs), threads, device)
        res["worker"] = f"{socket.gethostname()}:{os.getpid()}"
        if res.get("error") is None:
            res["files"] = read_run_files(runs / res["run_id"])
        return res
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, threads: int, workers: int | None = None, device: str = "auto") -> None:
        self.address, self.threads, self.workers, self.device = address, threads, workers, device

    def start(self) -> None:
        """Connect to (or start) Ray before the sweep writes anything; one line if that fails."""
        ray = import_ray()
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level="warning",
                         log_to_driver=False)
            except Exception as e:  # noqa: BLE001 - connection problems are the user's setup
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise UserError(f"cannot start or reach Ray (address={self.address!r}): {first}") from None
            self._started = True

    def stop(self) -> None:
        if getattr(self, "_started", False):
            import_ray().shutdown()
            self._started = False

    def run(self, jobs: list[Job], runs_dir: Path, report: Report) -> Iterator[Outcome]:
        if not jobs:
            return
        ray = import_ray()
        if not ray.is_initialized():
            self.start()
        try:
            remote = ray.remote(num_cpus=self.threads)(ray_task)
            limit = self.workers or len(jobs)
            pending: deque[Job] = deque(jobs)
            inflight: dict[Any, tuple[Job, float, int]] = {}
            while pending or inflight:
                while pending and len(inflight) < limit:
                    job = pending.popleft()
                    target = runs_dir / job.run_id
                    existing = read_run_files(target) if (target / "config.json").is_file() else None
                    ref = remote.remote(job.config, job.run_id, existing, self.threads, self.device)
                    slot = min(set(range(len(inflight) + 1)) - {s for _, _, s in inflight.values()})
                    inflight[ref] = (job, time.monotonic(), slot)
                    report("start", f"ray task slot {slot + 1}", job.run_id, 0)
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
                for ref in ready:
                    job, t0, _slot = inflight.pop(ref)
                    try:
                        res = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - a task that died (node lost, worker crashed)
                        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                        yield Outcome(job.run_id, f"Ray task failed: {first}", seconds=time.monotonic() - t0)
                        continue
                    files = res.pop("files", None)
                    if files is not None:
                        try:
                            write_run_files(runs_dir, res["run_id"], files)
                        except (OSError, ValueError) as e:
                            res = {"error": f"cannot write the run directory: {e}", "seconds": res.get("seconds", 0)}
                    yield _outcome(job, res, res.get("worker", "ray"))
        finally:
            self.stop()
