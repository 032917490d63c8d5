"""Training throughput of grokscope against the plain-PyTorch peer implementation (``peer_baseline.py``).

    python benchmarks/bench_train.py                 # nanda + power at 1 thread, ~1.5 min on an idle 2-core box
    python benchmarks/bench_train.py --quick         # fewer/shorter rounds, ~30 s
    python benchmarks/bench_train.py --threads 2 --json out.json

Targets (1 thread): grokscope >= 2x the peer on ``nanda`` (config B) and >= 1.5x on ``power`` (config A).

Method
- Both sides are built from the same preset: grokscope's run pieces (``train.setup.build``) from
  ``grokscope.load_config(name)``, the
  peer from the matching ``peer_baseline`` config, on grokscope's member-0 split and with member 0's initial
  weights copied in. A cross-check first shows the two models compute the same function: the logits at the last
  position agree on a batch (float32, tolerance 1e-4), and so does the loss on the first training batch.
- Same process, same thread count, same machine; after a warm-up, R rounds, each timing a block of K training
  steps and then one evaluation of each side, the order alternating between rounds (grokscope first in even
  rounds). A 1024x1024 float32 matmul is timed in every round too (best of 5), so the machine's peak is measured
  under the same conditions.
- Evaluation is counted the way a run pays for it: both sides evaluate every N steps (``--eval-every``, default
  100; grokscope's runs use a geometric grid, the benchmark uses the same linear every-N for both). To keep blocks
  short, each block times one evaluation and charges 1/N of it to every step:
  ``s/step = (block time)/K + (eval time)/N``, exactly the cost of evaluating every N steps inside the loop.
  ``steps/s`` is the median over rounds of 1/(s/step); ``train-only`` leaves the evaluation out.
- FLOPs (matmul multiply-accumulates only; elementwise work, LayerNorm, softmax, the optimizer are not counted;
  1 MAC = 2 FLOPs; forward + backward = 3x forward, so a training example costs 6 x forward MACs and an
  evaluated example 2 x forward MACs):
    * ``useful``: the forward MACs the model needs per example, the same count for both sides: every position in
      the layers before the last (causal pairs only in attention); in the last layer K/V at every position and
      the query, W_O, the MLP and the unembedding at the readout position only. First-layer projections are
      counted per example (no vocabulary-table discount). Useful GFLOP/s / matmul GFLOP/s = fraction of peak.
    * ``work``: what each implementation actually multiplies: the peer every position everywhere (full S x S
      scores); grokscope the readout-only last layer plus its first-layer Q/K/V computed once per step on the
      S*V (position, token) table instead of per example.
  Minibatch steps (power) use the mean batch over an epoch (the last slice of an epoch is short on both sides).
A benchmark, not a test: it always exits 0 and prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_baseline import CONFIGS, PeerConfig, PeerTrainer, load_grokscope_weights  # noqa: E402

TARGETS = {"nanda": 2.0, "power": 1.5}
# (rounds, steps per block) per config; --quick uses the second table
PLAN = {"nanda": (7, 10), "power": (7, 30)}
PLAN_QUICK = {"nanda": (3, 4), "power": (3, 10)}


# -- FLOP counts ---------------------------------------------------------------------------------------------------
def _layer(d: int, dm: int, n_q: int, n_kv: int, pairs: int, proj_qkv: bool = True) -> int:
    """Forward MACs of one block per example: Q at n_q positions, K/V at n_kv, scores + pattern·V over ``pairs``
    (query, key) pairs, W_O and the MLP at the n_q query positions."""
    qkv = (n_q + 2 * n_kv) * d * d if proj_qkv else 0
    return qkv + 2 * pairs * d + n_q * d * d + 2 * n_q * d * dm


def useful_macs(c: PeerConfig) -> int:
    """Per-example forward MACs of the model's necessary math (see the module docstring)."""
    d, dm, S, L = c.d_model, c.d_mlp, c.seq_len, c.n_layers
    causal = S * (S + 1) // 2
    early = (L - 1) * _layer(d, dm, S, S, causal)
    return early + _layer(d, dm, 1, S, S) + d * c.p


def peer_macs(c: PeerConfig) -> int:
    """Per-example forward MACs of the peer's all-positions forward (full S x S scores, masked after)."""
    d, dm, S = c.d_model, c.d_mlp, c.seq_len
    return c.n_layers * _layer(d, dm, S, S, S * S) + S * d * c.p


def grokscope_macs(c: PeerConfig) -> tuple[int, int]:
    """(per-example, per-call table) forward MACs of grokscope's Transformer.forward."""
    d, dm, S, L = c.d_model, c.d_mlp, c.seq_len, c.n_layers
    table = S * c.vocab * 3 * d * d  # layer-0 Q/K/V on the (position, token) table, once per forward
    if L == 1:
        per_ex = _layer(d, dm, 1, S, S, proj_qkv=False)
    else:
        per_ex = _layer(d, dm, S, S, S * S, proj_qkv=False) + (L - 2) * _layer(d, dm, S, S, S * S)
        per_ex += _layer(d, dm, 1, S, S)
    return per_ex + d * c.p, table


