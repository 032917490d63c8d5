"""Sweep throughput: grokscope's local executor against a naive sequential loop of the same runs.

    python benchmarks/bench_sweep.py                 # 16 cells of `quick`, ~3-4 min on an idle 2-core box
    python benchmarks/bench_sweep.py --steps 300     # shorter, for a smoke check
    python benchmarks/bench_sweep.py --json out.json

Target: (a) / (b) >= 1.8x on the 2-core development machine.

Method (one process, one pass; the three variants train exactly the same 16 cells for the same budget)
- Cells: the `quick` preset ((a+b) mod 43, embed-concat MLP), optim.wd in {0.5, 1, 1.5, 2} x 4 seeds, a fixed
  budget of ``--steps`` steps with stop_on_grok off, so every variant does the same work.
- (a) naive: a Python loop over the 16 single-member runs with ``grokscope.api.run`` in this process, with torch's
  default threading (torch.get_num_threads() at start-up, i.e. all cores) -- what a user writes without a sweep.
- (b) ``grokscope.sweep.run_sweep(..., workers=2)`` (1 thread per worker), packing on: the 16 cells become
  2 runs of 8 members (member cap 8), one per worker.
- (c) the same with packing off: 16 single-member runs over 2 workers.
Each variant writes complete run directories (metrics, checkpoints, curves.png) into a fresh temporary directory;
wall time includes everything (process-pool start-up, writing, plotting). (a)/(b) is the sweep engine's gain,
(a)/(c) the gain from the process pool alone, (c)/(b) the gain from member packing.
A benchmark, not a test: it always exits 0 and prints what it measured. Other processes on the machine make the
numbers noisy; the load average at start and end is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

DEFAULT_THREADS = torch.get_num_threads()  # before grokscope sets anything

from grokscope import api  # noqa: E402
from grokscope.sweep import load_spec, run_sweep  # noqa: E402

TARGET = 1.8


def spec(steps: int) -> dict:
    return {"name": "bench", "preset": "quick", "seeds": 4, "member_cap": 8,
            "base": {"train": {"steps": steps, "stop_on_grok": None}},
            "grid": {"optim.wd": [0.5, 1.0, 1.5, 2.0]}}


def naive(steps: int, out: Path) -> float:
    plan = load_spec(spec(steps), pack=False)
    t0 = time.perf_counter()
    for run in plan.runs:
        api.run(run.config, out=out, threads=DEFAULT_THREADS)
    return time.perf_counter() - t0


def engine(steps: int, out: Path, pack: bool, workers: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    res = run_sweep(spec(steps), out=out, workers=workers, pack=pack)
    wall = time.perf_counter() - t0
    if not res.ok:
        print(f"  failures: {[c.error for c in res.failed][:3]}")
    return wall, len(res.plan.runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000, help="budget of every cell (default 1000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    cells = len(load_spec(spec(args.steps)).cells)
    print(f"bench_sweep: {cells} cells of `quick`, {args.steps} steps each; {os.cpu_count()} cores, torch "
          f"{torch.__version__}, default threads {DEFAULT_THREADS}, python {platform.python_version()}")
    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        t_a = naive(args.steps, tmp / "naive")
        print(f"(a) naive loop, 16 runs, {DEFAULT_THREADS} threads       {t_a:7.1f} s", flush=True)
        torch.set_num_threads(DEFAULT_THREADS)
        t_b, n_b = engine(args.steps, tmp / "packed", True, args.workers)
        print(f"(b) sweep, {args.workers} workers x 1 thread, packed ({n_b} runs) {t_b:7.1f} s", flush=True)
        t_c, n_c = engine(args.steps, tmp / "unpacked", False, args.workers)
        print(f"(c) sweep, {args.workers} workers x 1 thread, no packing ({n_c} runs) {t_c:7.1f} s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    res = {"cells": cells, "steps": args.steps, "workers": args.workers, "default_threads": DEFAULT_THREADS,
           "naive_s": round(t_a, 2), "packed_s": round(t_b, 2), "unpacked_s": round(t_c, 2),
           "speedup_packed": round(t_a / t_b, 2), "speedup_unpacked": round(t_a / t_c, 2),
           "packing_gain": round(t_c / t_b, 2), "load_start": load0[0], "load_end": load1[0]}
    print(f"speed-up (a)/(b) = {res['speedup_packed']:.2f}x  (target >= {TARGET}x: "
          f"{'met' if res['speedup_packed'] >= TARGET else 'NOT met'})")
    print(f"speed-up (a)/(c) = {res['speedup_unpacked']:.2f}x  (process pool alone)")
    print(f"packing gain (c)/(b) = {res['packing_gain']:.2f}x")
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
