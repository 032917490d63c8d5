"""Synthetic run and sweep directories for the catalog and report tests (no torch, no training)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from grokscope.store.run_dir import METRICS_SCHEMA

BASE = {"name": "syn", "task": {"name": "modular", "op": "add", "p": 31, "frac": 0.4, "layout": "ab=",
                                "exclude_zero": False, "split_seed": None},
        "model": {"name": "mlp", "d_embed": 32, "d_hidden": 128, "act": "gelu", "bias": True},
        "optim": {"name": "adamw", "lr": 0.01, "wd": 1.0, "beta1": 0.9, "beta2": 0.98, "eps": 1e-08,
                  "momentum": 0.0, "warmup_steps": 0, "decay": "weights", "orthograd": False,
                  "orthograd_renorm": True, "grokfast": {"kind": "none", "alpha": 0.98, "lamb": 2.0, "window": 100}},
        "loss": {"name": "ce", "tau": 1.0},
        "train": {"steps": 1000, "batch_size": None, "dtype": "float32", "stop_on_grok": None},
        "eval": {"grid": "geometric", "points": 20, "every": 100, "grok_threshold": 0.9, "mem_threshold": 0.99,
                 "loss_rule": None, "probes": ["accuracy", "norms", "logits"]},
        "intervene": {"init_scale": 1.0, "clamp": None, "rescale": None, "wd_off_step": None,
                      "wd_off_at_t_mem": False, "freeze_norm_at_t_mem": False, "label_noise": 0.0,
                      "langevin_T": 0.0},
        "members": {"seeds": 2, "vary": {}}, "checkpoint": {"count": 0, "flush_seconds": 5.0}}
STEPS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def set_dotted(d: dict, key: str, value: Any) -> None:
    node = d
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def write_run(parent: Path, name: str, values: dict[str, Any] | None = None, t_grok: list[int | None] | None = None,
              vary: dict[str, list] | None = None, seeds: int = 2, complete: bool = True) -> Path:
    """A synthetic run dir: config with ``values`` (dotted keys) set, members (vary rows outer, seeds inner),
    events with the given T_grok per member (None = censored at 1000), metrics consistent with them."""
    cfg = copy.deepcopy(BASE)
    for k, v in (values or {}).items():
        set_dotted(cfg, k, v)
    cfg["members"] = {"seeds": seeds, "vary": vary or {}}
    n_rows = len(next(iter(vary.values()))) if vary else 1
    members = []
    for r in range(n_rows):
        for s in range(seeds):
            members.append({"member": len(members), "seed": s, **{k: v[r] for k, v in (vary or {}).items()},
                            "init_seed": 1000 + s, "split_seed": 2000 + s})
    t_grok = t_grok if t_grok is not None else [200 + 100 * m for m in range(len(members))]
    run = parent / name
    (run / "metrics").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(cfg, indent=2))
    (run / "members.json").write_text(json.dumps(members, indent=2))
    cols: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
    events = []
    for m, tg in enumerate(t_grok):
        events.append({"member": m, "seed": members[m]["seed"], "t_mem": 20, "t_grok": tg,
                       "delay": None if tg is None else tg - 20, "censored": tg is None, "budget": STEPS[-1]})
        for s in STEPS:
            for metric, v in (("train/acc", 1.0 if s >= 20 else 0.1), ("test/acc", 0.95 if tg and s >= tg else 0.05),
                              ("train/loss", 1.0 / (s + 1)), ("test/loss", 2.0), ("norm/total", 40.0 + m)):
                cols["step"].append(s)
                cols["member"].append(m)
                cols["metric"].append(metric)
                cols["value"].append(v)
    table = pa.table(cols, schema=METRICS_SCHEMA)
    if complete:
        pq.write_table(table, run / "metrics.parquet")
        (run / "events.json").write_text(json.dumps(events, indent=2))
    else:  # still running: two chunks, no events.json
        half = table.num_rows // 2
        pq.write_table(table.slice(0, half), run / "metrics" / "part-00000.parquet")
        pq.write_table(table.slice(half), run / "metrics" / "part-00001.parquet")
    (run / "meta.json").write_text(json.dumps({"run_id": name, "created": "2026-01-01T00:00:00+0000",
                                               "status": "complete" if complete else "running",
                                               "steps_done": STEPS[-1] if complete else 500, "threads": 1,
                                               "train_seconds": 1.5}))
    return run


def bump(path: Path) -> None:
    """Make a file look changed (mtime forward by a second) even on coarse-mtime filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def write_sweep(root: Path) -> Path:
    """A synthetic 2-axis sweep (wd x p, 2 seeds packed per run), written as the sweep engine would."""
    axes = {"optim.wd": [0.3, 1.0, 3.0], "task.p": [31, 43], "seed": [0, 1]}
    cells = []
    i = 0
    for wd in axes["optim.wd"]:
        for p in axes["task.p"]:
            name = f"syn-wd{wd}-p{p}"
            tg = [None, None] if wd == 0.3 else ([int(3000 / wd / 2), int(3000 / wd)] if p == 31 else [None, 500])
            tg = [t if t is None or t <= 1000 else None for t in tg]
            write_run(root / "runs", name, {"optim.wd": wd, "task.p": p}, t_grok=tg)
            for seed in axes["seed"]:
                cells.append({"cell": i, "values": {"optim.wd": wd, "task.p": p, "seed": seed}, "run_id": name,
                              "member": seed})
                i += 1
    (root / "sweep.json").write_text(json.dumps({"spec": {"name": "syn"}, "axes": axes, "cells": cells}, indent=2))
    return root