# -- timing helpers ------------------------------------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    """Best-of-``reps`` float32 n x n matmul rate at the current thread count."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)
    best = min(timed(lambda: torch.mm(a, b, out=out)) for _ in range(reps))
    return 2 * n**3 / best / 1e9


@dataclass
class Side:
    name: str
    step: Callable[[], None]
    evaluate: Callable[[], Any]
    block_s: list[float] = field(default_factory=list)  # seconds per step, training only
    eval_s: list[float] = field(default_factory=list)  # seconds per evaluation

    def block(self, k: int) -> None:
        self.block_s.append(timed(lambda: [self.step() for _ in range(k)]) / k)
        self.eval_s.append(timed(self.evaluate))

    def per_round(self, every: int) -> list[float]:
        """Steps/s per round with 1/every of an evaluation charged to each step."""
        return [1.0 / (s + e / every) for s, e in zip(self.block_s, self.eval_s, strict=True)]


# -- one config ----------------------------------------------------------------------------------------------------
def cross_check(trainer: Any, peer: PeerTrainer) -> dict[str, float]:
    """Same weights in both: logits at the last position and the first training batch's loss agree."""
    from grokscope.train.losses import per_example

    x = trainer.x_all[0, :512]
    with torch.no_grad():
        z_gs = trainer.model(x[None])[0]
        z_peer = peer.model(x)[:, -1]
        xb, yb = trainer.batch(0)
        loss_gs = per_example("ce", trainer.model(xb), yb).mean().item()
        loss_peer = F.cross_entropy(peer.model(xb[0])[:, -1], yb[0]).item()
    return {"logits_max_abs_diff": (z_gs - z_peer).abs().max().item(), "loss_grokscope": loss_gs,
            "loss_peer": loss_peer}


