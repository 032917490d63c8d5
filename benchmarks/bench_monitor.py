"""Monitor overhead on a user's loop: a small causal transformer LM, one probe call every 100 steps.

    PYTHONPATH=src python benchmarks/bench_monitor.py [--steps 2000] [--every 100] [--threads 1]

Two identical models train in the same process, in alternating blocks of ``--block`` steps (so machine load hits
both alike): a plain loop, and the same loop calling ``mon.step(step, optimizer=opt, inputs=probe_batch)`` every
step (the Monitor measures every ``--every`` steps). Overhead = (monitored time − plain time) / plain time; the
time spent inside the Monitor (``mon.overhead_seconds``) is printed too. Probes: the label-free ones registered
among lar, gmm, norms, logits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn


class TinyLM(nn.Module):
    def __init__(self, V: int = 64, d: int = 64, layers: int = 2, heads: int = 4, S: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.pos = nn.Parameter(torch.randn(S, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, V)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(S))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        S = x.shape[1]
        h = self.blocks(self.emb(x) + self.pos[:S], mask=self.mask[:S, :S], is_causal=True)
        return self.lm_head(self.ln_f(h))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from grokscope import Monitor
    from grokscope.probes import PROBES

    probes = [p for p in ("lar", "gmm", "norms", "logits") if p in PROBES.names()]
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 64, (a.batch * 8, 33), generator=g)
    probe_batch = data[:32, :32]
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        m = TinyLM()
        models.append((m, torch.optim.AdamW(m.parameters(), 1e-3)))
    out = Path(tempfile.mkdtemp()) / "bench-monitor"
    mon = Monitor(models[1][0], unembed="lm_head", hidden="ln_f", probes=probes, out=out, every=a.every)

    def block(i: int, start: int, monitored: bool) -> float:
        model, opt = models[i]
        t0 = time.perf_counter()
        for step in range(start, start + a.block):
            b = data[(step % 8) * a.batch:(step % 8 + 1) * a.batch]
            loss = nn.functional.cross_entropy(model(b[:, :-1]).flatten(0, 1), b[:, 1:].flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if monitored:
                mon.step(step, optimizer=opt, inputs=probe_batch)
        return time.perf_counter() - t0

    block(0, 0, False)  # warm-up (allocator, first kernels) outside the timing
    t_plain = t_mon = 0.0
    for start in range(0, a.steps, a.block):
        t_plain += block(0, start, False)
        t_mon += block(1, start, True)
    mon.close()
    over = (t_mon - t_plain) / t_plain
    print(f"probes: {', '.join(probes)}; every {a.every} steps; {a.steps} steps, batch {a.batch}, seq 32, "
          f"threads {a.threads}")
    print(f"plain loop      {t_plain:8.2f} s  ({a.steps / t_plain:6.1f} steps/s)")
    print(f"with Monitor    {t_mon:8.2f} s  ({a.steps / t_mon:6.1f} steps/s)")
    print(f"inside Monitor  {mon.overhead_seconds:8.3f} s  ({100 * mon.overhead_seconds / t_plain:.2f}% of the plain loop)")
    print(f"overhead (wall) {100 * over:+.2f}%   (target <= 5%)")


if __name__ == "__main__":
    main()
