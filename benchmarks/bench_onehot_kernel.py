"""The fused two-layer one-hot kernel: blocked (cache-sized row blocks) against batched, on Tian's net.

    python benchmarks/bench_onehot_kernel.py                 # M = 10, K = 2048, p = 71, 40% train (the quick scale)
    python benchmarks/bench_onehot_kernel.py --members 5 --repeats 5 --json out.json

One training step's forward + backward of ``onehot_two_layer`` (x² and ReLU) at the ``tian-x2`` shape, with the
batched form (``BLOCK_ABOVE`` raised past the problem) and the blocked form (the default above ``BLOCK_ABOVE``),
in the same process, on one torch thread; the median of ``--repeats`` timed calls after one warm-up. Also the
three matmuls alone, the floor of either form. Reports the speed-up batched / blocked and checks the two agree.
On a shared machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from grokscope.models import onehot_kernel as ok


def step_time(W: torch.Tensor, V: torch.Tensor, idx: torch.Tensor, act: str, repeats: int):
    ts, out, grads = [], None, None
    for i in range(repeats + 1):
        Wg, Vg = W.clone().requires_grad_(), V.clone().requires_grad_()
        t = time.perf_counter()
        out = ok.onehot_two_layer(Wg, Vg, idx, act)
        out.backward(torch.ones_like(out))
        if i:
            ts.append(time.perf_counter() - t)
        grads = (Wg.grad, Vg.grad)
    return statistics.median(ts), out.detach(), grads


def matmul_floor(M: int, B: int, H: int, C: int, repeats: int) -> float:
    F, V, d = torch.randn(M, B, H), torch.randn(M, H, C), torch.randn(M, B, C)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.bmm(F, V), torch.bmm(F.transpose(1, 2), d), torch.bmm(d, V.transpose(1, 2))
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--p", type=int, default=71)
    ap.add_argument("--frac", type=float, default=0.4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    M, H, C, B = a.members, a.width, a.p, int(a.frac * a.p * a.p)
    W = torch.randn(M, 2 * a.p, H, generator=g) * 0.05
    V = torch.randn(M, H, C, generator=g) * 0.05
    idx = torch.stack([torch.randint(0, a.p, (1, B), generator=g), a.p + torch.randint(0, a.p, (1, B), generator=g)], -1)
    res: dict = {"members": M, "width": H, "p": a.p, "batch": B, "threads": 1}
    for act in ok.FUSED_ACTS:
        keep = ok.BLOCK_ABOVE
        ok.BLOCK_ABOVE = M * B * H + 1  # force the batched form
        t_batched, out_b, g_b = step_time(W, V, idx, act, a.repeats)
        ok.BLOCK_ABOVE = keep
        t_blocked, out_k, g_k = step_time(W, V, idx, act, a.repeats)
        agree = bool(torch.allclose(out_b, out_k) and all(torch.allclose(x, y, rtol=1e-4, atol=1e-6)
                                                          for x, y in zip(g_b, g_k)))
        res[act] = {"batched_s": t_batched, "blocked_s": t_blocked, "speedup": t_batched / t_blocked, "agree": agree}
        print(f"{act:9s}  batched {t_batched:6.3f} s   blocked {t_blocked:6.3f} s   speed-up "
              f"{t_batched / t_blocked:4.2f}x   agree {agree}")
    res["matmul_floor_s"] = matmul_floor(M, B, H, C, a.repeats)
    print(f"three matmuls alone: {res['matmul_floor_s']:.3f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
