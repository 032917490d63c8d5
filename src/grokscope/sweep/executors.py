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

GPUs (written from the PyTorch and Ray contracts; no GPU was available when this was written, the decision logic is
unit-tested with a mocked ``torch.cuda``): device ``auto`` is resolved once in the sweep process, so every worker
agrees. With ``cuda`` the local pool defaults to one worker per visible GPU (``torch.cuda.device_count()``) and pins
worker *i* to GPU *i* (round robin when more workers are asked for) by setting ``CUDA_VISIBLE_DEVICES`` in the spawn
initializer, before torch initialises CUDA (CUDA reads it once, at initialisation); ``cuda:k`` puts every worker on
GPU *k*. A Ray task asks for ``gpus_per_task`` GPUs (default 1; a fraction lets several small runs share a GPU: Ray
then sets ``CUDA_VISIBLE_DEVICES`` for the task itself).

Imports in workers: spawn workers get the sweep process's ``sys.path`` (multiprocessing's spawn preparation data).
When grokscope starts or joins Ray itself it passes the driver's own path entries (not the interpreter's library
dirs) as ``PYTHONPATH`` in the job's ``runtime_env``, so a user's module (e.g. an ``eval.plugins`` probe) imports
in Ray workers too.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError, first_line

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
        r = api.run(cfg, out=runs_dir, device=device, threads=threads, on_eval=on_eval, quiet=True)  # the sweep shows progress
        return {"run_id": r.path.name, "events": r.events, "seconds": time.monotonic() - t0}
    except UserError as e:
        return {"error": str(e), "seconds": time.monotonic() - t0}
    except Exception as e:  # noqa: BLE001 - one failing run must not stop the sweep
        first = first_line(e)
        return {"error": f"{type(e).__name__}: {first}" if first != type(e).__name__ else first,
                "detail": traceback.format_exc(), "seconds": time.monotonic() - t0}


def _outcome(job: Job, res: dict[str, Any], worker: str) -> Outcome:
    return Outcome(job.run_id, res.get("error"), res.get("events") or [], float(res.get("seconds", 0.0)), worker,
                   res.get("detail", ""))


# -- local process pool -----------------------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def set_worker_threads(threads: int) -> None:
    """Torch (and its BLAS/OpenMP pools) to ``threads`` threads, one inter-op thread: the same in local workers
    and Ray tasks (DESIGN.md: small models lose to thread contention)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process (a reused Ray worker), or inter-op work has started
        pass


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; checked once in the sweep process."""
    from ..api import pick_device

    return pick_device(device)


def gpu_slots(device: str, workers: int | None) -> tuple[int | None, list[str] | None]:
    """(default workers, the ``CUDA_VISIBLE_DEVICES`` value of each worker slot) for a resolved ``device``.

    ``cpu`` and ``cuda:k``: nothing to pin (``workers`` as given). ``cuda``: one worker per visible GPU unless
    ``workers`` says otherwise, worker *i* on GPU *i mod n*, named as the sweep process sees them (the entries of
    its own ``CUDA_VISIBLE_DEVICES`` when it has one)."""
    if device != "cuda":
        return workers, None
    import torch

    n = torch.cuda.device_count()
    if n < 1:
        raise UserError("--device cuda requested but no GPU is visible")
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    ids = visible[:n] if len(visible) >= n else [str(i) for i in range(n)]
    workers = workers or n
    return workers, [ids[i % n] for i in range(workers)]


def _init_worker(threads: int, queue: Any, parent: int, gpus: list[str] | None = None, counter: Any = None) -> None:
    if gpus:  # before anything initialises CUDA in this process: it reads CUDA_VISIBLE_DEVICES once
        with counter.get_lock():
            slot, counter.value = counter.value, counter.value + 1
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    set_worker_threads(threads)
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

    def __init__(self, workers: int, threads: int, device: str = "auto", gpus: list[str] | None = None) -> None:
        """``device``: resolved by the caller (``auto`` is resolved per worker otherwise); ``gpus``: the
        ``CUDA_VISIBLE_DEVICES`` of each worker (``gpu_slots``), None to pin nothing."""
        self.workers, self.threads, self.device, self.gpus = workers, threads, device, gpus
        self.task: Callable[..., dict[str, Any]] = _local_task  # what a worker runs (tests put a crashing one here)

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
                if pool is None:  # a fresh slot counter per pool: a replaced pool pins its workers the same way
                    pool = ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker,
                                               initargs=(self.threads, queue, os.getpid(), self.gpus,
                                                         ctx.Value("i", 0)))
                limit = 1 if suspects else n_workers
                while pending and len(inflight) < limit:
                    job = pending.popleft()
                    inflight[pool.submit(self.task, job.config, str(runs_dir), self.device, job.run_id)] = job
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

    set_worker_threads(threads)
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