def bench_config(name: str, rounds: int, k: int, every: int, warmup: int, loader: str) -> dict[str, Any]:
    import grokscope
    from grokscope.probes.evaluate import evaluate
    from grokscope.train.loop import update
    from grokscope.train.setup import build

    cfg = grokscope.load_config(name)
    pc = CONFIGS[name]
    mc = cfg.model
    assert (mc.n_layers, mc.d_model, mc.n_heads, mc.d_mlp, mc.layernorm, mc.bias, cfg.task.p) == (
        pc.n_layers, pc.d_model, pc.n_heads, pc.d_mlp, pc.layernorm, pc.bias, pc.p), "peer config drifted from preset"
    assert (cfg.train.batch_size, cfg.optim.warmup_steps) == (pc.batch_size, pc.warmup_steps)
    trainer = build(cfg, torch.device("cpu"))  # the run's pieces, exactly as `grokscope run` builds them
    assert trainer.M == 1 and trainer.dtype == torch.float32
    data = (trainer.x_all[0], trainer.y_all[0], trainer.train_idx[0], trainer.test_idx[0])
    peer = PeerTrainer(pc, data, loader=loader)  # type: ignore[arg-type]
    load_grokscope_weights(peer.model, trainer.model.P, 0)
    n_gs = sum(p[0].numel() for p in trainer.model.P.values())
    n_peer = sum(p.numel() for p in peer.model.parameters())
    check = cross_check(trainer, peer)
    ok = check["logits_max_abs_diff"] < 1e-4 and abs(check["loss_grokscope"] - check["loss_peer"]) < 1e-4
    print(f"\n== {name}: {pc.n_layers} layer(s), d {pc.d_model}, {pc.n_heads} heads, d_mlp {pc.d_mlp}, "
          f"p {pc.p}, S {pc.seq_len}, train {len(peer.y_train)} / all {len(peer.y_all)}, "
          f"batch {pc.batch_size or 'full'}, params {n_gs} (grokscope) / {n_peer} (peer)")
    print(f"logits match: max abs diff {check['logits_max_abs_diff']:.2e} (tol 1e-4); first-batch loss "
          f"{check['loss_grokscope']:.6f} vs {check['loss_peer']:.6f}  {'OK' if ok else 'MISMATCH'}")

    t_gs = 0

    def gs_step() -> None:
        nonlocal t_gs
        update(trainer, t_gs)
        t_gs += 1

    def gs_eval() -> None:
        evaluate(trainer.model, trainer.eval_data, trainer.probes, groups=trainer.model.groups)

    sides = [Side("grokscope", gs_step, gs_eval), Side("peer", peer.train_step, peer.evaluate)]
    for s in sides:  # warm-up (allocator, first-call dispatch, AdamW state creation)
        for _ in range(warmup):
            s.step()
        s.evaluate()
    peaks = []
    for r in range(rounds):
        peaks.append(matmul_gflops())
        for s in (sides if r % 2 == 0 else sides[::-1]):
            s.block(k)
    peak = statistics.median(peaks)

    n_train, n_all = len(peer.y_train), len(peer.y_all)
    B = pc.batch_size or n_train
    mean_batch = n_train / math.ceil(n_train / B)
    u = useful_macs(pc)
    useful_flops = 6 * mean_batch * u + 2 * n_all * u / every
    w_peer = peer_macs(pc)
    w_gs, table = grokscope_macs(pc)
    work = {"grokscope": 6 * (mean_batch * w_gs + table) + 2 * (n_all * w_gs + table) / every,
            "peer": 6 * mean_batch * w_peer + 2 * n_all * w_peer / every}

    out: dict[str, Any] = {"config": name, "rounds": rounds, "steps_per_block": k, "eval_every": every,
                           "cross_check": {**check, "ok": ok}, "matmul_gflops": peak, "matmul_gflops_rounds": peaks,
                           "useful_fwd_macs_per_example": u, "useful_gflop_per_step": useful_flops / 1e9}
    for s in sides:
        rates = s.per_round(every)
        rate = statistics.median(rates)
        out[s.name] = {"steps_per_s": rate, "steps_per_s_rounds": rates,
                       "train_only_steps_per_s": 1.0 / statistics.median(s.block_s),
                       "eval_ms": 1e3 * statistics.median(s.eval_s),
                       "useful_gflops": rate * useful_flops / 1e9, "work_gflop_per_step": work[s.name] / 1e9,
                       "work_gflops": rate * work[s.name] / 1e9,
                       "frac_of_matmul_peak": rate * useful_flops / 1e9 / peak}
    pair = [g / p for g, p in zip(out["grokscope"]["steps_per_s_rounds"], out["peer"]["steps_per_s_rounds"],
                                  strict=True)]
    out["ratio"] = out["grokscope"]["steps_per_s"] / out["peer"]["steps_per_s"]
    out["ratio_rounds"] = pair
    out["target"] = TARGETS[name]

    print(f"{'':10s} {'steps/s':>8s} {'train-only':>10s} {'eval ms':>8s} {'useful GF/s':>11s} {'work GF/step':>12s} "
          f"{'work GF/s':>9s} {'of peak':>7s}")
    for s in sides:
        o = out[s.name]
        print(f"{s.name:10s} {o['steps_per_s']:8.2f} {o['train_only_steps_per_s']:10.2f} {o['eval_ms']:8.1f} "
              f"{o['useful_gflops']:11.1f} {o['work_gflop_per_step']:12.2f} {o['work_gflops']:9.1f} "
              f"{100 * o['frac_of_matmul_peak']:6.1f}%")
    print(f"useful: {u / 1e3:.0f}k fwd MACs/example, {useful_flops / 1e9:.2f} GFLOP/step incl. 1/{every} eval; "
          f"matmul 1024^3 fp32: {peak:.1f} GFLOP/s (rounds {min(peaks):.0f}-{max(peaks):.0f}); "
          f"per-round ratios {min(pair):.2f}-{max(pair):.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sides (default 1)")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds (noisier)")
    ap.add_argument("--configs", nargs="+", default=["nanda", "power"], choices=sorted(CONFIGS))
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 3)")
    ap.add_argument("--steps", type=int, help="training steps per timed block (default per config)")
    ap.add_argument("--eval-every", type=int, default=100, help="both sides evaluate every N steps (default 100)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps per side")
    ap.add_argument("--peer-loader", choices=["index", "dataloader"], default="index",
                    help="peer minibatches: randperm slices (default) or DataLoader(TensorDataset) as danielmamay")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, threads {torch.get_num_threads()}"
          + (f", load average {load0[0]:.2f}" if load0 else ""))
    if args.threads > (os.cpu_count() or 1):
        print(f"warning: {args.threads} threads on {os.cpu_count()} CPUs")
    plan = PLAN_QUICK if args.quick else PLAN
    results = []
    for name in args.configs:
        rounds, k = plan[name]
        results.append(bench_config(name, args.rounds or rounds, args.steps or k, args.eval_every, args.warmup,
                                    args.peer_loader))
    print()
    for r in results:
        ok = "meets" if r["ratio"] >= r["target"] else "BELOW"
        print(f"{r['config']}: grokscope {r['grokscope']['steps_per_s']:.2f} steps/s, peer "
              f"{r['peer']['steps_per_s']:.2f} steps/s, ratio {r['ratio']:.2f} (target >= {r['target']:.1f}, {ok}); "
              f"grokscope at {100 * r['grokscope']['frac_of_matmul_peak']:.0f}% of matmul peak, "
              f"peer {100 * r['peer']['frac_of_matmul_peak']:.0f}%")
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    elapsed = time.perf_counter() - t_start
    print(f"total {elapsed:.0f} s" + (f"; load average {load0[0]:.2f} -> {load1[0]:.2f}" if load0 and load1 else "")
          + ("  (other work on the machine: timings are noisy)"
             if load1 and load1[0] > (os.cpu_count() or 1) - 0.5 else ""))
    if args.json:
        env = {"torch": torch.__version__, "threads": args.threads, "cpus": os.cpu_count(),
               "machine": platform.machine(), "load_before": load0, "load_after": load1, "quick": args.quick,
               "peer_loader": args.peer_loader, "elapsed_s": elapsed}
        args.json.write_text(json.dumps({"env": env, "results": results}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
