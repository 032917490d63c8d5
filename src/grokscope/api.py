"""Python API mirroring the CLI: build a config, run it, get the run back with metrics and events.

    import grokscope as gs
    run = gs.run("quick", overrides=["train.steps=2000"], out="runs")
    df = run.metrics(wide=True)          # one row per (step, member), one column per metric
    run.events                           # T_mem / T_grok / delay / censoring per member
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import RunConfig, load_config
from .errors import UserError, first_line
from .store.integrity import DamagedFile
from .store.run_dir import RunDir, inside, open_run
from .train.status import NonFiniteLoss, RunInterrupted, check_out_dir, finite_guard, sigterm_as_interrupt

DEFAULT_THREADS = 1  # DESIGN.md: small models lose to thread contention; measured in benchmarks/bench_threads.py


def pick_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when CUDA is available, else "cpu" (a sweep's workers each see their own pinned GPU as
    "cuda"; meta.json records the device index actually used)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device} requested but CUDA is not available on this machine")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"unknown device {device!r} (choose auto, cpu or cuda)")
    return device


def check_threads(threads: int | None) -> int:
    n = DEFAULT_THREADS if threads is None else threads
    if n < 1:
        raise UserError(f"--threads must be >= 1, got {n}")
    return n


def _threads(threads: int | str | None, cfg: RunConfig, device: str) -> int:
    """``threads`` as a count: None = ``DEFAULT_THREADS``, "auto" = the rule of ``train.threads`` (warns above the
    core count)."""
    from .train.threads import resolve

    return resolve(threads, cfg, device, DEFAULT_THREADS)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` while training, then restored: a library call has no global side effect."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class Run:
    """A run directory opened for reading."""

    def __init__(self, path: str | Path) -> None:
        self.dir = open_run(path)
        self.path = self.dir.path

    @property
    def config(self) -> RunConfig:
        from pydantic import ValidationError

        from .config import format_validation_error
        from .store.integrity import DamagedFile

        raw = self.dir.read_json("config.json")
        if isinstance(raw, dict) and "imported" in raw:  # grokscope.laws.importer: the source's parameters, no model
            raise UserError(f"{self.path} was imported from {raw['imported'].get('source', 'published results')}: it "
                            "has per-seed events and curves (catalog, fit, report) but no grokscope config to plot, "
                            "resume or rebuild a model from")
        try:
            return RunConfig.model_validate(raw)
        except ValidationError as e:
            raise DamagedFile(self.path / "config.json", f"not a valid config: {format_validation_error(e)}") from None

    @property
    def meta(self) -> dict[str, Any]:
        """meta.json; a run that says "running" while no process holds its lock lost its writer (kill -9, power
        loss): it reads as "interrupted" (issue 11), never as running."""
        meta = self.dir.read_json("meta.json")
        if meta.get("status") == "running" and not self.dir.writer_alive():
            meta["status"] = "interrupted"
        return meta

    @property
    def status(self) -> str | None:
        return self.meta.get("status")

    @property
    def members(self) -> list[dict[str, Any]]:
        return self.dir.read_json("members.json")

    @property
    def complete(self) -> bool:
        return self.meta.get("status") == "complete"

    @property
    def events(self) -> list[dict[str, Any]]:
        """Per member: member, seed, t_mem, t_grok, delay, censored, budget (from events.json, else recomputed)."""
        if (self.path / "events.json").is_file():
            return self.dir.read_json("events.json")
        return events_from_metrics(self)

    def metrics(self, wide: bool = False) -> Any:
        """Metrics as a pandas DataFrame: long (step, member, metric, value) or wide (one column per metric).

        Includes offline results (``offline/*.parquet``, written later by analyses of stored checkpoints)."""
        import pyarrow as pa

        tables = [self.dir.read_metrics(), *self.dir.read_offline()]
        df = pa.concat_tables(tables).to_pandas() if len(tables) > 1 else tables[0].to_pandas()
        if wide:
            df = df.pivot_table(index=["step", "member"], columns="metric", values="value").reset_index()
            df.columns.name = None
        return df

    def write_offline(self, name: str, rows: Any) -> Path:
        """Store analysis results computed after training (a DataFrame or dict of columns step, member, metric,
        value) as ``offline/<name>.parquet``; nothing already written is rewritten (an existing name is an error)."""
        return self.dir.write_offline(name, rows)

    def checkpoint_steps(self) -> list[int]:
        return sorted(int(f.stem.split("_")[1]) for f in self.dir.ckpt_dir.glob("step_*.pt"))

    def load_checkpoint(self, step: int) -> dict[str, Any]:
        """Weights at ``step`` (``{"step", "params": {name: [M, ...]}}``), loaded with ``weights_only=True``."""
        from .store import checkpoint

        return checkpoint.load(checkpoint.ckpt_path(self.dir.ckpt_dir, step))

    def setup(self, device: str = "cpu") -> Any:
        """The run's pieces rebuilt from its config (task tensors, model at init, seeds): ``train.setup.Setup``."""
        import torch

        from .train.setup import build

        return build(self.config, torch.device(device))

    def model(self, step: int | None = None, device: str = "cpu") -> Any:
        """The run's model with the weights of checkpoint ``step`` (default: the last), for analyses."""
        steps = self.checkpoint_steps()
        if not steps:
            raise UserError(f"run {self.path} has no checkpoints (checkpoint.count = 0?)")
        step = steps[-1] if step is None else step
        if step not in steps:
            raise UserError(f"run {self.path} has no checkpoint at step {step} (it has {steps[0]}..{steps[-1]})")
        model = self.setup(device).model
        model.load_state_dict(self.load_checkpoint(step)["params"])
        return model.eval()

    def data(self) -> Any:
        """The run's task data (inputs, labels, every member's split): ``tasks.base.TaskData``."""
        return self.setup().data

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def events_from_metrics(run: Run) -> list[dict[str, Any]]:
    from .detect.events import events_from_curves

    cfg, df = run.config, run.metrics(wide=True)
    out = []
    for m, row in enumerate(run.members):
        d = df[df.member == m].sort_values("step")
        curves = {c: d[c].to_numpy() for c in d.columns if c not in ("step", "member")}
        out.append(events_from_curves(m, row["seed"], d.step.to_numpy(), curves, cfg.eval).as_dict())
    return out


def run(config: RunConfig | str | Path | dict, overrides: list[str] | None = None, out: str | Path = "runs",
        device: str = "auto", threads: int | str | None = None,
        on_eval: Callable[[int, dict[str, list[float]]], None] | None = None, quiet: bool | None = None) -> Run:
    """Train a config (preset name, file, dict or RunConfig) into ``out/<run-id>`` and return the Run.

    The run id is ``<name>-<hash of the resolved config>``. A complete run with the same id is returned as is;
    an incomplete one is resumed. torch's thread count is set for the training and restored after (``threads``:
    a count, "auto", or None for one thread).

    ``on_eval(step, values)`` is called after every evaluation with the step and ``{metric: [one value per
    member]}`` (e.g. ``values["test/acc"][m]``); an exception raised in it stops the run (resumable).
    ``quiet``: False shows a progress bar (tqdm.auto in Jupyter when installed, else rich), True none; None (the
    default) shows one in a notebook or on a terminal.
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    if isinstance(config, RunConfig) and overrides:
        cfg = load_config(cfg.model_dump(mode="json"), overrides)
    path = inside(Path(out), Path(out) / f"{cfg.name}-{cfg.run_id()}")  # the name is one path component (config)
    check_out_dir(Path(out))
    _remove_stale_temp_dirs(path)
    if RunDir(path).exists():
        existing = Run(path)
        return existing if existing.complete else resume(path, device, threads, on_eval, quiet)
    if path.exists():
        raise UserError(f"{path} exists but is not a grokscope run; remove it or choose another --out")
    dev = pick_device(device)
    n_threads = _threads(threads, cfg, dev)
    with torch_threads(n_threads):
        setup = _setup(cfg, dev)  # every config/model error surfaces here, before anything is written
        start, rows = _fork(setup) if cfg.train.fork else (0, None)
        _create_run_dir(path, cfg, setup, dev, n_threads)
        rd = RunDir(path)
        with _progress(cfg, quiet, on_eval, start) as cb:
            return _train(rd, setup, cb, start, _forked_recorder(rd, setup, start, rows))


def resume(path: str | Path, device: str = "auto", threads: int | str | None = None,
           on_eval: Callable[[int, dict[str, list[float]]], None] | None = None, quiet: bool | None = None) -> Run:
    """Continue an interrupted run from its last resume state; a complete run is returned unchanged.
    ``on_eval`` and ``quiet`` as in ``run``.

    ``threads`` defaults to the threads the run was started with (meta.json); the resume state is loaded on the
    CPU (RNG states must stay CPU byte tensors) and copied into the device's tensors."""
    from .train.loop import load_state_dict
    from .train.recorder import Recorder

    r = Run(path)
    if r.complete:
        _tidy_complete(r)
        return r
    cfg = r.config
    dev = pick_device(device)
    n_threads = _threads(threads if threads is not None else r.meta.get("threads"), cfg, dev)
    with torch_threads(n_threads):
        setup = _setup(cfg, dev)
        start, n_parts = 0, 0
        rd = r.dir
        rd.lock()
        try:
            state = _resume_state(rd)
            if state is not None:
                try:
                    start, n_parts = load_state_dict(setup, state), int(state["n_parts"])
                except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:  # readable, wrong content
                    why = first_line(e, 200)
                    raise UserError(f"corrupt checkpoint {rd.state_files[0]}: not a resume state of this run "
                                    f"({why})") from None
            rd.drop_parts_from(n_parts)  # chunks past the state are recomputed identically
            rd.remove_stale_temp_files()
            if n_parts == 0 and cfg.train.fork:  # killed before its first state: branch again from the parent
                start, rows = _fork(setup)
                rec = _forked_recorder(rd, setup, start, rows)
            else:
                rec = Recorder(setup.M, rd, cfg.checkpoint.flush_seconds, n_parts)
                rec.replay(rd.read_metrics().to_pandas(), upto=start)
        finally:
            rd.unlock()
        with _progress(cfg, quiet, on_eval, start) as cb:
            return _train(rd, setup, cb, start, rec)


def _progress(cfg: RunConfig, quiet: bool | None, on_eval: Any, start: int) -> Any:
    """``on_eval`` wrapped with a notebook/terminal progress bar unless quiet (``progress_bar``)."""
    from .progress_bar import notebook_progress

    return notebook_progress(cfg, quiet, on_eval, start)


def _resume_state(rd: RunDir) -> dict[str, Any] | None:
    """The resume state to continue from: state.pt, or state.prev.pt (the one before it) when state.pt is missing
    or damaged; None when the run has neither (killed before its first state: it restarts from step 0).

    Falling back costs only recomputation: metrics chunks past the older state are dropped and recomputed
    identically. With both damaged the run is reported, never resumed from a wrong state."""
    from .store import checkpoint

    cur, prev = rd.state_files
    damage: DamagedFile | None = None
    for f in (cur, prev):
        if not f.exists():
            continue
        try:
            state = checkpoint.load(f, map_location="cpu")
        except DamagedFile as e:
            damage = damage or e
            continue
        if damage is not None:
            sys.stderr.write(f"warning: {cur} is damaged ({damage.what}); resuming from the previous resume state "
                             f"{f.name} (step {state.get('step', '?')}): the steps after it are recomputed\n")
        return state
    if damage is not None:
        raise UserError(f"corrupt checkpoint {damage.path}: {damage.what}; no good resume state is left "
                        f"(state.pt, state.prev.pt); its metrics up to the last flush and ckpt/ are intact: delete "
                        "them to retrain from step 0, or keep the run as it is") from None
    return None


def _setup(cfg: RunConfig, device: str) -> Any:
    import torch

    from .train import budget
    from .train.setup import build

    budget.check(cfg, device)  # before anything is allocated

    try:
        return build(cfg, torch.device(device))
    except ValueError as e:
        raise UserError(f"invalid config: {e}") from None


def _fork(setup: Any) -> tuple[int, dict[str, list]]:
    from .train.fork import load_fork

    return load_fork(setup)


def _forked_recorder(rd: RunDir, setup: Any, start: int, rows: dict[str, list] | None) -> Any:
    """A recorder for a new run; for a branch (train.fork), the parent's rows up to the fork are its chunk 0."""
    import pandas as pd

    from .train.recorder import Recorder

    rec = Recorder(setup.M, rd, setup.cfg.checkpoint.flush_seconds, 0)
    if rows is not None:
        rd.write_part(0, rows)
        rec.n_parts = 1
        rec.replay(pd.DataFrame(rows), upto=start)
    return rec


def members_json(setup: Any) -> list[dict[str, Any]]:
    """members.json rows: member index, seed, its members.vary values, and its init and split seeds."""
    return [{"member": m, **row, "init_seed": setup.init_seeds[m], "split_seed": setup.split_seeds[m]}
            for m, row in enumerate(setup.table)]


STALE_SECONDS = 300  # a run directory is made in well under a second; an older temp dir was left by a kill


def _remove_stale_temp_dirs(path: Path) -> None:
    """Temp dirs ``.<run>.XXXX`` of this run's creation cut short by a kill (issue 11: left in --out forever)."""
    if not path.parent.is_dir():
        return
    now = time.time()
    for d in path.parent.glob(f".{path.name}.*"):
        try:
            if d.is_dir() and now - d.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


def _tidy_complete(r: Run) -> None:
    """A complete run missing curves.png (a kill or a full disk while plotting) gets it redrawn; temp files of
    plots cut short are removed once stale."""
    now = time.time()
    for f in r.path.glob(".*.tmp"):
        try:
            if now - f.stat().st_mtime > STALE_SECONDS:
                f.unlink(missing_ok=True)
        except OSError:
            continue
    if not (r.path / "curves.png").is_file():
        _plot(r)


def _plot(r: Run) -> None:
    try:
        from .report.curves import plot_run

        plot_run(r, r.path / "curves.png")
    except Exception:  # noqa: BLE001 - a plotting failure must not lose a finished run (resume redraws it)
        pass


def _create_run_dir(path: Path, cfg: RunConfig, setup: Any, device: str, threads: int) -> None:
    """Write config, members and meta into a temp dir and rename it into place: never a half-made run."""
    from . import meta

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        rd = RunDir(tmp)
        rd.write_json("config.json", cfg.model_dump(mode="json"))
        rd.write_json("members.json", members_json(setup))
        rd.write_json("meta.json", {"run_id": path.name, **meta.collect(str(setup.device), threads)})
        try:
            os.rename(tmp, path)
        except OSError:
            if RunDir(path).exists():  # an identical run started at the same moment made it first
                raise UserError(f"run {path} is being written by another process") from None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _train(rd: RunDir, setup: Any, on_eval: Any, start: int, rec: Any) -> Run:
    """Train from ``start`` with ``rec`` (holding the history up to it), then compact, write events, finish meta."""
    from .train.loop import train

    rd.lock()
    try:
        rd.update_meta(status="running")
        t0 = time.monotonic()
        try:
            with sigterm_as_interrupt():
                last = train(setup, rec, start=start, on_eval=finite_guard(on_eval))
        except KeyboardInterrupt:
            rd.update_meta(status="interrupted")
            raise RunInterrupted(rd.path, rec.steps[-1] if rec.steps else start) from None
        except NonFiniteLoss as e:
            rd.update_meta(status="failed", reason=str(e))
            raise UserError(f"run {rd.path} failed: {e}") from None
        elapsed = time.monotonic() - t0
        _keep_final_state(rd, setup, last)
        rd.compact()
        rd.write_json("events.json", rec.events_json(setup.table, setup.cfg.eval, {
            **setup.probes.events(), **(setup.rules.events() if setup.rules is not None else {})}))
        if setup.rules is not None:  # every firing of a closed-loop rule: step, member, reason, actions
            rd.write_json("firings.json", setup.rules.all_firings())
        meta = rd.read_json("meta.json")
        label_free = {**meta.get("label_free", {}), **setup.probes.label_free}
        rd.update_meta(status="complete", steps_done=last, train_seconds=round(meta.get("train_seconds", 0) + elapsed, 3),
                       steps_per_second=round((last - start) / elapsed, 2) if elapsed > 0 else None,
                       last_part={"from": start, "to": last, "seconds": round(elapsed, 3)},
                       label_free=dict(sorted(label_free.items())),
                       probes={p.name: p.describe() for p in setup.probes.probes})
        rd.forget_states()
    finally:
        rd.unlock()
    r = Run(rd.path)
    _plot(r)
    return r


def _keep_final_state(rd: RunDir, setup: Any, last: int) -> None:
    """The full training state at the last step (``ckpt/state_<last>.pt``, the format ``train.fork`` reads): what
    ``extend`` continues a complete run from (``grokscope resume RUN --steps N``)."""
    from .store import checkpoint
    from .train.loop import state_dict

    path = checkpoint.state_path(rd.ckpt_dir, last)
    if not path.is_file():  # checkpoint.states = true already wrote it
        checkpoint.save(path, state_dict(setup, last))


def extend(path: str | Path, steps: int, device: str = "auto", threads: int | str | None = None,
           on_eval: Callable[[int, dict[str, list[float]]], None] | None = None, quiet: bool | None = None) -> Run:
    """Continue a complete run to a longer budget ``steps``, recorded in the same run (``grokscope.extend``);
    ``threads``, ``on_eval`` and ``quiet`` as in ``resume``."""
    from .extend import extend as _extend

    return _extend(path, steps, device, threads, on_eval, quiet)


def load_run(path: str | Path) -> Run:
    return Run(path)
