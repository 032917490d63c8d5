"""Feature repulsion in a two-layer net: Tian's Theorem 6 (Tian 2025, arXiv:2509.21519) as measured by Xu 2026
(papers/03 §14, "Repulsion matrix").

F̃ = P₁^⊥F is the sample-centred hidden feature matrix on the training set (n×K, column j = feature f̃_j), η the
weight decay and B = (F̃ᵀF̃ + ηI)⁻¹, computed by Woodbury in float64 with an n×n solve (§14):

    B = (1/η)·[I − F̃ᵀ(F̃F̃ᵀ + ηI)⁻¹F̃]   (= (1/η)I − (1/η²)F̃ᵀ(I + F̃F̃ᵀ/η)⁻¹F̃).

(papers/03 §14 writes (1/η)I − (1/η²)F̃ᵀ(F̃F̃ᵀ + ηI)⁻¹F̃, which is off by a factor η in the second term; the
test against a direct inverse pins the form used here.)

The sign rule: sgn(B_jl) = −sgn(f̃_jᵀ P_{η,−jl} f̃_l), P_{η,−jl} the regularised projection off the other features;
the paper measures it with the full P_η = I − F̃BF̃ᵀ over the ``TOP_PAIRS`` = 200 most similar pairs (by |cos| of
the columns of F̃, upper triangle). Metrics (``repulsion/...``):

- ``sign_match``: that fraction, P_η applied as written (f̃_l − F̃(B(F̃ᵀf̃_l))), float64.
- ``sign_match_l2o``: the same with the exact leave-two-out projection P_{η,−jl} (from the 2×2 block of B).
- ``sim_sign_match``: the fraction of the pairs with sgn(B_jl) = −sgn(cos_jl): similar features repel.
- ``b_neg_pos``: the fraction with B_jl < 0 among the pairs with positive similarity (§14: 0.83 → 0.99).

Note, shown in docs/experiments/two-layer.md: with the full P_η the rule is an algebraic identity. Woodbury gives
P_η = η(F̃F̃ᵀ + ηI)⁻¹, hence f̃_jᵀP_ηf̃_l = −η²·B_jl for j ≠ l; and the 2×2 Schur complement gives the leave-two-out
rule exactly too. So ``sign_match`` and ``sign_match_l2o`` are 1 up to rounding: they test the numerics, not the
network. The statements about the network are ``sim_sign_match`` and ``b_neg_pos``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import EvalContext, probe

TOP_PAIRS = 200
METRICS = ("sign_match", "sign_match_l2o", "sim_sign_match", "b_neg_pos")


def centred_features(F: Tensor) -> Tensor:
    """F̃ = P₁^⊥F: ``F [n, K]`` -> columns centred over the samples, float64."""
    F = F.double()
    return F - F.mean(0, keepdim=True)


def woodbury_inverse(Ft: Tensor, eta: float) -> Tensor:
    """B = (F̃ᵀF̃ + ηI)⁻¹ ``[K, K]`` by Woodbury with an n×n solve (papers/03 §14), in F̃'s dtype (float64)."""
    n, K = Ft.shape
    A = Ft @ Ft.T + eta * torch.eye(n, dtype=Ft.dtype, device=Ft.device)
    inner = torch.linalg.solve(A, Ft)  # (F̃F̃ᵀ + ηI)⁻¹F̃  [n, K]
    return (torch.eye(K, dtype=Ft.dtype, device=Ft.device) - Ft.T @ inner) / eta


def top_pairs(Ft: Tensor, top: int = TOP_PAIRS) -> tuple[Tensor, Tensor, Tensor]:
    """The ``top`` most similar feature pairs j < l by |cos(f̃_j, f̃_l)|: (j, l, cos) each ``[top]``. The K×K
    cosines for the ranking are taken in float32 (a ranking); the returned cosines are recomputed in float64."""
    F32 = Ft.float()
    G = F32.T @ F32
    norms = G.diagonal().clamp_min(1e-30).sqrt()
    cos = G / (norms[:, None] * norms[None, :])
    K = G.shape[0]
    iu = torch.triu_indices(K, K, 1, device=G.device)
    c = cos[iu[0], iu[1]]
    idx = c.abs().topk(min(top, c.numel())).indices
    j, l = iu[0][idx], iu[1][idx]
    fj, fl = Ft[:, j], Ft[:, l]
    return j, l, (fj * fl).sum(0) / (fj.norm(dim=0) * fl.norm(dim=0)).clamp_min(1e-300)


