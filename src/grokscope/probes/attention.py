"""Cheap attention diagnostics (Verma 2026, grokking-diagnostics ``grokking_diag/metrics.py``; papers/02 §9).

Per layer l, with attention probabilities ``A [B, H, Tq, Tk]`` over every query position:

- ``attention/entropy_std``: mean over layers of the population std (ddof 0) over heads of
  e_{l,h} = mean over (b, i) of −Σ_j A log(A + 1e−12); also ``entropy_mean`` and ``entropy_range`` (max − min);
- ``attention/mean_similarity``: each head's pattern flattened over (B, Tq, Tk), rows L2-normalised (eps 1e−12),
  S = Â Âᵀ [H, H]; mean of the off-diagonal entries, averaged over layers;
- ``attention/spectral_gap``: λ₁(S) − λ₂(S), averaged over layers;
- ``attention/pr_norm``: (Σ a_i)² / (H Σ a_i²) = 1/(1 + CV²(a)) over the eigenvalues a_i of S. Which matrix the
  paper takes its eigenvalues from is reconstructed (02 §9 item 3: "head-output Gram"); the head-similarity
  Gram S is our choice, stated here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe

EPS = 1e-12


def head_entropies(A: Tensor) -> Tensor:
    """``A [M, B, H, Tq, Tk]`` -> per-head mean entropy ``[M, H]`` (nats)."""
    A = A.double()
    return (-(A * (A + EPS).log()).sum(-1)).mean((1, 3))


def head_similarity(A: Tensor) -> Tensor:
    """``A [M, B, H, Tq, Tk]`` -> cosine-similarity Gram of the heads' flattened patterns ``[M, H, H]``."""
    M, B, H = A.shape[:3]
    flat = A.double().transpose(1, 2).reshape(M, H, -1)
    flat = flat / (flat.norm(dim=-1, keepdim=True) + EPS)
    return flat @ flat.transpose(1, 2)


def pr_norm(values: Tensor) -> Tensor:
    """Normalised participation ratio ``values [M, H]`` -> ``[M]``: (Σa)²/(H Σa²) = 1/(1 + CV²(a))."""
    return values.sum(-1).square() / (values.shape[-1] * values.square().sum(-1))


def layer_stats(A: Tensor) -> dict[str, Tensor]:
    """All statistics of one layer's pattern ``A [M, B, H, Tq, Tk]``, each ``[M]``."""
    e = head_entropies(A)
    S = head_similarity(A)
    H = S.shape[-1]
    off = (S.sum((1, 2)) - S.diagonal(dim1=1, dim2=2).sum(-1)) / max(H * (H - 1), 1)
    eig = torch.linalg.eigvalsh(S).flip(-1)  # descending
    gap = eig[:, 0] - eig[:, 1] if H > 1 else torch.zeros_like(off)
    return {"entropy_std": e.std(-1, unbiased=False), "entropy_mean": e.mean(-1),
            "entropy_range": e.max(-1).values - e.min(-1).values, "mean_similarity": off,
            "spectral_gap": gap, "pr_norm": pr_norm(eig)}


def attention_stats(patterns: list[Tensor]) -> dict[str, Tensor]:
    """Layer-averaged statistics over a list of patterns ``[M, B, H, Tq, Tk]`` (one per layer)."""
    per_layer = [layer_stats(A) for A in patterns]
    return {k: torch.stack([s[k] for s in per_layer]).mean(0) for k in per_layer[0]}


def _hooks(roles) -> list[str]:
    return [f"{a}.hook_pattern" for a in roles.attention]


def _unsupported(roles) -> str | None:
    return None if roles.attention else "the model has no attention layers"


@probe("attention", hooks=_hooks, uses_labels=False, cost="forward", all_queries=True, unsupported=_unsupported)
def attention(ctx: EvalContext) -> dict[str, Tensor]:
    stats = attention_stats([ctx.cache[h] for h in _hooks(ctx.roles)])
    return {f"attention/{k}": v for k, v in stats.items()}
