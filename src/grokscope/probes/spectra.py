"""Spectral shape of each weight matrix: stable rank and effective rank.

- stable rank ‖W‖_F² / σ_max² (Rudelson & Vershynin), in [1, rank];
- effective rank exp(−Σ p_i ln p_i), p_i = σ_i / Σ σ (Roy & Vetterli 2007), in [1, rank].

Per matrix ``spectra/stable_rank/<name>`` and ``spectra/erank/<name>`` over the weight matrices of the model's
groups, plus their means ``spectra/stable_rank`` and ``spectra/erank``. Runs every 4th evaluation (it is in the
``default`` set).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe


def stable_rank(s: Tensor) -> Tensor:
    """Singular values ``s [M, r]`` (descending) -> ``[M]``."""
    return s.square().sum(-1) / s[:, 0].square().clamp_min(1e-300)


def effective_rank(s: Tensor) -> Tensor:
    """Singular values ``s [M, r]`` -> exp(entropy of s/Σs) ``[M]``."""
    p = s / s.sum(-1, keepdim=True).clamp_min(1e-300)
    return torch.exp(-(p * p.clamp_min(1e-300).log()).sum(-1))


@probe("spectra", uses_labels=False, cost="heavy", every=4)
def spectra(ctx: EvalContext) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    names = [n for g in ctx.groups.values() for n in g if ctx.params[n].dim() == 3]
    for name in names:
        s = torch.linalg.svdvals(ctx.params[name].detach().double())
        out[f"spectra/stable_rank/{name}"] = stable_rank(s)
        out[f"spectra/erank/{name}"] = effective_rank(s)
    if names:
        out["spectra/stable_rank"] = torch.stack([out[f"spectra/stable_rank/{n}"] for n in names]).mean(0)
        out["spectra/erank"] = torch.stack([out[f"spectra/erank/{n}"] for n in names]).mean(0)
    return out
