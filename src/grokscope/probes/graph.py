"""Fiedler value of the neuron graph (papers/03 §11, written from public maths, not from the paper's repository).

Nodes: every unit of the model's layer chain (``roles.layers``: weight matrices ``[in, out]``, input to output,
each ``out`` equal to the next ``in``); edge weights |w_ij| between units of adjacent layers; biases ignored.
L = D − A (unnormalised combinatorial Laplacian); the Fiedler value λ₂ is its second-smallest eigenvalue.

- ``graph/fiedler``: λ₂(D − A);
- ``graph/fiedler_norm``: λ₂ of the normalised Laplacian I − D^{-1/2} A D^{-1/2} (scale-free);
- ``graph/fiedler_deg``: λ₂(D − A) / mean degree, a degree-scaled norm control (weight decay shrinks every |w|,
  which shrinks λ₂ in proportion; this variant removes that overall scale).
Probes: ``graph`` writes all three; ``fiedler`` only the first and the last (one eigen-decomposition).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe


def chain_adjacency(weights: list[Tensor]) -> Tensor:
    """``weights``: ``[M, n_l, n_{l+1}]`` each -> dense |W| adjacency ``[M, n, n]`` (n = Σ n_l, float64)."""
    sizes = [weights[0].shape[1]] + [w.shape[2] for w in weights]
    for a, b in zip(weights, weights[1:]):
        if a.shape[2] != b.shape[1]:
            raise ValueError(f"layer chain mismatch: {tuple(a.shape[1:])} then {tuple(b.shape[1:])}")
    n, M = sum(sizes), weights[0].shape[0]
    A = torch.zeros(M, n, n, dtype=torch.float64, device=weights[0].device)
    off = 0
    for w, n_in in zip(weights, sizes):
        w = w.detach().double().abs()
        A[:, off:off + n_in, off + n_in:off + n_in + w.shape[2]] = w
        off += n_in
    return A + A.transpose(1, 2)


def laplacian(A: Tensor, normalized: bool = False) -> Tensor:
    """``A [M, n, n]`` -> D − A, or I − D^{-1/2} A D^{-1/2} (isolated nodes get D^{-1/2} = 0)."""
    deg = A.sum(-1)
    if not normalized:
        return torch.diag_embed(deg) - A
    inv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    return torch.eye(A.shape[-1], dtype=A.dtype, device=A.device) - inv[..., None] * A * inv[:, None, :]


def fiedler_value(L: Tensor) -> Tensor:
    """Second-smallest eigenvalue of a symmetric Laplacian ``[M, n, n]`` -> ``[M]``."""
    return torch.linalg.eigvalsh(L)[:, 1]


def graph_stats(weights: list[Tensor]) -> dict[str, Tensor]:
    A = chain_adjacency(weights)
    lam2 = fiedler_value(laplacian(A))
    return {"fiedler": lam2, "fiedler_norm": fiedler_value(laplacian(A, normalized=True)),
            "fiedler_deg": lam2 / A.sum(-1).mean(-1)}


def _unsupported(roles) -> str | None:
    return None if len(roles.layers) >= 1 else "the model declares no layer chain"


@probe("graph", uses_labels=False, cost="heavy", unsupported=_unsupported)
def graph(ctx: EvalContext) -> dict[str, Tensor]:
    stats = graph_stats([ctx.params[n] for n in ctx.roles.layers])
    return {f"graph/{k}": v for k, v in stats.items()}


@probe("fiedler", uses_labels=False, cost="heavy", unsupported=_unsupported)
def fiedler(ctx: EvalContext) -> dict[str, Tensor]:
    """``graph/fiedler`` and ``graph/fiedler_deg`` only: one eigen-decomposition per member instead of two (the
    normalised Laplacian's is skipped), for runs that measure λ₂ at a fine cadence (papers/03 §11)."""
    A = chain_adjacency([ctx.params[n] for n in ctx.roles.layers])
    lam2 = fiedler_value(laplacian(A))
    return {"graph/fiedler": lam2, "graph/fiedler_deg": lam2 / A.sum(-1).mean(-1)}
