"""Probe overhead: the ``default`` probe set at its cadence against the core probes, on ``quick`` and ``nanda``.

    python benchmarks/bench_probes.py                        # quick (whole preset) + nanda (first 1,500 steps)
    python benchmarks/bench_probes.py --nanda-steps 500 --repeats 3 --json out.json

(a) wall time of a run with ``eval.probes=["core"]`` (accuracy, norms, logits: the config default) against the
same run with ``["default"]``; the members are those of the presets (quick: 4 seeds packed; nanda: 1). For nanda
only the first ``--nanda-steps`` updates run, with as many evaluations as the full 25,000-step grid puts there.
Target: default adds <= 10% (issue 13).
(b) every registered probe's own cost per evaluation (median of ``--repeats`` calls of ``evaluate`` with that probe
alone, all N examples, on the preset's model at init), and the same minus the ``accuracy``-only evaluation (the
shared forward pass). A probe's cost per *run* is its cost per evaluation x evaluations / its ``every``.

Everything runs on one torch thread. On a shared machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import torch


def run_time(preset: str, overrides: list[str], probes: list[str]) -> tuple[float, int]:
    from grokscope.api import run

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        r = run(preset, [*overrides, f"eval.probes={json.dumps(probes)}"], out=out, threads=1)
        dt = time.perf_counter() - t0
        n_evals = int(r.metrics().step.nunique())
    return dt, n_evals


def per_probe_costs(preset: str, repeats: int) -> dict[str, float]:
    """Median ms per evaluation of each probe alone (its hooks, needs and the shared forward pass included)."""
    from grokscope.config import load_config
    from grokscope.probes import PROBES, ProbeSet
    from grokscope.probes.evaluate import evaluate
    from grokscope.train.loop import full_batch_grad
    from grokscope.train.setup import build

    s = build(load_config(preset), torch.device("cpu"))
    out = {}
    for name, p in PROBES.items():
        if p.skip_reason(s.model.roles) is not None:
            continue
        ps = ProbeSet([p])
        hist = {"train/acc": __import__("numpy").zeros((3, s.M))}
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            evaluate(s.model, s.eval_data, ps, 0, groups=s.model.groups, wd=s.wd, lr=s.lr, task=s.task_info,
                     grad_fn=lambda: full_batch_grad(s), history=hist,
                     history_steps=__import__("numpy").arange(3))
            times.append(time.perf_counter() - t0)
        out[name] = 1000 * statistics.median(times[1:])  # the first call warms caches
    return out


def nanda_grid_count(steps: int) -> int:
    from grokscope.config import load_config
    from grokscope.train.schedule import eval_steps

    cfg = load_config("nanda")
    return int(sum(1 for t in eval_steps(cfg.eval, cfg.train.steps) if t <= steps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="quick,nanda")
    ap.add_argument("--nanda-steps", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from grokscope.probes.sets import PROBE_SETS

    results: dict = {"default_set": list(PROBE_SETS["default"]), "overhead": {}, "per_probe_ms": {}}
    for preset in args.presets.split(","):
        overrides: list[str] = []
        if preset == "nanda":
            overrides = [f"train.steps={args.nanda_steps}", f"eval.points={nanda_grid_count(args.nanda_steps)}"]
        base, n_evals = run_time(preset, overrides, ["core"])
        dflt, _ = run_time(preset, overrides, ["default"])
        results["overhead"][preset] = {"core_s": base, "default_s": dflt, "evals": n_evals,
                                       "overhead_pct": 100 * (dflt - base) / base, "overrides": overrides}
        print(f"{preset}: core {base:.1f}s, default {dflt:.1f}s over {n_evals} evals -> "
              f"{100 * (dflt - base) / base:+.1f}%  {' '.join(overrides)}", flush=True)
        costs = per_probe_costs(preset, args.repeats)
        results["per_probe_ms"][preset] = costs
        ref = costs.get("accuracy", 0.0)
        print(f"  {'probe':<18} {'ms/eval':>9} {'- forward':>10}")
        for name, ms in sorted(costs.items(), key=lambda kv: kv[1]):
            print(f"  {name:<18} {ms:9.1f} {ms - ref:10.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
