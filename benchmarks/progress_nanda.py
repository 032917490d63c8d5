"""Benchmark: ``analyze progress`` on 100 checkpoints of a nanda-sized run (issue 6: < 30 s; peers: 7.6 s each).

Trains the ``nanda`` preset (1-layer transformer, p = 113, d_model 128, d_mlp 512) for 1 step to get a real run
directory, then writes 100 synthetic checkpoints (the step-1 weights plus noise) and times the analysis.

    PYTHONPATH=src python benchmarks/progress_nanda.py [--threads 1] [--n 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def make_run(out: Path, n: int) -> Path:
    import grokscope as gs
    from grokscope.store import checkpoint

    r = gs.run("nanda", ["train.steps=1", "checkpoint.count=2"], out=out, threads=1)
    base = r.load_checkpoint(r.checkpoint_steps()[-1])
    g = torch.Generator().manual_seed(0)
    for i in range(n):
        params = {k: v + 0.01 * torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in base["params"].items()}
        checkpoint.save(checkpoint.ckpt_path(r.dir.ckpt_dir, 100 * (i + 1)), {**base, "step": 100 * (i + 1),
                                                                               "params": params})
    return r.path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    from grokscope.mech.runs import analyze_progress

    out = a.out or Path(tempfile.mkdtemp(prefix="gs-bench-"))
    path = make_run(out, a.n)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    res = analyze_progress(path, keys=[14, 35, 41, 42, 52])
    dt = time.perf_counter() - t0
    print(f"analyze progress: {res['checkpoints']} checkpoints in {dt:.1f} s ({dt / res['checkpoints']:.3f} s each, "
          f"{a.threads} thread(s))")


if __name__ == "__main__":
    main()
