"""A plain-PyTorch "peer style" grokking transformer: the comparison point of ``bench_train.py``.

Written the way the public grokking code writes it (Nanda et al.'s progress-measures code and the TransformerLens
demo for config B, danielmamay/grokking for config A; see shared/papers/peers.md):

- an ``nn.Module`` transformer: ``nn.Embedding`` token lookup plus a learned positional ``nn.Parameter``;
- per layer, attention with Q/K/V at **all** positions, a causal mask, softmax, then W_O; the MLP at all
  positions; the unembedding at all positions; the loss (cross-entropy on the answer only) reads the logits at
  the last position;
- ``torch.optim.AdamW`` (defaults otherwise: on a CPU that is the single-tensor implementation), a linear warm-up
  through ``LambdaLR`` where the config has one, ``zero_grad`` after each step;
- evaluation every N steps under ``torch.no_grad``: one forward over every example, train/test loss and accuracy.

It does the same math per step as grokscope's ``Transformer`` for the same config: the same parameter shapes
(mapped by ``load_grokscope_weights``), the same init law (N(0, 1/d_model), W_U ~ N(0, 1/n_classes)), pre-LN with
a final LN when ``layernorm``, biases trained / frozen at zero / absent. It is the plain form, not a strawman:
it leaves out what the peers do wastefully (test loss with autograd every step, float64 logits, wandb) and keeps
what they do (all positions everywhere, torch's AdamW, a dense causal mask). One difference in the *optimizer*
math is kept on purpose because it is the peers' choice and costs nothing: ``AdamW(model.parameters())`` decays
every trainable tensor, grokscope decays weight matrices only (identical for config B, which trains no biases).

Minibatches (config A): by default an index-slice loader (a fresh ``randperm`` per epoch, slices of B, the last
one short) -- the efficient plain form. ``loader="dataloader"`` uses ``DataLoader(TensorDataset, shuffle=True)``
as danielmamay/grokking ships it (per-example ``__getitem__`` and collate: slower).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class PeerConfig:
    name: str
    p: int
    op: Literal["add", "div"]
    layout: Literal["ab=", "aopb="]
    frac: float
    n_layers: int
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    layernorm: bool = False
    bias: Literal["on", "off", "frozen"] = "frozen"
    batch_size: int | None = None  # None: full batch
    lr: float = 1e-3
    wd: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 0

    @property
    def vocab(self) -> int:
        return self.p + (1 if self.layout == "ab=" else 2)

    @property
    def seq_len(self) -> int:
        return 3 if self.layout == "ab=" else 4


# Config B (Nanda et al. 2023 / TL demo): 1 layer, no LN, biases frozen at 0, (a+b) mod 113, 30 %, full batch.
CONFIG_B = PeerConfig("nanda", p=113, op="add", layout="ab=", frac=0.3, n_layers=1, layernorm=False, bias="frozen")
# Config A (Power et al. as run by danielmamay/grokfast): 2 layers pre-LN, biases, a/b mod 97, 50 %, batch 512.
CONFIG_A = PeerConfig("power", p=97, op="div", layout="aopb=", frac=0.5, n_layers=2, layernorm=True, bias="on",
                      batch_size=512, warmup_steps=10)
CONFIGS = {"nanda": CONFIG_B, "power": CONFIG_A}


# -- data --------------------------------------------------------------------------------------------------------
def make_data(cfg: PeerConfig, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """All pairs, shuffled with ``random.seed``, the first ``frac`` for training (Nanda's ``gen_train_test``).

    Returns ``x_all [N, S]``, ``y_all [N]``, ``train_idx``, ``test_idx``.
    """
    p = cfg.p
    pairs = [(a, b) for a in range(p) for b in range(p) if cfg.op != "div" or b != 0]
    eq, op_tok = p, p + 1
    xs, ys = [], []
    for a, b in pairs:
        c = (a + b) % p if cfg.op == "add" else (a * pow(b, -1, p)) % p
        xs.append([a, b, eq] if cfg.layout == "ab=" else [a, op_tok, b, eq])
        ys.append(c)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_train = int(cfg.frac * len(pairs))
    return (torch.tensor(xs), torch.tensor(ys), torch.tensor(sorted(order[:n_train])),
            torch.tensor(sorted(order[n_train:])))


# -- model -------------------------------------------------------------------------------------------------------
def _linear(d_in: int, d_out: int, bias: str, std: float) -> nn.Linear:
    lin = nn.Linear(d_in, d_out, bias=bias != "off")
    nn.init.normal_(lin.weight, 0.0, std)
    if lin.bias is not None:
        nn.init.zeros_(lin.bias)
        lin.bias.requires_grad_(bias == "on")  # TL demo: `param.requires_grad = False` for every b_*
    return lin


class Attention(nn.Module):
    def __init__(self, cfg: PeerConfig, n_ctx: int) -> None:
        super().__init__()
        d, s = cfg.d_model, cfg.d_model**-0.5
        self.n_heads, self.d_head = cfg.n_heads, d // cfg.n_heads
        self.W_Q, self.W_K, self.W_V, self.W_O = (_linear(d, d, cfg.bias, s) for _ in range(4))
        self.register_buffer("mask", torch.ones(n_ctx, n_ctx, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        B, S, d = x.shape
        H, dh = self.n_heads, self.d_head
        q = self.W_Q(x).view(B, S, H, dh).transpose(1, 2)  # [B, H, S, dh]
        k = self.W_K(x).view(B, S, H, dh).transpose(1, 2)
        v = self.W_V(x).view(B, S, H, dh).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)  # [B, H, S, S]
        scores = scores.masked_fill(self.mask[:S, :S], float("-inf"))
        z = scores.softmax(-1) @ v  # [B, H, S, dh]
        return self.W_O(z.transpose(1, 2).reshape(B, S, d))


class MLP(nn.Module):
    def __init__(self, cfg: PeerConfig) -> None:
        super().__init__()
        s = cfg.d_model**-0.5  # Nanda: W_in and W_out both randn / sqrt(d_model)
        self.W_in = _linear(cfg.d_model, cfg.d_mlp, cfg.bias, s)
        self.W_out = _linear(cfg.d_mlp, cfg.d_model, cfg.bias, s)

    def forward(self, x: Tensor) -> Tensor:
        return self.W_out(F.relu(self.W_in(x)))


class Block(nn.Module):
    def __init__(self, cfg: PeerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model) if cfg.layernorm else nn.Identity()
        self.ln2 = nn.LayerNorm(cfg.d_model) if cfg.layernorm else nn.Identity()
        self.attn = Attention(cfg, cfg.seq_len)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PeerTransformer(nn.Module):
    def __init__(self, cfg: PeerConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab, d)
        nn.init.normal_(self.embed.weight, 0.0, d**-0.5)
        self.W_pos = nn.Parameter(torch.randn(cfg.seq_len, d) / math.sqrt(d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = nn.LayerNorm(d) if cfg.layernorm else nn.Identity()
        self.unembed = _linear(d, cfg.p, cfg.bias, cfg.p**-0.5)

    def forward(self, x: Tensor) -> Tensor:
        """x int64 [B, S] -> logits [B, S, C] at every position."""
        h = self.embed(x) + self.W_pos[: x.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.unembed(self.ln_final(h))


@torch.no_grad()
def load_grokscope_weights(model: PeerTransformer, params: dict[str, Tensor], m: int = 0) -> None:
    """Copy member ``m`` of a grokscope ``Transformer`` (``model.P``: name -> [M, ...]) into the peer model.

    grokscope applies ``x @ W`` with ``W [d_in, d_out]``; ``nn.Linear`` stores ``weight [d_out, d_in]``.
    """
    def put(dst: Tensor, name: str, transpose: bool = False) -> None:
        src = params[name][m]
        dst.copy_(src.T if transpose else src)

    put(model.embed.weight, "W_E")
    put(model.W_pos, "W_pos")
    for l, blk in enumerate(model.blocks):
        b = f"blocks.{l}"
        for ln, key in ((blk.ln1, "ln1"), (blk.ln2, "ln2")):
            if isinstance(ln, nn.LayerNorm):
                put(ln.weight, f"{b}.{key}.w")
                put(ln.bias, f"{b}.{key}.b")
        for w in "QKVO":
            lin = getattr(blk.attn, f"W_{w}")
            put(lin.weight, f"{b}.attn.W_{w}", transpose=True)
            if lin.bias is not None:
                put(lin.bias, f"{b}.attn.b_{w}")
        for w in ("in", "out"):
            lin = getattr(blk.mlp, f"W_{w}")
            put(lin.weight, f"{b}.mlp.W_{w}", transpose=True)
            if lin.bias is not None:
                put(lin.bias, f"{b}.mlp.b_{w}")
    if isinstance(model.ln_final, nn.LayerNorm):
        put(model.ln_final.weight, "ln_final.w")
        put(model.ln_final.bias, "ln_final.b")
    put(model.unembed.weight, "W_U", transpose=True)
    if model.unembed.bias is not None:
        put(model.unembed.bias, "b_U")


# -- training ----------------------------------------------------------------------------------------------------
class PeerTrainer:
    """The peers' loop, one step at a time: ``train_step()`` and ``evaluate()`` as in their scripts."""

    def __init__(self, cfg: PeerConfig, data: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
                 loader: Literal["index", "dataloader"] = "index", seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.cfg = cfg
        self.model = PeerTransformer(cfg)
        self.x_all, self.y_all, self.train_idx, self.test_idx = data if data is not None else make_data(cfg, seed)
        self.x_train, self.y_train = self.x_all[self.train_idx], self.y_all[self.train_idx]
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=cfg.betas)
        w = cfg.warmup_steps
        # update t+1 uses lr·(t+1)/w during the warm-up, as grokscope's lr_at (danielmamay: min(t/w, 1))
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda t: min((t + 1) / w, 1.0)) if w else None
        self.loader = loader
        self._perm: Tensor | None = None
        self._k = 0
        self._it: Iterator | None = None
        if loader == "dataloader" and cfg.batch_size is not None:
            ds = torch.utils.data.TensorDataset(self.x_train, self.y_train)
            self._dl = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True)

    def next_batch(self) -> tuple[Tensor, Tensor]:
        B, n = self.cfg.batch_size, len(self.y_train)
        if B is None or B >= n:
            return self.x_train, self.y_train
        if self.loader == "dataloader":  # `for x, y in train_loader:` across epochs
            batch = next(self._it, None) if self._it is not None else None
            if batch is None:
                self._it = iter(self._dl)
                batch = next(self._it)
            return batch[0], batch[1]
        if self._perm is None or self._k * B >= n:
            self._perm, self._k = torch.randperm(n), 0
        idx = self._perm[self._k * B:(self._k + 1) * B]
        self._k += 1
        return self.x_train[idx], self.y_train[idx]

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self.model(x)[:, -1], y)

    def train_step(self) -> None:
        self.model.train()
        x, y = self.next_batch()
        loss = self.loss(x, y)
        loss.backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        self.opt.zero_grad()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        logits = self.model(self.x_all)[:, -1]
        out = {}
        for split, idx in (("train", self.train_idx), ("test", self.test_idx)):
            z, y = logits[idx], self.y_all[idx]
            out[f"{split}/loss"] = F.cross_entropy(z, y).item()
            out[f"{split}/acc"] = (z.argmax(-1) == y).float().mean().item()
        return out
