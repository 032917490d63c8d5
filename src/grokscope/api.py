"""Python API mirroring the CLI: build a config, run it, get the run back with metrics and events.

    import grokscope as gs
    run = gs.run("quick", overrides=["train.steps=2000"], out="runs")
    df = run.metrics(wide=True)          # one row per (step, member), one column per metric
    run.events                           # T_mem / T_grok / delay / censoring per member
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import RunConfig, load_config
from .errors import UserError
from .store.run_dir import RunDir, open_run

DEFAULT_THREADS = 1  # DESIGN.md: small models lose to thread contention; measured in benchmarks/bench_threads.py


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda requested but CUDA is not available on this machine")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"unknown device {device!r} (choose auto, cpu or cuda)")
    return device


def set_threads(threads: int | None) -> int:
    import torch

    n = DEFAULT_THREADS if threads is None else threads
    if n < 1:
        raise UserError(f"--threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n


class Run:
    """A run directory opened for reading."""

    def __init__(self, path: str | Path) -> None:
        self.dir = open_run(path)
        self.path = self.dir.path

    @property
    def config(self) -> RunConfig:
        return RunConfig.model_validate(self.dir.read_json("config.json"))

    @property
    def meta(self) -> dict[str, Any]:
        return self.dir.read_json("meta.json")

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
        """Metrics as a pandas DataFrame: long (step, member, metric, value) or wide (one column per metric)."""
        df = self.dir.read_metrics().to_pandas()
        if wide:
            df = df.pivot_table(index=["step", "member"], columns="metric", values="value").reset_index()
            df.columns.name = None
        return df

    def checkpoint_steps(self) -> list[int]:
        return sorted(int(f.stem.split("_")[1]) for f in self.dir.ckpt_dir.glob("step_*.pt"))

    def load_checkpoint(self, step: int) -> dict[str, Any]:
        """Weights at ``step`` (``{"step", "params": {name: [M, ...]}}``), loaded with ``weights_only=True``."""
        from .store import checkpoint

        return checkpoint.load(checkpoint.ckpt_path(self.dir.ckpt_dir, step))

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def events_from_metrics(run: Run) -> list[dict[str, Any]]:
    import numpy as np

    from .detect.events import member_events

    cfg, df = run.config, run.metrics(wide=True)
    e = cfg.eval
    rule = (e.loss_rule.below, e.loss_rule.k) if e.loss_rule else None
    out = []
    for m, row in enumerate(run.members):
        d = df[df.member == m].sort_values("step")
        train_acc, test_acc, test_loss = (d[c].to_numpy() if c in d else np.full(len(d), np.nan)
                                          for c in ("train/acc", "test/acc", "test/loss"))
        out.append(member_events(m, row["seed"], d.step.to_numpy(), train_acc, test_acc, test_loss,
                                 e.mem_threshold, e.grok_threshold, rule).as_dict())
    return out


def run(config: RunConfig | str | Path | dict, overrides: list[str] | None = None, out: str | Path = "runs",
        device: str = "auto", threads: int | None = None,
        on_eval: Callable[[int, dict[str, list[float]]], None] | None = None) -> Run:
    """Train a config (preset name, file, dict or RunConfig) into ``out/<run-id>`` and return the Run.

    The run id is ``<name>-<hash of the resolved config>``. A complete run with the same id is returned as is;
    an incomplete one is resumed.
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    if isinstance(config, RunConfig) and overrides:
        cfg = load_config(cfg.model_dump(mode="json"), overrides)
    path = Path(out) / f"{cfg.name}-{cfg.run_id()}"
    if RunDir(path).exists():
        existing = Run(path)
        return existing if existing.complete else resume(path, device, threads, on_eval)
    if path.exists():
        raise UserError(f"{path} exists but is not a grokscope run; remove it or choose another --out")
    dev = pick_device(device)
    n_threads = set_threads(threads)
    trainer = _trainer(cfg, dev)  # every config/model error surfaces here, before anything is written
    _create_run_dir(path, cfg, trainer, dev, n_threads)
    return _train(RunDir(path), trainer, on_eval, start=0, n_parts=0)


def resume(path: str | Path, device: str = "auto", threads: int | None = None,
           on_eval: Callable[[int, dict[str, list[float]]], None] | None = None) -> Run:
    """Continue an interrupted run from its last resume state; a complete run is returned unchanged."""
    from .store import checkpoint

    r = Run(path)
    if r.complete:
        return r
    cfg = r.config
    dev = pick_device(device)
    set_threads(threads)
    trainer = _trainer(cfg, dev)
    state_file = r.path / "state.pt"
    start, n_parts = 0, 0
    rd = r.dir
    rd.lock()
    try:
        if state_file.exists():
            state = checkpoint.load(state_file, map_location=dev)
            try:
                start, n_parts = trainer.load_state_dict(state), int(state["n_parts"])
            except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:  # readable, wrong content
                why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise UserError(f"corrupt checkpoint {state_file}: not a resume state of this run ({why})") from None
        rd.drop_parts_from(n_parts)  # chunks past the state are recomputed identically
        rd.remove_stale_temp_files()
        table = rd.read_metrics().to_pandas()
        for step, group in table.groupby("step", sort=True):
            if step > start:
                continue
            values = {name: g.sort_values("member").value.tolist() for name, g in group.groupby("metric")}
            trainer.record(int(step), values)
    finally:
        rd.unlock()
    return _train(rd, trainer, on_eval, start=start, n_parts=n_parts)


def _trainer(cfg: RunConfig, device: str) -> Any:
    import torch

    from .train.loop import Trainer

    try:
        return Trainer(cfg, torch.device(device))
    except ValueError as e:
        raise UserError(f"invalid config: {e}") from None


def _create_run_dir(path: Path, cfg: RunConfig, trainer: Any, device: str, threads: int) -> None:
    """Write config, members and meta into a temp dir and rename it into place: never a half-made run."""
    from . import meta

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        rd = RunDir(tmp)
        rd.write_json("config.json", cfg.model_dump(mode="json"))
        members = [{"member": m, **row, "init_seed": trainer.init_seeds[m], "split_seed": trainer.split_seeds[m]}
                   for m, row in enumerate(trainer.table)]
        rd.write_json("members.json", members)
        rd.write_json("meta.json", {"run_id": path.name, **meta.collect(device, threads)})
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _train(rd: RunDir, trainer: Any, on_eval: Any, start: int, n_parts: int) -> Run:
    rd.lock()
    try:
        t0 = time.monotonic()
        last = trainer.run(rd, on_eval, start_step=start, n_parts=n_parts)
        elapsed = time.monotonic() - t0
        rd.compact()
        last_values = {name: v[-1] for name, v in trainer.history.items()}  # the final evaluation
        rd.write_json("events.json", [{**e.as_dict(), "final": {k: v[e.member] for k, v in last_values.items()}}
                                      for e in trainer.events()])
        meta = rd.read_json("meta.json")
        rd.update_meta(status="complete", steps_done=last, train_seconds=round(meta.get("train_seconds", 0) + elapsed, 3),
                       steps_per_second=round((last - start) / elapsed, 2) if elapsed > 0 else None)
        (rd.path / "state.pt").unlink(missing_ok=True)
    finally:
        rd.unlock()
    r = Run(rd.path)
    try:
        from .report.curves import plot_run

        plot_run(r, rd.path / "curves.png")
    except Exception:  # noqa: BLE001 - a plotting failure must not lose a finished run
        pass
    return r


def load_run(path: str | Path) -> Run:
    return Run(path)
