"""Named, documented configurations. Each says what it reproduces and what to expect on a 2-core CPU.

``expect`` figures were measured on the development machine (2 cores, torch 2.13 CPU, 1 thread); see README.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    expect: str
    config: dict[str, Any] = field(default_factory=dict)


NANDA_MODEL = {"name": "transformer", "n_layers": 1, "d_model": 128, "n_heads": 4, "d_mlp": 512, "act": "relu",
               "layernorm": False, "bias": "frozen"}

_PRESETS = [
    Preset(
        "quick",
        "Embed-concat MLP (paper 1's architecture, narrower) on (a+b) mod 43, 40% train, AdamW lr 1e-2 wd 1, "
        "4 seeds packed on the member axis; each member stops at 1.5x its own T_grok.",
        "memorises at ~48 steps, groks at ~800-1,250 steps (a ~16-26x delay); ~30 s on one CPU thread",
        {"name": "quick",
         "task": {"name": "modular", "op": "add", "p": 43, "frac": 0.4},
         "model": {"name": "mlp", "d_embed": 32, "d_hidden": 128, "act": "gelu"},
         "optim": {"lr": 1e-2, "wd": 1.0, "beta2": 0.98},
         "train": {"steps": 5000, "stop_on_grok": 1.5},
         "eval": {"points": 300},
         "members": {"seeds": 4}},
    ),
    Preset(
        "nanda",
        "Config B (Nanda et al. 2023): 1-layer no-LN transformer, (a+b) mod 113, [a, b, =], 30% train, full batch, "
        "AdamW lr 1e-3 wd 1 betas (0.9, 0.98), frozen zero biases.",
        "measured: T_mem 132, T_grok 6,328, ~10 min (paper: memorised by ~1.4k, test loss falls ~9.4k-13k)",
        {"name": "nanda",
         "task": {"name": "modular", "op": "add", "p": 113, "frac": 0.3},
         "model": NANDA_MODEL,
         "optim": {"lr": 1e-3, "wd": 1.0, "beta1": 0.9, "beta2": 0.98},
         "train": {"steps": 25_000}},
    ),
    Preset(
        "power",
        "Config A (Power et al. 2022 as run by danielmamay/grokfast): 2-layer pre-LN decoder, d 128, 4 heads, "
        "a/b mod 97 with [a, op, b, =], 50% train, batch 512, AdamW lr 1e-3 wd 1 betas (0.9, 0.98), 10-step warm-up.",
        "measured: T_mem 412, T_grok 2,353, ~3 min (peers report ~3,000-3,500 steps for x/y at 50%)",
        {"name": "power",
         "task": {"name": "modular", "op": "div", "p": 97, "frac": 0.5, "layout": "aopb="},
         "model": {"name": "transformer", "n_layers": 2, "d_model": 128, "n_heads": 4, "d_mlp": 512,
                   "act": "relu", "layernorm": True, "bias": "on"},
         "optim": {"lr": 1e-3, "wd": 1.0, "beta1": 0.9, "beta2": 0.98, "warmup_steps": 10},
         "train": {"steps": 20_000, "batch_size": 512}},
    ),
    Preset(
        "clevix-mlp",
        "The MLP of papers 1 and 4 (Khanh 2026): E 128, hidden 256 GELU, (a+b) mod 59, 40% train, AdamW lr 1e-3 "
        "wd 1 betas (0.9, 0.999), full batch, 3 seeds (the paper uses 12).",
        "measured: T_mem 155, T_grok ~4.3k-6.3k, ~4-5 min (paper 1: free-control median T_grok ~3.7k at p=59)",
        {"name": "clevix-mlp",
         "task": {"name": "modular", "op": "add", "p": 59, "frac": 0.4},
         "model": {"name": "mlp", "d_embed": 128, "d_hidden": 256, "act": "gelu"},
         "optim": {"lr": 1e-3, "wd": 1.0, "beta1": 0.9, "beta2": 0.999},
         "train": {"steps": 10_000},
         "members": {"seeds": 3}},
    ),
    Preset(
        "gromov",
        "Config C (Gromov 2023): one-hot concat input, width 500, x² activation, MSE on one-hot targets, "
        "(a+b) mod 97, 50% train, full batch; AdamW lr 1e-3 wd 1 here [optimizer settings reconstructed].",
        "measured: T_mem 677, T_grok 934 (a short delay), ~18 steps/s",
        {"name": "gromov",
         "task": {"name": "modular", "op": "add", "p": 97, "frac": 0.5},
         "model": {"name": "onehot_mlp", "d_hidden": 500, "act": "quadratic"},
         "loss": {"name": "mse"},
         "optim": {"lr": 1e-3, "wd": 1.0, "beta2": 0.98},
         "train": {"steps": 10_000}},
    ),
    Preset(
        "dlc",
        "Discrete-Log Clock (Nguyen 2026): zero-excluded a·b mod 113 (a, b in 1..112), 30% train with a fixed "
        "split seed, config B model, AdamW lr 1e-3 wd 1 betas (0.9, 0.98), 40k full-batch steps.",
        "measured: T_mem 141, T_grok 11,144, ~12 min with --threads 2 (the paper trains 40,000 epochs)",
        {"name": "dlc",
         "task": {"name": "modular", "op": "mul", "p": 113, "frac": 0.3, "exclude_zero": True, "split_seed": 598},
         "model": NANDA_MODEL,
         "optim": {"lr": 1e-3, "wd": 1.0, "beta1": 0.9, "beta2": 0.98},
         "train": {"steps": 40_000}},
    ),
    Preset(
        "parity",
        "Sparse parity (Barak et al. 2022): n=30 bits, k=3 relevant, 1,000 training strings; one-hot ReLU MLP "
        "width 256, AdamW lr 1e-3 wd 0.1.",
        "measured: memorises by ~215-270 steps, groks at ~3,150 steps; ~55 s",
        {"name": "parity",
         "task": {"name": "parity", "n": 30, "k": 3, "m": 1000, "n_test": 1000},
         "model": {"name": "onehot_mlp", "d_hidden": 256, "act": "relu"},
         "optim": {"lr": 1e-3, "wd": 0.1},
         "train": {"steps": 10_000},
         "members": {"seeds": 2}},
    ),
    Preset(
        "teacher-escape",
        "Paper 3's trapping protocol [reconstructed, papers/01 §3.3]: a depth-3 deep linear net with a width-1 "
        "bottleneck on a rank-1 linear teacher (s = 1, d = 4, 64 whitened training inputs), MSE, SGD lr 0.1 with L2 "
        "γ = wd/2 = 0.2 < γ_c = 0.397 (the on state is the global minimum), tiny init (the off basin), Langevin "
        "noise T = 0.0027 (ΔE/T = 3, ΔE = 0.00807: `grokscope analyze barrier`); 8 seeds packed; the escape is the "
        "jump of mode/0 from 0 to b*³ = 0.78 (T_grok: test relative error <= 0.25).",
        "measured: escape (T_grok = T_mem: train and test error fall together from 1 to ~0.05) at 832-4,505 steps "
        "across the 8 seeds (median ~1,030), ~25 s on one thread; with intervene.langevin_T=0 (full-batch GD) none "
        "escapes",
        {"name": "teacher-escape",
         "task": {"name": "teacher", "d_in": 4, "d_out": 4, "spectrum": [1.0], "n_train": 64, "n_test": 256},
         "model": {"name": "deeplinear", "depth": 3, "width": 1},
         "loss": {"name": "mse"},
         "optim": {"name": "sgd", "lr": 0.1, "wd": 0.4},
         "train": {"steps": 20_000, "stop_on_grok": 1.2},
         "eval": {"points": 300, "probes": ["accuracy", "norms", "modes"], "grok_threshold": 0.75,
                  "mem_threshold": 0.75},
         "intervene": {"init_scale": 0.1, "langevin_T": 0.0027},
         "members": {"seeds": 8}},
    ),
    Preset(
        "tian-x2",
        "Tian's two-layer net as run by Xu 2026 (papers/03 §14): Ŷ = σ(XW)V, no biases, σ = x², K = 2048, on two "
        "concatenated one-hots of (a+b) mod 71, 40% train, MSE of the class-centred output on the zero-mean one-hot "
        "target, Adam lr 1e-3 with coupled L2 decay 2e-4 (torch.optim.Adam's weight_decay, not AdamW), full batch, "
        "400 epochs, metrics before every step; checkpoints at the Theorem-6 epochs; torch.nn.Linear's init variance "
        "[reconstructed].",
        "measured (seed 0, η = 2e-4): train acc 1.0 by epoch 20, test acc 0.5 at ~epoch 100 (paper: 25 and 102); "
        "η = 0 stays at test acc ~0.02; ~2 s/epoch per member on a loaded 2-core machine",
        {"name": "tian-x2",
         "task": {"name": "modular", "op": "add", "p": 71, "frac": 0.4},
         "model": {"name": "onehot_mlp", "d_hidden": 2048, "act": "quadratic", "init": "torch"},
         "loss": {"name": "mse_centered"},
         "optim": {"name": "adam", "lr": 1e-3, "wd": 2e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "decay": "all"},
         "train": {"steps": 400},
         "eval": {"grid": "linear", "every": 1,
                  "probes": ["accuracy", "norms", "update_gram", "tian_early"]},
         "checkpoint": {"count": 0, "at": [50, 100, 175, 250, 300]}},
    ),
]

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}
