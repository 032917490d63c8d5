"""``grokscope export RUN|DIR --to csv|tensorboard|mlflow|wandb-offline --out DIR``: a run's metrics in other tools.

Every target gets, per run, every stored metric (training-time and ``offline/``) at every eval step, per member,
plus the run's config (flattened to dotted keys) and its members' seeds and events:

- ``csv``: ``OUT/<run-id>/metrics.csv`` (long format: step, member, metric, value; floats written with the
  shortest text that reads back to the same float64), ``events.csv``, ``config.json``. Rewrites its own files.
- ``tensorboard``: one event-file folder per member, ``OUT/<run-id>/m<k>/`` (scalars tagged by metric name, step
  = training step; TensorBoard stores float32). Needs the ``tensorboard`` extra.
- ``mlflow``: a local file store at OUT (``mlflow ui --backend-store-uri OUT``), experiment ``grokscope``, one MLflow
  run per member named ``<run-id>/m<k>``, config as params, seed and events as tags. Needs ``mlflow-skinny``.
- ``wandb-offline``: W&B offline runs under ``OUT/wandb/`` (mode offline: nothing leaves the machine; upload later
  with ``wandb sync`` if you choose). Needs ``wandb``.

An export into a folder that already holds that run's export (TensorBoard, MLflow, W&B) is refused rather than
appended to, so no curve is ever recorded twice.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import UserError

TARGETS = ("csv", "tensorboard", "mlflow", "wandb-offline")
EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow-skinny"),
          "wandb-offline": ("wandb", "wandb")}
MLFLOW_EXPERIMENT = "grokscope"
MLFLOW_BATCH = 1000  # MLflow's log_batch limit on metrics per call


def require(target: str) -> Any:
    """Import the optional package ``target`` needs, or one clear line naming the extra to install."""
    import importlib

    module, dist = EXTRAS[target]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"--to {target} needs the optional package {dist}: pip install 'grokscope[{module}]' "
                        f"(or pip install {dist})") from None


def find_runs(path: str | Path) -> list[Any]:
    """The run at ``path``, or every run below it (sorted by path)."""
    from .api import Run

    path = Path(path)
    if (path / "config.json").is_file():
        return [Run(path)]
    if not path.is_dir():
        raise UserError(f"not a run or a directory: {path}")
    runs = [Run(p.parent) for p in sorted(path.rglob("config.json"))
            if (p.parent / "meta.json").is_file() and not any(part.startswith(".") for part in p.parent.parts[-1:])]
    if not runs:
        raise UserError(f"no runs under {path}")
    return runs


def flat_config(cfg: Any) -> dict[str, Any]:
    """The resolved config as dotted keys -> JSON-able values (lists and dicts as JSON text)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        else:
            out[prefix] = json.dumps(v) if isinstance(v, (list, dict)) else v

    walk("", cfg.model_dump(mode="json"))
    return out


def _series(run: Any) -> Iterator[tuple[int, Any]]:
    """(member, long DataFrame of its rows sorted by step and metric) for each member of ``run``."""
    df = run.metrics()
    df = df[[isinstance(v, float) and math.isfinite(v) for v in df["value"]]]
    for m, g in df.groupby("member", sort=True):
        yield int(m), g.sort_values(["step", "metric"])


def export(path: str | Path, to: str, out: str | Path) -> list[Path]:
    """Export the run(s) at ``path`` to ``to`` under ``out``; returns what was written (one path per run)."""
    if to not in TARGETS:
        raise UserError(f"unknown export target {to!r} (choose {', '.join(TARGETS)})")
    runs = find_runs(path)
    out = Path(out)
    writer = {"csv": to_csv, "tensorboard": to_tensorboard, "mlflow": to_mlflow, "wandb-offline": to_wandb}[to]
    if to != "csv":
        require(to)
    out.mkdir(parents=True, exist_ok=True)
    return [writer(r, out) for r in runs]


def _fresh(target: Path) -> Path:
    if target.exists():
        raise UserError(f"{target} exists (an earlier export of this run): remove it or choose another --out")
    return target


