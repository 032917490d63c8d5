"""A fused forward/backward for a bias-free two-layer net on concatenated one-hots: out = σ(Σ_k W[idx_k]) V.

The autograd graph of the plain form keeps a [M, B, K, H] row gather, its sum, the activation and their backward
buffers; this function keeps only the pre-activation. Forward: pre = Σ_k W[m, idx_k] (row gathers), F = σ(pre),
out = F @ V (one bmm). Backward: dV = Fᵀ dOut, dF = dOut Vᵀ (two bmms), dpre = dF·σ'(pre), and dW = Σ_k rows of
dpre added at idx_k (``index_add_``). σ is x² (σ' = 2x, computed as (dF·x)·2, as autograd's x·x gives) or ReLU
(σ' = 1[x > 0], as torch.relu's backward). Duplicate rows of dW are summed in another order than the embedding
backward, so the first layer's gradient agrees with the plain form to rounding, not bit for bit.

Blocked form (on CPU, ``M·B·H > BLOCK_ABOVE`` elements). On a wide net the [M, B, H] intermediates are streamed through
memory several times per step, and a step becomes bound by memory bandwidth, not by the three matmuls (Tian's
K = 2048 net at p = 71, M = 10, one core of the 2-core dev machine: 2.9 s per x² step batched, 1.15 s blocked,
0.70 s for the three matmuls alone; ``benchmarks/bench_onehot_kernel.py``). So the blocked form runs member by
member over blocks of ``BLOCK_ELEMS // H`` rows, small enough to stay in cache, and keeps nothing of size B·H for
the backward pass: it re-gathers the pre-activation of each block there (far cheaper than a trip through memory).
Per block the arithmetic is the same as the batched form; dV is summed over blocks (a different summation order
of the same terms, so it agrees with the batched form to rounding), dW's row additions happen in the same order
within each member.
"""

from __future__ import annotations

import torch
from torch import Tensor

FUSED_ACTS = ("quadratic", "relu")
BLOCK_ABOVE = 1 << 22  # M·B·H elements (16 MiB in float32) above which the blocked form runs
BLOCK_ELEMS = 192 * 2048  # elements of one block's pre-activation (~1.5 MiB in float32: fits in L2/L3)
PAD_TO = 8  # the blocked form pads the class axis of its matmuls to a multiple of this


def _rows(M: int, R: int, idx: Tensor) -> Tensor:
    """Flat row numbers into a ``[M·R, H]`` view: ``idx [M|1, B, K]`` -> ``[M, B, K]``."""
    offs = (torch.arange(M, device=idx.device) * R).view(M, 1, 1)
    return (idx + offs).expand(M, *idx.shape[1:])


def _act(name: str, pre: Tensor) -> Tensor:
    return pre * pre if name == "quadratic" else torch.relu(pre)


def _dpre(name: str, dF: Tensor, pre: Tensor) -> Tensor:
    """dL/dpre from dL/dF (σ' as torch's own backward of x·x and relu computes it)."""
    return (dF * pre) * 2 if name == "quadratic" else dF * (pre > 0).to(dF.dtype)


def _gather(flat: Tensor, rows: Tensor) -> Tensor:
    """Σ_k flat[rows[..., k]]: ``rows [..., K]`` -> ``[prod(...), H]``."""
    pre = flat.index_select(0, rows[..., 0].reshape(-1))
    for k in range(1, rows.shape[-1]):
        pre = pre + flat.index_select(0, rows[..., k].reshape(-1))
    return pre


