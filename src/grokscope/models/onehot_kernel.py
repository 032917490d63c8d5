"""A fused forward/backward for a bias-free two-layer net on concatenated one-hots: out = σ(Σ_k W[idx_k]) V.

The autograd graph of the plain form keeps a [M, B, K, H] row gather, its sum, the activation and their backward
buffers; this function keeps only the pre-activation. Forward: pre = Σ_k W[m, idx_k] (row gathers), F = σ(pre),
out = F @ V (one bmm). Backward: dV = Fᵀ dOut, dF = dOut Vᵀ (two bmms), dpre = dF·σ'(pre), and dW = Σ_k rows of
dpre added at idx_k (``index_add_``). σ is x² (σ' = 2x, computed as (dF·x)·2, as autograd's x·x gives) or ReLU
(σ' = 1[x > 0], as torch.relu's backward). Duplicate rows of dW are summed in another order than the embedding
backward, so the first layer's gradient agrees with the plain form to rounding, not bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

FUSED_ACTS = ("quadratic", "relu")


def _rows(M: int, R: int, idx: Tensor) -> Tensor:
    """Flat row numbers into a ``[M·R, H]`` view: ``idx [M|1, B, K]`` -> ``[M, B, K]``."""
    offs = (torch.arange(M, device=idx.device) * R).view(M, 1, 1)
    return (idx + offs).expand(M, *idx.shape[1:])


def _act(name: str, pre: Tensor) -> Tensor:
    return pre * pre if name == "quadratic" else torch.relu(pre)


class _OneHotTwoLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, W: Tensor, V: Tensor, rows: Tensor, act: str) -> Tensor:  # type: ignore[override]
        M, R, H = W.shape
        flat = W.reshape(M * R, H)
        B, K = rows.shape[1], rows.shape[2]
        pre = flat.index_select(0, rows[..., 0].reshape(-1))
        for k in range(1, K):
            pre = pre + flat.index_select(0, rows[..., k].reshape(-1))
        pre = pre.view(M, B, H)
        F = _act(act, pre)
        ctx.save_for_backward(V, rows, pre)
        ctx.act, ctx.shape = act, W.shape
        return torch.bmm(F, V)

    @staticmethod
    def backward(ctx, d_out: Tensor):  # type: ignore[override]
        V, rows, pre = ctx.saved_tensors
        M, R, H = ctx.shape
        F = _act(ctx.act, pre)
        dV = torch.bmm(F.transpose(1, 2), d_out)
        dF = torch.bmm(d_out, V.transpose(1, 2))
        if ctx.act == "quadratic":
            dpre = (dF * pre) * 2
        else:
            dpre = dF * (pre > 0).to(dF.dtype)
        dW = torch.zeros(M * R, H, dtype=pre.dtype, device=pre.device)
        flat_dpre = dpre.reshape(-1, H)
        for k in range(rows.shape[2]):
            dW.index_add_(0, rows[..., k].reshape(-1), flat_dpre)
        return dW.view(M, R, H), dV, None, None


def onehot_two_layer(W: Tensor, V: Tensor, idx: Tensor, act: str) -> Tensor:
    """``W [M, R, H]`` first layer (rows = one-hot slots), ``V [M, H, C]``, ``idx int64 [M|1, B, K]`` row numbers
    (slot k's token row), ``act`` in ``FUSED_ACTS`` -> ``[M, B, C]``."""
    return _OneHotTwoLayer.apply(W, V, _rows(W.shape[0], W.shape[1], idx), act)
