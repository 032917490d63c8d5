"""The causal LM: grokscope's member-axis transformer (``models/transformer.py``) read at every position.

The core transformer reads its answer at the last position only; a language model needs next-token logits at all
positions. This module builds a ``Transformer`` whose classes are the vocabulary (``W_U [M, d, V]``), with pre-LN
blocks, trained biases and a causal mask, and runs it over every position with the transformer's own pieces
(LayerNorm, projections, MLP); attention is ``F.scaled_dot_product_attention`` with ``is_causal`` (the same
softmax(QKᵀ/√d_head)·V the reference forward computes). Parameters keep the member axis M, so seeds pack.

``capture=True`` also returns, per layer, the residual stream after the block ``[M, B, S, d]`` and the attention
pattern ``[M, B, H, S, S]`` (computed explicitly), and the final normalised hidden state fed to ``W_U`` (for LAR).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from ..models.base import TaskShape, gather_rows
from ..models.transformer import Transformer, TransformerConfig


class LMModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_layers: int = Field(2, ge=1, description="transformer blocks")
    d_model: int = Field(128, gt=0, description="residual width")
    n_heads: int = Field(4, gt=0, description="attention heads")
    d_mlp: int = Field(512, gt=0, description="MLP hidden width")
    seq_len: int = Field(32, ge=4, description="context length in tokens (BLiMP sentences are <= ~20 words)")


def make_lm(cfg: LMModelConfig, vocab_size: int, M: int = 1, dtype: torch.dtype = torch.float32) -> Transformer:
    tcfg = TransformerConfig(n_layers=cfg.n_layers, d_model=cfg.d_model, n_heads=cfg.n_heads, d_mlp=cfg.d_mlp,
                             act="gelu", layernorm=True, bias="on", causal=True)
    return Transformer(tcfg, TaskShape(vocab_size, vocab_size, cfg.seq_len, ()), M, dtype)


def _attention(model: Transformer, l: int, h: Tensor, capture: dict | None) -> Tensor:
    M, B, S, d = h.shape
    H = model.cfg.n_heads
    dh = d // H
    q, k, v = (model._proj(h, l, w).view(M * B, S, H, dh).transpose(1, 2) for w in "QKV")  # [MB, H, S, dh]
    if capture is None:
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        scores = scores.masked_fill(torch.ones(S, S, dtype=torch.bool, device=h.device).triu(1), float("-inf"))
        pattern = scores.softmax(-1)
        capture[f"pattern.{l}"] = pattern.view(M, B, H, S, S)
        z = pattern @ v
    z = z.transpose(1, 2).reshape(M, B, S, d)
    return model._linear(z, f"blocks.{l}.attn.W_O", f"blocks.{l}.attn.b_O")


def lm_forward(model: Transformer, x: Tensor, capture: dict | None = None) -> Tensor:
    """``x int64 [M|1, B, S]`` -> next-token logits ``[M, B, S, V]``; ``capture`` (a dict) receives the internals."""
    S = x.shape[-1]
    resid = gather_rows(model.P["W_E"], x) + model.P["W_pos"][:, None, :S]
    for l in range(model.cfg.n_layers):
        resid = resid + _attention(model, l, model._ln(f"blocks.{l}.ln1", resid), capture)
        resid = resid + model._mlp(model._ln(f"blocks.{l}.ln2", resid), l)
        if capture is not None:
            capture[f"resid.{l}"] = resid
    final = model._ln("ln_final", resid)
    if capture is not None:
        capture["final"] = final
    return model._linear(final, "W_U", "b_U")


def next_token_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over every position, per member: ``[M, B, S, V]``, ``y [M|1, B, S]`` -> ``[M]``."""
    M, B, S, V = logits.shape
    nll = F.cross_entropy(logits.reshape(-1, V), y.expand(M, B, S).reshape(-1), reduction="none")
    return nll.view(M, -1).mean(1)


def param_count(model: Transformer) -> int:
    return sum(p[0].numel() for p in model.P.values())
