"""One-hot MLP of Gromov (2023): concat of one-hot operands, one hidden layer, x² activation, no biases.

With ``act = "quadratic"`` or ``"relu"`` it is also Tian's Ŷ = σ(XW)V (papers/03 §14; preset ``tian-x2``, loss
``mse_centered``): X the two concatenated one-hots, W = W_in [2M, K], V = W_U [K, M]. The fast path for those two
activations is the fused kernel of ``onehot_kernel.py``.

Hooks (reference forward): ``mlp.hook_pre``, ``mlp.hook_post``, ``hook_unembed_in`` (= the post-activation),
each [M, B, H]. Roles: the one-hot first layer W_in [K·V, H] is the token embedding (row k·V + t embeds token t
at operand slot k); ``layers`` = (W_in, W_U).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from .base import MODELS, MemberModel, ModelRoles, TaskShape, activation, bmm, gather_sum, one_hot_operands
from .hooks import HookPoints
from .onehot_kernel import FUSED_ACTS, onehot_two_layer


class OneHotMLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["onehot_mlp"] = "onehot_mlp"
    d_hidden: int = Field(500, gt=0, description="hidden width N (Gromov: 500)")
    act: Literal["relu", "gelu", "quadratic"] = Field("quadratic", description="hidden activation (Gromov: x²)")
    init: Literal["unit", "torch"] = Field(
        "unit", description="unit: W_in ~ N(0, 1/K), W_U ~ N(0, 1/N) (unit-variance pre-activations); torch: the "
        "variance of torch.nn.Linear's default init, 1/(3·fan_in) per layer (fan_in = K·V, N), drawn Gaussian "
        "[reconstructed: the init of Tian's / Xu's two-layer runs, papers/03 §14, is not stated]")


@MODELS.register("onehot_mlp")
class OneHotMLP(MemberModel):
    """logits = W_U·act(W_in·onehot([a; b])); init W_in ~ N(0, 1/K), W_U ~ N(0, 1/N) (unit-variance pre-acts)."""

    def __init__(self, cfg: OneHotMLPConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg, self.positions = cfg, task.input_positions
        K, V, H = len(task.input_positions), task.vocab_size, cfg.d_hidden
        torch_init = cfg.init == "torch"
        self.add("W_in", (K * V, H), (3 * K * V) ** -0.5 if torch_init else K**-0.5, group="hidden")
        self.add("W_U", (H, task.n_classes), (3 * H) ** -0.5 if torch_init else H**-0.5, group="unembed")
        self.K, self.V, self.seq_len = K, V, task.seq_len

    @property
    def roles(self) -> ModelRoles:
        return ModelRoles(embed="W_in", unembed="W_U", unembed_in="hook_unembed_in", layers=("W_in", "W_U"),
                          hidden=("mlp.hook_post",))

    def reference_forward(self, x: Tensor, hook: HookPoints) -> Tensor:
        """x: int64 [M|1, B, S] -> logits [M, B, C]: onehot([a; b]) @ W_in, activation, @ W_U.

        For a few operands the one-hot product is taken as the sum of the K rows it selects (the same numbers:
        the other terms are exact zeros), which keeps hooked evaluations (probes on the hidden layer) as cheap as
        the fast path."""
        if self.K <= 4:
            idx = x[..., list(self.positions)] + torch.arange(self.K, device=x.device) * self.V
            pre = hook("mlp.hook_pre", gather_sum(self.P["W_in"], idx))
        else:
            onehot = one_hot_operands(x, self.positions, self.V, self.P["W_in"].dtype)  # [M|1, B, K*V]
            pre = hook("mlp.hook_pre", torch.matmul(onehot, self.P["W_in"]))  # [M, B, H]
        post = hook("mlp.hook_post", activation(self.cfg.act, pre))
        return torch.einsum("mbh,mhc->mbc", hook("hook_unembed_in", post), self.P["W_U"])

    def fast_forward(self, x: Tensor) -> Tensor:
        # A one-hot input times W_in is a row lookup: no K·V-wide matmul.
        idx = x[..., list(self.positions)] + torch.arange(self.K, device=x.device) * self.V
        if self.K <= 4 and self.cfg.act in FUSED_ACTS:  # x² / ReLU: one fused forward/backward (onehot_kernel)
            return onehot_two_layer(self.P["W_in"], self.P["W_U"], idx, self.cfg.act)
        pre = gather_sum(self.P["W_in"], idx)  # [M, B, H]
        return bmm(activation(self.cfg.act, pre), self.P["W_U"])
