"""The transformer's reference forward: every position of every example, a hook at every named activation.

Written to be read (and checked against TransformerLens), not to be fast: the training loop uses the table-based
fast path of ``transformer.py``, which computes the same logits (tested to 1e-10 in float64). Weights are stored
as ``[M, d_in, d_out]``; the heads of ``W_Q/W_K/W_V`` are consecutive blocks of ``d_head`` output columns and
those of ``W_O`` consecutive blocks of ``d_head`` input rows. Every bias present is added, frozen ones included
(the fast path skips frozen biases, assuming them zero), so non-zero frozen biases a user loads show up here.

Hooks and shapes (member axis M, batch B, positions S, heads H, d_head dh; all positions in every layer):
  ``hook_embed``, ``hook_pos_embed``                          [M, B, S, d]
  ``blocks.{l}.hook_resid_pre``                               [M, B, S, d]
  ``blocks.{l}.ln1.hook_normalized``    (LayerNorm only)      [M, B, S, d]
  ``blocks.{l}.attn.hook_q``, ``hook_k``, ``hook_v``          [M, B, S, H, dh]
  ``blocks.{l}.attn.hook_attn_scores``  (-inf where masked)   [M, B, H, S, S]   (query, key)
  ``blocks.{l}.attn.hook_pattern``                            [M, B, H, S, S]   rows sum to 1
  ``blocks.{l}.attn.hook_z``                                  [M, B, S, H, dh]
  ``blocks.{l}.hook_attn_out``, ``blocks.{l}.hook_resid_mid`` [M, B, S, d]
  ``blocks.{l}.ln2.hook_normalized``    (LayerNorm only)      [M, B, S, d]
  ``blocks.{l}.mlp.hook_pre``, ``blocks.{l}.mlp.hook_post``   [M, B, S, d_mlp]
  ``blocks.{l}.hook_mlp_out``, ``blocks.{l}.hook_resid_post`` [M, B, S, d]
  ``ln_final.hook_normalized``          (LayerNorm only)      [M, B, S, d]
  ``hook_unembed_in``                                         [M, B, d]  the readout position, fed to W_U
LayerNorm hooks hold the output after the affine map, as in TransformerLens.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .base import activation, gather_rows
from .hooks import HookPoints

if TYPE_CHECKING:
    from .transformer import Transformer

LN_EPS = 1e-5  # F.layer_norm's default, which the fast path uses


def _vec(model: Transformer, name: str, n_lead: int) -> Tensor | float:
    """Per-member vector ``[M, n]`` (a bias, a LayerNorm w/b) viewed as ``[M, 1 x n_lead, n]`` to broadcast,
    or 0 where the model has no such parameter (bias="off")."""
    if name not in model.P:
        return 0.0
    b = model.P[name]
    return b.view(b.shape[0], *([1] * n_lead), b.shape[-1])


def _linear(model: Transformer, x: Tensor, W: str, b: str) -> Tensor:
    """``x [M, B, S, a] @ W [M, a, k] + b [M, k]`` -> ``[M, B, S, k]``."""
    return torch.einsum("mbsa,mak->mbsk", x, model.P[W]) + _vec(model, b, 2)


def _layer_norm(model: Transformer, name: str, x: Tensor) -> Tensor:
    """(x - mean) / sqrt(var + eps) * w + b over the last axis, with member m's w, b."""
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + LN_EPS) * _vec(model, f"{name}.w", 2) + _vec(model, f"{name}.b", 2)


def _attention(model: Transformer, l: int, h: Tensor, hook: HookPoints) -> Tensor:
    """Multi-head attention of block l on its input h [M, B, S, d] -> attn_out [M, B, S, d]."""
    a, cfg = f"blocks.{l}.attn", model.cfg
    M, B, S, d = h.shape
    H, dh = cfg.n_heads, model.dh
    q, k, v = (hook(f"{a}.hook_{w.lower()}", _linear(model, h, f"{a}.W_{w}", f"{a}.b_{w}").view(M, B, S, H, dh))
               for w in "QKV")
    scores = torch.einsum("mbqhe,mbkhe->mbhqk", q, k) / math.sqrt(dh)
    if cfg.causal:  # query i attends to keys j <= i
        future = torch.ones(S, S, dtype=torch.bool, device=h.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    scores = hook(f"{a}.hook_attn_scores", scores)
    pattern = hook(f"{a}.hook_pattern", scores.softmax(-1))
    z = hook(f"{a}.hook_z", torch.einsum("mbhqk,mbkhe->mbqhe", pattern, v))
    return _linear(model, z.reshape(M, B, S, d), f"{a}.W_O", f"{a}.b_O")


def _mlp(model: Transformer, l: int, h: Tensor, hook: HookPoints) -> Tensor:
    """The MLP of block l on its input h [M, B, S, d] -> mlp_out [M, B, S, d]."""
    p = f"blocks.{l}.mlp"
    pre = hook(f"{p}.hook_pre", _linear(model, h, f"{p}.W_in", f"{p}.b_in"))
    post = hook(f"{p}.hook_post", activation(model.cfg.act, pre))
    return _linear(model, post, f"{p}.W_out", f"{p}.b_out")


def _maybe_ln(model: Transformer, name: str, x: Tensor, hook: HookPoints) -> Tensor:
    return hook(f"{name}.hook_normalized", _layer_norm(model, name, x)) if model.cfg.layernorm else x


def reference_forward(model: Transformer, x: Tensor, hook: HookPoints) -> Tensor:
    """x: int64 [M|1, B, S] -> logits [M, B, C] at the last position, through every hook point."""
    S = x.shape[-1]
    embed = hook("hook_embed", gather_rows(model.P["W_E"], x))  # [M, B, S, d]
    pos = hook("hook_pos_embed", model.P["W_pos"][:, None, :S].expand_as(embed))
    resid = embed + pos
    for l in range(model.cfg.n_layers):
        b = f"blocks.{l}"
        resid = hook(f"{b}.hook_resid_pre", resid)
        attn_out = hook(f"{b}.hook_attn_out", _attention(model, l, _maybe_ln(model, f"{b}.ln1", resid, hook), hook))
        resid = hook(f"{b}.hook_resid_mid", resid + attn_out)
        mlp_out = hook(f"{b}.hook_mlp_out", _mlp(model, l, _maybe_ln(model, f"{b}.ln2", resid, hook), hook))
        resid = hook(f"{b}.hook_resid_post", resid + mlp_out)
    final = hook("hook_unembed_in", _maybe_ln(model, "ln_final", resid, hook)[:, :, -1])  # [M, B, d]
    return torch.einsum("mbd,mdc->mbc", final, model.P["W_U"]) + _vec(model, "b_U", 1)