def repulsion_stats(F: Tensor, eta: float, top: int = TOP_PAIRS) -> dict[str, float]:
    """The four ``METRICS`` for one network: ``F [n, K]`` hidden features on the training set, ``eta`` > 0.

    Only the entries of B the pairs need are formed: with A = F̃F̃ᵀ + ηI (n×n, float64, Cholesky), B restricted to
    the pairs' columns S is (I − F̃_Sᵀ A⁻¹ F̃_S)/η, and B applied to a vector y is (y − F̃ᵀA⁻¹F̃y)/η; the full K×K B
    (``woodbury_inverse``) gives the same numbers and costs more."""
    if not eta > 0:  # B = (F̃ᵀF̃)⁻¹ does not exist when K > n − 1 (F̃ has rank <= n − 1)
        return {k: math.nan for k in METRICS}
    Ft = centred_features(F)
    j, l, cos = top_pairs(Ft, top)
    n = Ft.shape[0]
    L = torch.linalg.cholesky(Ft @ Ft.T + eta * torch.eye(n, dtype=Ft.dtype, device=Ft.device))
    S, inv = torch.unique(torch.cat([j, l]), return_inverse=True)
    js, ls = inv[: len(j)], inv[len(j):]
    FS = Ft[:, S]
    BS = (torch.eye(len(S), dtype=Ft.dtype, device=Ft.device) - FS.T @ torch.cholesky_solve(FS, L)) / eta
    b = BS[js, ls]
    # P_η f̃_l as written, P_η = I − F̃BF̃ᵀ, with B applied to y = F̃ᵀf̃_l by Woodbury
    Y = Ft.T @ FS  # [K, |S|]
    BY = (Y - Ft.T @ torch.cholesky_solve(Ft @ Y, L)) / eta
    PF = FS - Ft @ BY  # P_η f̃_s for every s in S
    t_full = (FS[:, js] * PF[:, ls]).sum(0)
    # exact leave-two-out: the 2×2 block of B is S⁻¹, S = [f̃_j f̃_l]ᵀP_{η,−jl}[f̃_j f̃_l] + ηI (Schur complement), so
    # f̃_jᵀP_{η,−jl}f̃_l = S_12 = −B_jl / det(B_[jl]) (inverse of a 2×2 matrix)
    det = BS[js, js] * BS[ls, ls] - b * b
    t_l2o = -b / det
    pos = cos > 0
    return {"sign_match": float((torch.sign(b) == -torch.sign(t_full)).double().mean()),
            "sign_match_l2o": float((torch.sign(b) == -torch.sign(t_l2o)).double().mean()),
            "sim_sign_match": float((torch.sign(b) == -torch.sign(cos)).double().mean()),
            "b_neg_pos": float((b[pos] < 0).double().mean()) if bool(pos.any()) else math.nan}


def _hooks(roles) -> list[str]:
    return list(roles.hidden[:1]) if len(roles.layers) == 2 and len(roles.hidden) == 1 else []


def _unsupported(roles) -> str | None:
    ok = len(roles.layers) == 2 and len(roles.hidden) == 1
    return None if ok else "Theorem 6 is about two-layer nets (a layer chain of two matrices, one hidden hook)"


@probe("repulsion", hooks=_hooks, uses_labels=False, cost="heavy", unsupported=_unsupported)
def repulsion(ctx: EvalContext) -> dict[str, Tensor]:
    """Per member: the ``METRICS`` on the training-set features, η = the member's weight decay (NaN where η = 0).
    Costs a K×K float64 inverse per member: run it at checkpoints (``grokscope analyze probes``)."""
    F = ctx.at(ctx.cache[ctx.roles.hidden[0]], ctx.train_idx)  # [M, n, K]
    M = F.shape[0]
    wd = ctx.wd if ctx.wd is not None else torch.zeros(M)
    rows = [repulsion_stats(F[m], float(wd[m])) for m in range(M)]
    return {f"repulsion/{k}": torch.tensor([r[k] for r in rows], dtype=torch.float64) for k in METRICS}
