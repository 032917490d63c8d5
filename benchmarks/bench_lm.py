"""LM training throughput on one thread: grokscope's causal LM (``lm/model.py`` + the functional AdamW of
``train/optim.py``) against a plain PyTorch LM of the same size (``nn.TransformerEncoder``, pre-LN, GELU, causal
mask, tied nothing, ``torch.optim.AdamW``), same vocabulary, width, depth, heads, MLP, context and batch.

Both do one step = forward over every position, next-token cross-entropy, backward, AdamW. Reported: steps/s,
tokens/s, useful GFLOP/s (6 · matmul MACs per token · tokens, attention included) and a same-run fp32 matmul's
GFLOP/s for scale (DESIGN.md "Know the limit").

    python benchmarks/bench_lm.py [--preset lm-tiny] [--steps 60] [--vocab 1631]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from grokscope.lm.model import LMModelConfig, lm_forward, make_lm, next_token_loss
from grokscope.lm.presets import lm_preset
from grokscope.lm.train import LMTrainConfig, _optimizer


class PlainLM(nn.Module):
    def __init__(self, V: int, m: LMModelConfig) -> None:
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, m.d_model), nn.Parameter(torch.randn(m.seq_len, m.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(m.d_model, m.n_heads, m.d_mlp, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, m.n_layers, enable_nested_tensor=False)
        self.ln, self.out = nn.LayerNorm(m.d_model), nn.Linear(m.d_model, V)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(m.seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x) + self.pos[: x.shape[1]]
        return self.out(self.ln(self.enc(h, mask=self.mask, is_causal=True)))


def flops_per_step(V: int, m: LMModelConfig, B: int) -> float:
    d, S, L = m.d_model, m.seq_len, m.n_layers
    per_token = L * (4 * d * d + 2 * d * m.d_mlp + 2 * S * d) + d * V  # MACs (attention: QKᵀ and AV over S)
    return 6.0 * per_token * B * S


def time_steps(step, n: int) -> float:
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="lm-tiny")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--vocab", type=int, default=1631)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = LMTrainConfig(**lm_preset(args.preset))
    m, V, B = cfg.model, args.vocab, cfg.batch
    x = torch.randint(0, V, (B, m.seq_len + 1))

    ours = make_lm(m, V)
    ours.init_members([0])
    params = {n: p for n, p in ours.P.items() if p.requires_grad}
    opt = _optimizer(ours, cfg)
    lr, wd = torch.full((1,), cfg.lr), torch.full((1,), cfg.wd)

    def step_ours() -> None:
        loss = next_token_loss(lm_forward(ours, x[None, :, :-1]), x[None, :, 1:]).sum()
        grads = torch.autograd.grad(loss, list(params.values()))
        opt.step(params, dict(zip(params, grads)), lr, wd)

    plain = PlainLM(V, m)
    popt = torch.optim.AdamW(plain.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=(0.9, 0.98))

    def step_plain() -> None:
        loss = F.cross_entropy(plain(x[:, :-1]).reshape(-1, V), x[:, 1:].reshape(-1))
        popt.zero_grad(set_to_none=True)
        loss.backward()
        popt.step()

    a = torch.randn(512, 512)
    t = time_steps(lambda: a @ a, 50)
    mm = 2 * 512**3 / t / 1e9
    n_ours = sum(p[0].numel() for p in ours.P.values())
    n_plain = sum(p.numel() for p in plain.parameters())
    fl = flops_per_step(V, m, B)
    print(f"preset {args.preset}: vocab {V}, {m.n_layers} layers, d {m.d_model}, heads {m.n_heads}, mlp {m.d_mlp}, "
          f"context {m.seq_len}, batch {B}; parameters: grokscope {n_ours}, plain {n_plain}; matmul {mm:.0f} GFLOP/s")
    for name, fn in (("grokscope", step_ours), ("nn.TransformerEncoder", step_plain)):
        dt = time_steps(fn, args.steps)
        print(f"{name:22s} {1 / dt:7.2f} steps/s  {B * m.seq_len / dt:9.0f} tokens/s  {fl / dt / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
