"""Embedding-concat MLP (Khanh 2026, papers 1 and 4; `../shared/papers/01-*.md` §1.3).

logits = W_U·act(W_in·[E[a]; E[b]] + b_in) + b_U, with one embedding E shared by the operand positions.

Hooks (reference forward; K operand positions, hidden width H):
  ``hook_embed`` [M, B, K, d] (E at each operand), ``mlp.hook_pre``, ``mlp.hook_post`` [M, B, H],
  ``hook_unembed_in`` [M, B, H] (what W_U reads: the post-activation).
Roles: ``layers`` = (W_in, W_U): the chain starts at W_in's K·d inputs, the concatenated embeddings; E (``embed``)
is shared by the K slots, so it is not one link of the chain.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from .base import MODELS, MemberModel, ModelRoles, TaskShape, activation, bmm, gather_rows, gather_sum
from .hooks import HookPoints


class MLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["mlp"] = "mlp"
    d_embed: int = Field(128, gt=0, description="embedding width d (paper 1: 128)")
    d_hidden: int = Field(256, gt=0, description="hidden width H (paper 1: 256)")
    act: Literal["relu", "gelu", "quadratic"] = Field("gelu", description="hidden activation")
    bias: bool = Field(True, description="biases b_in, b_U (zero init, never decayed)")


@MODELS.register("mlp")
class EmbedConcatMLP(MemberModel):
    """Init (paper 1): weights N(0, 1/fan_in) with fan_in = d for E, n_in·d for W_in, H for W_U; biases 0."""

    def __init__(self, cfg: MLPConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg, self.positions = cfg, task.input_positions
        d, H, K, V = cfg.d_embed, cfg.d_hidden, len(task.input_positions), task.vocab_size
        self.add("W_E", (V, d), d**-0.5, group="embed")
        self.add("W_in", (K * d, H), (K * d) ** -0.5, group="hidden")
        self.add("W_U", (H, task.n_classes), H**-0.5, group="unembed")
        if cfg.bias:
            self.add("b_in", (H,), 0.0, "bias")
            self.add("b_U", (task.n_classes,), 0.0, "bias")
        self.V, self.K, self.H, self.seq_len = V, K, H, task.seq_len

    @property
    def roles(self) -> ModelRoles:
        return ModelRoles(embed="W_E", unembed="W_U", unembed_in="hook_unembed_in", layers=("W_in", "W_U"),
                          hidden=("mlp.hook_post",))

    def reference_forward(self, x: Tensor, hook: HookPoints) -> Tensor:
        """x: int64 [M|1, B, S] -> logits [M, B, C]: embed the operands, concatenate, one hidden layer."""
        P, M = self.P, self.M
        embed = hook("hook_embed", gather_rows(P["W_E"], x[..., list(self.positions)]))  # [M, B, K, d]
        concat = embed.reshape(M, embed.shape[1], -1)  # [M, B, K*d] = [E[a]; E[b]]
        pre = torch.einsum("mbi,mih->mbh", concat, P["W_in"]) + (P["b_in"][:, None] if "b_in" in P else 0.0)
        post = hook("mlp.hook_post", activation(self.cfg.act, hook("mlp.hook_pre", pre)))
        unembed_in = hook("hook_unembed_in", post)
        return torch.einsum("mbh,mhc->mbc", unembed_in, P["W_U"]) + (P["b_U"][:, None] if "b_U" in P else 0.0)

    def fast_forward(self, x: Tensor) -> Tensor:
        P, M, K, V, H = self.P, self.M, self.K, self.V, self.H
        # Table trick: W_in·[E[a]; E[b]] = T_0[a] + T_1[b] with T_k = E·W_in[k] computed on V rows.
        W_in = P["W_in"].view(M, K, -1, H)  # [M, K, d, H]
        tables = torch.einsum("mvd,mkdh->mkvh", P["W_E"], W_in).reshape(M, K * V, H)  # [M, K*V, H]
        offs = torch.arange(K, device=x.device) * V
        idx = x[..., list(self.positions)] + offs  # [M|1, B, K]
        pre = gather_sum(tables, idx)  # [M, B, H]
        if "b_in" in P:
            pre = pre + P["b_in"][:, None]
        post = activation(self.cfg.act, pre)
        logits = bmm(post, P["W_U"])
        if "b_U" in P:
            logits = logits + P["b_U"][:, None]
        return logits