def _blocks(B: int, H: int) -> list[slice]:
    n = max(1, BLOCK_ELEMS // max(H, 1))
    return [slice(s, min(s + n, B)) for s in range(0, B, n)]


def _pad_classes(x: Tensor) -> Tensor:
    """Zero-pad the last (class) axis to a multiple of ``PAD_TO``: MKL's single-core sgemm runs ~1.5x faster
    with C = 72 columns than with Tian's C = 71 (measured on the 2-core dev machine); the padded columns are exact
    zeros and are cut off again, so they change nothing but the summation order over C in ``dF = dOut Vᵀ``."""
    C = x.shape[-1]
    Cp = -(-C // PAD_TO) * PAD_TO
    if Cp == C:
        return x
    out = x.new_zeros(*x.shape[:-1], Cp)
    out[..., :C] = x
    return out


def _forward_blocked(flat: Tensor, V: Tensor, rows: Tensor, act: str) -> Tensor:
    M, B, H, C = rows.shape[0], rows.shape[1], V.shape[1], V.shape[2]
    Vp = _pad_classes(V)  # [M, H, Cp]
    out = torch.empty(M, B, Vp.shape[2], dtype=V.dtype, device=V.device)
    for m in range(M):
        for blk in _blocks(B, H):
            torch.mm(_act(act, _gather(flat, rows[m, blk])), Vp[m], out=out[m, blk])
    return out[..., :C].contiguous()


def _backward_blocked(flat: Tensor, V: Tensor, rows: Tensor, act: str, d_out: Tensor) -> tuple[Tensor, Tensor]:
    M, B, H, C = rows.shape[0], rows.shape[1], V.shape[1], V.shape[2]
    Vp, d_outp = _pad_classes(V), _pad_classes(d_out)  # [M, H, Cp], [M, B, Cp]
    dW = torch.zeros_like(flat)
    dVp = torch.zeros_like(Vp)
    for m in range(M):
        for blk in _blocks(B, H):
            r, do = rows[m, blk], d_outp[m, blk]
            pre = _gather(flat, r)
            dVp[m].addmm_(_act(act, pre).T, do)
            dF = torch.mm(do, Vp[m].T)  # a fresh block: σ' is applied in place (same values as ``_dpre``)
            dpre = dF.mul_(pre).mul_(2) if act == "quadratic" else dF.masked_fill_(pre <= 0, 0.0)
            for k in range(r.shape[-1]):
                dW.index_add_(0, r[:, k], dpre)
    return dW, dVp[..., :C].contiguous()


class _OneHotTwoLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, W: Tensor, V: Tensor, rows: Tensor, act: str) -> Tensor:  # type: ignore[override]
        M, R, H = W.shape
        flat = W.reshape(M * R, H)
        B = rows.shape[1]
        ctx.act, ctx.shape = act, W.shape
        # blocked only on CPU: on a GPU the per-member loop would launch many small kernels for no gain
        ctx.blocked = W.device.type == "cpu" and M * B * H > BLOCK_ABOVE
        if ctx.blocked:  # keep W, not the pre-activation: the backward re-gathers it block by block
            ctx.save_for_backward(W, V, rows)
            return _forward_blocked(flat, V, rows, act)
        pre = _gather(flat, rows).view(M, B, H)
        ctx.save_for_backward(V, rows, pre)
        return torch.bmm(_act(act, pre), V)

    @staticmethod
    def backward(ctx, d_out: Tensor):  # type: ignore[override]
        M, R, H = ctx.shape
        if ctx.blocked:
            W, V, rows = ctx.saved_tensors
            dW, dV = _backward_blocked(W.reshape(M * R, H), V, rows, ctx.act, d_out.contiguous())
            return dW.view(M, R, H), dV, None, None
        V, rows, pre = ctx.saved_tensors
        dV = torch.bmm(_act(ctx.act, pre).transpose(1, 2), d_out)
        dpre = _dpre(ctx.act, torch.bmm(d_out, V.transpose(1, 2)), pre)
        dW = torch.zeros(M * R, H, dtype=pre.dtype, device=pre.device)
        flat_dpre = dpre.reshape(-1, H)
        for k in range(rows.shape[2]):
            dW.index_add_(0, rows[..., k].reshape(-1), flat_dpre)
        return dW.view(M, R, H), dV, None, None


def onehot_two_layer(W: Tensor, V: Tensor, idx: Tensor, act: str) -> Tensor:
    """``W [M, R, H]`` first layer (rows = one-hot slots), ``V [M, H, C]``, ``idx int64 [M|1, B, K]`` row numbers
    (slot k's token row), ``act`` in ``FUSED_ACTS`` -> ``[M, B, C]``."""
    return _OneHotTwoLayer.apply(W, V, _rows(W.shape[0], W.shape[1], idx), act)
