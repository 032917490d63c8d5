"""Catalog speed: a query over 1,000 run directories, scan included (goal: < 1 s).

Generates N synthetic run dirs (realistic config.json / meta.json / members.json / events.json and a small
metrics.parquet each: 4 members x 12 metrics x 60 eval steps) in a temp dir, then times

* cold   Catalog(root) with no index cache + one query (every run's JSON and Parquet read),
* warm   the same with the catalog.parquet index written by the cold pass (nothing re-read),
* touched  warm, after 10 runs changed (their meta.json rewritten): only those are re-read,
* cli    ``grokscope query`` in a fresh process over the warm index (imports included),
* metrics  one aggregate over the ``metrics`` view (every Parquet file scanned).

    python benchmarks/bench_catalog.py [--runs 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

QUERY = "select p, wd, count(*) as n, median(t_grok) as med_t_grok, sum(censored::int) as n_censored " \
        "from members group by p, wd order by p, wd"
METRICS = ["train/acc", "test/acc", "train/loss", "test/loss", "norm/total", "norm/embed", "norm/hidden",
           "norm/unembed", "norm/sq", "logit/scale", "logit/sat_frac", "logit/sc_frac"]


def config(p: int, wd: float, lr: float, frac: float, seeds: int) -> dict:
    return {"name": "bench", "task": {"name": "modular", "op": "add", "p": p, "frac": frac, "layout": "ab=",
                                      "exclude_zero": False, "split_seed": None},
            "model": {"name": "mlp", "d_embed": 32, "d_hidden": 128, "act": "gelu", "bias": True},
            "optim": {"name": "adamw", "lr": lr, "wd": wd, "beta1": 0.9, "beta2": 0.98, "eps": 1e-08, "momentum": 0.0,
                      "warmup_steps": 0, "decay": "weights", "orthograd": False, "orthograd_renorm": True,
                      "grokfast": {"kind": "none", "alpha": 0.98, "lamb": 2.0, "window": 100}},
            "loss": {"name": "ce", "tau": 1.0},
            "train": {"steps": 5000, "batch_size": None, "dtype": "float32", "stop_on_grok": None},
            "eval": {"grid": "geometric", "points": 60, "every": 100, "grok_threshold": 0.9, "mem_threshold": 0.99,
                     "loss_rule": None, "probes": ["accuracy", "norms", "logits"]},
            "intervene": {"init_scale": 1.0, "clamp": None, "rescale": None, "wd_off_step": None,
                          "wd_off_at_t_mem": False, "freeze_norm_at_t_mem": False, "label_noise": 0.0,
                          "langevin_T": 0.0},
            "members": {"seeds": seeds, "vary": {}}, "checkpoint": {"count": 16, "flush_seconds": 5.0}}


def make_run(root: Path, i: int, rng: random.Random, members: int = 4) -> Path:
    p, wd, lr, frac = rng.choice([31, 43, 59, 97]), rng.choice([0.1, 0.3, 1.0, 3.0]), 1e-2, rng.choice([0.3, 0.4])
    run = root / f"bench-{i:06d}"
    (run / "metrics").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config(p, wd, lr, frac, members), indent=2))
    (run / "members.json").write_text(json.dumps([{"member": m, "seed": m, "init_seed": rng.randrange(2**31),
                                                   "split_seed": rng.randrange(2**31)} for m in range(members)]))
    steps = np.unique(np.round(np.geomspace(1, 5000, 60)).astype(np.int64))
    events, cols = [], {"step": [], "member": [], "metric": [], "value": []}
    for m in range(members):
        t_mem = int(steps[rng.randrange(5, 15)])
        k = rng.randrange(20, len(steps) + 8)  # ~15% never cross within the budget: censored
        t_grok = int(steps[k]) if k < len(steps) else None
        events.append({"member": m, "seed": m, "t_mem": t_mem, "t_grok": t_grok,
                       "delay": None if t_grok is None else t_grok - t_mem, "censored": t_grok is None,
                       "budget": int(steps[-1])})
        final = events[-1]["final"] = {}  # real runs write the last evaluation into events.json
        for name in METRICS:
            if name == "train/acc":
                v = (steps >= t_mem).astype(float)
            elif name == "test/acc":
                v = (steps >= (t_grok or 10**9)).astype(float) * 0.99 + 0.01
            else:
                v = np.abs(np.sin(steps * (m + 1) / 97.0)) + 0.1
            final[name] = float(v[-1])
            cols["step"].extend(steps.tolist())
            cols["member"].extend([m] * len(steps))
            cols["metric"].extend([name] * len(steps))
            cols["value"].extend(v.tolist())
    (run / "events.json").write_text(json.dumps(events, indent=2))
    schema = pa.schema([("step", pa.int64()), ("member", pa.int32()), ("metric", pa.string()), ("value", pa.float64())])
    pq.write_table(pa.table(cols, schema=schema), run / "metrics.parquet")
    (run / "meta.json").write_text(json.dumps({"run_id": run.name, "created": "2026-01-01T00:00:00+0000",
                                               "status": "complete", "steps_done": 5000, "device": "cpu",
                                               "threads": 1, "train_seconds": round(rng.uniform(5, 50), 3)}))
    return run


def make_runs(root: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(n):
        make_run(root, i, rng)


def timed_query(root: Path, cache: bool = True) -> tuple[float, float, int]:
    from grokscope.store.catalog import Catalog

    t0 = time.perf_counter()
    cat = Catalog(root, cache=cache)
    t1 = time.perf_counter()
    rows = cat.query(QUERY).rows
    t2 = time.perf_counter()
    cat.close()
    return t1 - t0, t2 - t0, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--keep", type=Path, default=None, help="generate here and keep the runs")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        t = time.perf_counter()
        make_runs(root, args.runs)
        print(f"generated {args.runs} run dirs in {time.perf_counter() - t:.1f} s under {root}")
        import duckdb  # noqa: F401 - imports are timed separately (cli row)
        import pyarrow  # noqa: F401

        (root / "catalog.parquet").unlink(missing_ok=True)
        scan, total, n = timed_query(root)
        print(f"cold   (no index):        scan+build {scan:.3f} s, + query {total:.3f} s end to end ({n} groups)")
        scan, total, n = timed_query(root)
        print(f"warm   (catalog.parquet): scan+build {scan:.3f} s, + query {total:.3f} s end to end")
        for i in range(10):
            meta = root / f"bench-{i:06d}" / "meta.json"
            meta.write_text(meta.read_text())
            os.utime(meta, ns=(time.time_ns(), time.time_ns() + 10**6))
        scan, total, n = timed_query(root)
        print(f"touched (10 runs changed): scan+build {scan:.3f} s, + query {total:.3f} s end to end")
        exe = shutil.which("grokscope", path=str(Path(sys.executable).parent)) or "grokscope"
        t = time.perf_counter()
        subprocess.run([exe, "query", QUERY, "--root", str(root), "--format", "csv"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"cli    `grokscope query` in a fresh process (imports included): {time.perf_counter() - t:.3f} s")
        from grokscope.store.catalog import Catalog

        cat = Catalog(root)
        t = time.perf_counter()
        n_rows = cat.query("select count(*), avg(value) from metrics where metric = 'test/acc'").rows
        dt = time.perf_counter() - t
        print(f"metrics view: aggregate over {args.runs} Parquet files {dt:.3f} s ({n_rows[0][0]} rows)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
