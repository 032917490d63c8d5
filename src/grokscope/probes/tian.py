"""Tian's Li₂ interaction markers on the hidden features of a two-layer net (papers/03 §14, "Negative-result metric"
and "Other logged quantities").

- ``tian/rho``: ρ_tian = ‖K − (aI + b11ᵀ)‖_F / ‖K‖_F on the training set, where a + b and b are the empirical
  diagonal and off-diagonal means of K (so aI + b11ᵀ is the closest matrix of that form). K = FFᵀ (n×n), the raw
  Gram as the authors' code computes it (``RHO_CENTRED = False``); the paper's formula writes P₁^⊥FFᵀ
  (``RHO_CENTRED = True``). §14: fires (ρ ≥ 0.075) at epoch ~17 in grokking runs and in non-grokking cells too.

It costs an n×n×K product per member. ``tian`` runs at every evaluation; ``tian_early`` only at steps <=
``EARLY_UNTIL`` = 30 (ρ_tian is an initiation marker: §14 finds it crossing at epochs 11–25), which the two-layer
reproduction uses so that the marker does not cost more than the training.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe

RHO_CENTRED = False
RHO_THRESHOLD = 0.075  # §14
EARLY_UNTIL = 30


def rho_tian(F: Tensor, centred: bool = RHO_CENTRED) -> Tensor:
    """``F [M, n, K]`` -> ``[M]`` ρ_tian (float64 result; the n×n Gram in F's dtype)."""
    Kmat = F @ F.transpose(1, 2)
    if centred:
        Kmat = Kmat - Kmat.mean(1, keepdim=True)  # P₁^⊥ from the left: centre each column over the samples
    Kmat = Kmat.double()
    n = Kmat.shape[1]
    diag = Kmat.diagonal(dim1=1, dim2=2)
    d_mean = diag.mean(1)
    off_mean = (Kmat.sum((1, 2)) - diag.sum(1)) / (n * (n - 1))
    ideal = off_mean[:, None, None] + torch.diag_embed((d_mean - off_mean)[:, None].expand(-1, n))
    return torch.linalg.matrix_norm(Kmat - ideal) / torch.linalg.matrix_norm(Kmat).clamp_min(1e-300)


def _hooks(roles) -> list[str]:
    return list(roles.hidden[:1])


def _unsupported(roles) -> str | None:
    return None if len(roles.hidden) >= 1 else "the model declares no hidden layer"


def tian(ctx: EvalContext) -> dict[str, Tensor]:
    F = ctx.at(ctx.cache[ctx.roles.hidden[0]], ctx.train_idx)  # [M, n, K]
    return {"tian/rho": rho_tian(F)}


probe("tian", hooks=_hooks, uses_labels=False, cost="heavy", unsupported=_unsupported)(tian)
def tian_early(ctx: EvalContext) -> dict[str, Tensor]:
    return tian(ctx) if ctx.step <= EARLY_UNTIL else {}


probe("tian_early", hooks=_hooks, uses_labels=False, cost="heavy", unsupported=_unsupported)(tian_early)