def to_csv(run: Any, out: Path) -> Path:
    import pandas as pd

    from .store.atomic import write_atomic

    d = out / run.path.name
    d.mkdir(parents=True, exist_ok=True)
    df = run.metrics().sort_values(["step", "member", "metric"])
    write_atomic(d / "metrics.csv", lambda p: df.to_csv(p, index=False), checksum=False)
    ev = pd.DataFrame([{k: v for k, v in e.items() if not isinstance(v, dict)} for e in run.events])
    write_atomic(d / "events.csv", lambda p: ev.to_csv(p, index=False), checksum=False)
    text = json.dumps(run.config.model_dump(mode="json"), indent=2) + "\n"
    write_atomic(d / "config.json", lambda p: p.write_text(text), checksum=False)
    return d


def to_tensorboard(run: Any, out: Path) -> Path:
    require("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    d = _fresh(out / run.path.name)
    flat = flat_config(run.config)
    events = {e["member"]: e for e in run.events}
    for m, g in _series(run):
        w = SummaryWriter(log_dir=str(d / f"m{m}"))
        try:
            for step, metric, value in zip(g["step"], g["metric"], g["value"]):
                w.add_scalar(str(metric), float(value), int(step))
            ev = events.get(m, {})
            w.add_text("grokscope/config", "\n".join(f"    {k} = {v}" for k, v in flat.items()), 0)
            w.add_text("grokscope/events", json.dumps({k: ev.get(k) for k in ("seed", "t_mem", "t_grok", "delay",
                                                                             "censored", "budget")}), 0)
        finally:
            w.close()
    return d


def to_mlflow(run: Any, out: Path) -> Path:
    # a plain folder any MLflow reads (mlflow-skinny has no database backend); MLflow 3 keeps the file store in
    # maintenance mode behind this opt-in
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    require("mlflow")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=out.resolve().as_uri())
    exp = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(MLFLOW_EXPERIMENT)
    found = client.search_runs([exp_id], f"tags.`grokscope.run_id` = '{run.path.name}'", max_results=1)
    if found:
        raise UserError(f"{out} already holds an MLflow export of {run.path.name}: remove it or choose another --out")
    params = [Param(k[:250], str(v)[:6000]) for k, v in flat_config(run.config).items()]
    events = {e["member"]: e for e in run.events}
    for m, g in _series(run):
        ev = events.get(m, {})
        tags = {"grokscope.run_id": run.path.name, "grokscope.member": str(m), "grokscope.path": str(run.path)}
        tags.update({f"grokscope.{k}": str(ev.get(k)) for k in ("seed", "t_mem", "t_grok", "delay", "censored",
                                                                  "budget") if k in ev})
        r = client.create_run(exp_id, run_name=f"{run.path.name}/m{m}", tags=tags)
        rid = r.info.run_id
        for i in range(0, len(params), 100):
            client.log_batch(rid, params=params[i:i + 100])
        metrics = [Metric(str(k), float(v), 0, int(s)) for s, k, v in zip(g["step"], g["metric"], g["value"])]
        for i in range(0, len(metrics), MLFLOW_BATCH):
            client.log_batch(rid, metrics=metrics[i:i + MLFLOW_BATCH], tags=[RunTag("mlflow.source.name",
                                                                                     "grokscope export")])
        client.set_terminated(rid)
    return out


def to_wandb(run: Any, out: Path) -> Path:
    os.environ["WANDB_MODE"] = "offline"  # before the import: nothing leaves the machine
    os.environ.setdefault("WANDB_SILENT", "true")
    wandb = require("wandb-offline")
    events = {e["member"]: e for e in run.events}
    flat = flat_config(run.config)
    for m, g in _series(run):
        w = wandb.init(project="grokscope", name=f"{run.path.name}/m{m}", dir=str(out), mode="offline",
                       config={**flat, "member": m, **{f"event.{k}": v for k, v in events.get(m, {}).items()
                                                      if not isinstance(v, dict)}}, reinit=True)
        try:
            for step, rows in g.groupby("step", sort=True):
                w.log(dict(zip(rows["metric"], rows["value"])), step=int(step))
        finally:
            w.finish()
    return out / "wandb"
