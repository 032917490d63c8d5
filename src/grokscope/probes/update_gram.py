"""Spectral lock-in and feature repulsion in two-layer nets (Xu 2026 on Tian's Li₂ framework; papers/03 §14).

- ``update_gram/s2_s3`` (and ``s1_s2``): eigenvalues σ₁ ≥ σ₂ ≥ σ₃ of the W×W Gram ΔᵀΔ of the last W flattened
  first-layer updates Δ = [ΔW_{t−W+1}, …, ΔW_t] (a step hook sees every update; W = ``WINDOW`` = 20 as in the
  paper). NaN until three updates were seen. The first layer is ``roles.layers[0]``.
- ``update_gram/sign_match`` (two-layer nets only, i.e. a layer chain of two matrices and one hidden hook): Tian's
  Theorem 6 sign rule for the repulsion matrix B = (F̃ᵀF̃ + ηI)⁻¹, η = weight decay, F̃ the sample-centred hidden
  features on the training set: the fraction of the ``TOP_PAIRS`` most similar feature pairs (by |cos|) with
  sgn(B_jl) = −sgn(f̃_jᵀ P_η f̃_l), P_η = I − F̃ B F̃ᵀ (the full P_η approximates P_{η,−jl}, as in the paper).
  Computed as F̃ᵀP_ηF̃ = G − G B G with G = F̃ᵀF̃, so nothing n×n is formed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import EvalContext, probe

WINDOW = 20
TOP_PAIRS = 200


def gram_eigs(deltas: Tensor) -> Tensor:
    """``deltas [M, W, P]`` (W updates) -> eigenvalues of the W×W Gram, descending ``[M, W]`` (float64)."""
    D = deltas.double()
    return torch.linalg.eigvalsh(D @ D.transpose(1, 2)).flip(-1)


def sign_match(F: Tensor, eta: Tensor, top: int = TOP_PAIRS) -> Tensor:
    """Repulsion sign-match: ``F [M, n, K]`` hidden features, ``eta [M]`` weight decay -> ``[M]`` fraction."""
    Ft = F.double() - F.double().mean(1, keepdim=True)
    M, _, K = Ft.shape
    G = Ft.transpose(1, 2) @ Ft  # [M, K, K]
    eye = torch.eye(K, dtype=G.dtype, device=G.device)
    B = torch.linalg.inv(G + eta.double().clamp_min(1e-8)[:, None, None] * eye)
    T = G - G @ B @ G  # F̃ᵀ P_η F̃
    norms = G.diagonal(dim1=1, dim2=2).clamp_min(1e-300).sqrt()
    cos = (G / (norms[:, :, None] * norms[:, None, :])).abs()
    iu = torch.triu_indices(K, K, 1, device=G.device)
    c, b, t = cos[:, iu[0], iu[1]], B[:, iu[0], iu[1]], T[:, iu[0], iu[1]]
    k = min(top, c.shape[1])
    idx = c.topk(k, dim=1).indices
    agree = torch.sign(b.gather(1, idx)) == -torch.sign(t.gather(1, idx))
    return agree.double().mean(1)


def _two_layer(roles) -> bool:
    return len(roles.layers) == 2 and len(roles.hidden) == 1


def _hooks(roles) -> list[str]:
    return list(roles.hidden[:1]) if _two_layer(roles) else []


def _unsupported(roles) -> str | None:
    return None if roles.layers else "the model declares no layer chain"


class UpdateGram:
    """Ring buffer of the last ``WINDOW`` first-layer updates ``[W, M, P]`` (state, so resume is exact)."""

    def __init__(self) -> None:
        self.layer: str | None = None
        self.buf: Tensor | None = None
        self.count = 0

    def after_step(self, t: int, params: dict, grads: dict, delta: dict) -> None:
        if self.layer is None or self.layer not in delta:
            return
        d = delta[self.layer].detach().reshape(delta[self.layer].shape[0], -1)
        if self.buf is None:
            self.buf = torch.zeros(WINDOW, *d.shape, dtype=d.dtype, device=d.device)
        self.buf[self.count % WINDOW] = d
        self.count += 1

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        self.layer = self.layer or ctx.roles.layers[0]
        M = ctx.logits.shape[0]
        nan = torch.full((M,), math.nan, dtype=torch.float64)
        out = {"update_gram/s1_s2": nan, "update_gram/s2_s3": nan}
        n = min(self.count, WINDOW)
        if self.buf is not None and n >= 3:
            s = gram_eigs(self.buf[:n].transpose(0, 1))
            out = {"update_gram/s1_s2": s[:, 0] / s[:, 1], "update_gram/s2_s3": s[:, 1] / s[:, 2]}
        if _two_layer(ctx.roles):
            F = ctx.at(ctx.cache[ctx.roles.hidden[0]], ctx.train_idx)
            wd = ctx.wd if ctx.wd is not None else torch.zeros(M)
            out["update_gram/sign_match"] = sign_match(F, wd)
        return out

    def state_dict(self) -> dict:
        return {"layer": self.layer, "buf": self.buf, "count": self.count}

    def load_state_dict(self, sd: dict) -> None:
        self.layer, self.buf, self.count = sd["layer"], sd["buf"], sd["count"]


probe("update_gram", hooks=_hooks, uses_labels=False, cost="heavy", unsupported=_unsupported)(UpdateGram)
