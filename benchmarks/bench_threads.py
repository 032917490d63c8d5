"""``--threads auto`` against one thread on the presets, idle and with one busy core (issue 12: auto must never be
slower than one thread by more than 5%).

    PYTHONPATH=src python benchmarks/bench_threads.py               # every preset, ~2-4 min on 2 cores
    PYTHONPATH=src python benchmarks/bench_threads.py --steps 10 --presets quick nanda --json out.json

Method: per preset, the run's pieces are built once (``train.setup.build``), then training steps
(``train.loop.update``, the run's own step: forward, backward, optimizer, interventions) are timed in blocks of
``--steps`` after 3 warm-up steps, with 1 thread and with all cores, alternating, best of ``--rounds`` blocks, in
two conditions: as the machine is ("as-is"), and with one extra process spinning on a core ("busy"). Evaluation
is not timed (it is the same work for both). Auto's pick in each condition is the rule of ``train/threads.py``
applied to that condition's free cores: cores minus the load average measured before the preset (as a run sees
it), and one fewer with the busy process (the 1-minute load average lags a process started seconds ago, so the
benchmark gives the rule what the load average will say). ``auto/1`` is the measured rate at auto's pick over the
rate at one thread. ``if-idle`` is the pick the rule makes on an idle machine (free = all cores) and its ratio
measured here: on a machine shared with other work that ratio is a pessimistic bound (the extra threads compete
with the other work), and every rate is a lower bound of the speed. A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time

import torch


def spin() -> None:
    while True:
        pass


def steps_per_second(s, threads: int, steps: int, t0: int) -> float:
    from grokscope.train.loop import update

    torch.set_num_threads(threads)
    start = time.perf_counter()
    for t in range(t0, t0 + steps):
        update(s, t)
    return steps / (time.perf_counter() - start)


def measure(name: str, steps: int, rounds: int, cores: int) -> dict[str, float]:
    from grokscope.config import load_config
    from grokscope.train.setup import build

    cfg = load_config(name)
    s = build(cfg, torch.device("cpu"))
    torch.set_num_threads(1)
    steps_per_second(s, 1, 3, 0)  # warm-up
    best = {1: 0.0, cores: 0.0}
    for r in range(rounds):
        for n in ((1, cores) if r % 2 == 0 else (cores, 1)):
            best[n] = max(best[n], steps_per_second(s, n, steps, 3 + r * steps))
    return {"one": best[1], "all": best[cores]}


def main() -> None:
    from grokscope.presets import PRESETS
    from grokscope.train.threads import auto_threads, cores, free_cores, step_flops

    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="*", default=["quick", "clevix-mlp", "parity", "gromov", "nanda", "power"])
    ap.add_argument("--steps", type=int, default=8, help="steps per timed block")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from grokscope.config import load_config

    n = cores()
    print(f"{n} cores, load average {os.getloadavg()[0]:.2f} at start, torch {torch.__version__}")
    rows = []
    for condition in ("as-is", "busy"):
        hog = None
        if condition == "busy":
            hog = mp.get_context("spawn").Process(target=spin, daemon=True)
            hog.start()
            time.sleep(1.0)
        try:
            for name in a.presets:
                if name not in PRESETS:
                    continue
                cfg = load_config(name)
                free = max(0.0, free_cores() - (1.0 if condition == "busy" else 0.0))
                pick, idle_pick = auto_threads(cfg, free=free), auto_threads(cfg, free=float(n))
                m = measure(name, a.steps, a.rounds, n)

                def rate(k: int, m: dict[str, float] = m) -> float:
                    return m["all"] if k == n and n > 1 else m["one"]

                rows.append({"preset": name, "condition": condition, "flops": step_flops(cfg), "free": free,
                             "auto_threads": pick, "one": m["one"], "all": m["all"],
                             "auto_over_one": rate(pick) / m["one"], "idle_threads": idle_pick,
                             "idle_over_one": rate(idle_pick) / m["one"]})
                r = rows[-1]
                print(f"{condition:5s} {name:11s} step {r['flops']:.2g} FLOPs  free {free:.1f}  1 thread "
                      f"{r['one']:6.1f} steps/s  {n} threads {r['all']:6.1f}  auto -> {pick}  auto/1 "
                      f"{r['auto_over_one']:.2f}  if-idle -> {idle_pick}: {r['idle_over_one']:.2f}", flush=True)
        finally:
            if hog is not None:
                hog.terminate()
    worst = min(r["auto_over_one"] for r in rows) if rows else float("nan")
    print(f"worst auto/1: {worst:.2f} (target >= 0.95)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cores": n, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