def ray_task_options(threads: int, device: str, gpus_per_task: float | None = None) -> dict[str, Any]:
    """The ``.options(...)`` of every training task: ``threads`` CPUs, and with a cuda device ``gpus_per_task``
    GPUs (default 1). Ray's contract: a fraction below 1 shares a GPU between tasks (Ray packs them and sets each
    task's ``CUDA_VISIBLE_DEVICES``), more than 1 must be a whole number. ``auto`` asks for no GPU: Ray then hides
    the GPUs from the task, which trains on CPU; say ``cuda`` to train Ray tasks on GPUs."""
    opts: dict[str, Any] = {"num_cpus": threads}
    if device == "cuda" or device.startswith("cuda:"):
        g = 1.0 if gpus_per_task is None else float(gpus_per_task)
        if not g > 0 or (g > 1 and not g.is_integer()):
            raise UserError(f"gpus per task must be a fraction in (0, 1] or a whole number, got {gpus_per_task}")
        opts["num_gpus"] = int(g) if g.is_integer() else g
    return opts


def driver_pythonpath() -> str:
    """The driver's own import path entries (``PYTHONPATH``, then ``sys.path``; the working directory for ``''``),
    without the interpreter's library dirs, which each Ray node has for itself; ``os.pathsep``-joined."""
    lib_roots = {os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}}
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p] + list(sys.path)
    out: list[str] = []
    for p in entries:
        p = os.path.abspath(p or os.getcwd())
        real = os.path.realpath(p)
        if any(part in ("site-packages", "dist-packages") for part in Path(real).parts):
            continue
        if any(real == r or real.startswith(r + os.sep) for r in lib_roots) or not os.path.isdir(p):
            continue  # the stdlib, the venv, zip files of the interpreter
        if p not in out:
            out.append(p)
    return os.pathsep.join(out)


def ray_init_kwargs(address: str | None) -> dict[str, Any]:
    """What grokscope passes to ``ray.init``: the address (None starts a local Ray) and a job ``runtime_env``
    whose ``PYTHONPATH`` is the driver's (``driver_pythonpath``): entries a node lacks are ignored by Python."""
    kw: dict[str, Any] = {"address": address, "include_dashboard": False, "logging_level": "warning",
                          "log_to_driver": False}
    path = driver_pythonpath()
    if path:
        kw["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
    return kw


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, threads: int, workers: int | None = None, device: str = "auto",
                 gpus_per_task: float | None = None) -> None:
        """``device``: as the tasks get it (resolved on each task's node when ``auto``); ``gpus_per_task``: GPUs
        each task asks Ray for with a cuda device (``ray_task_options``)."""
        self.address, self.threads, self.workers, self.device = address, threads, workers, device
        self.options = ray_task_options(threads, device, gpus_per_task)  # a bad value fails before Ray starts
        self.task: Callable[..., dict[str, Any]] = ray_task  # the remote function (tests put a crashing one here)

    def start(self) -> None:
        """Connect to (or start) Ray before the sweep writes anything; one line if that fails."""
        ray = import_ray()
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(**ray_init_kwargs(self.address))
            except Exception as e:  # noqa: BLE001 - connection problems are the user's setup
                raise UserError(f"cannot start or reach Ray (address={self.address!r}): {first_line(e)}") from None
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
            remote = ray.remote(self.task).options(**self.options)
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
                        yield Outcome(job.run_id, f"Ray task failed: {first_line(e)}", seconds=time.monotonic() - t0)
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
