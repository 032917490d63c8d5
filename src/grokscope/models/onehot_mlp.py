"""One-hot MLP of Gromov (2023): concat of one-hot operands, one hidden layer, x² activation, no biases."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from .base import MODELS, MemberModel, TaskShape, activation, bmm, gather_sum


class OneHotMLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["onehot_mlp"] = "onehot_mlp"
    d_hidden: int = Field(500, gt=0, description="hidden width N (Gromov: 500)")
    act: Literal["relu", "gelu", "quadratic"] = Field("quadratic", description="hidden activation (Gromov: x²)")


@MODELS.register("onehot_mlp")
class OneHotMLP(MemberModel):
    """logits = W_U·act(W_in·onehot([a; b])); init W_in ~ N(0, 1/K), W_U ~ N(0, 1/N) (unit-variance pre-acts)."""

    def __init__(self, cfg: OneHotMLPConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg, self.positions = cfg, task.input_positions
        K, V, H = len(task.input_positions), task.vocab_size, cfg.d_hidden
        self.add("W_in", (K * V, H), K**-0.5, group="hidden")
        self.add("W_U", (H, task.n_classes), H**-0.5, group="unembed")
        self.K, self.V = K, V

    def forward(self, x: Tensor, cache: dict | None = None) -> Tensor:
        # A one-hot input times W_in is a row lookup: no K·V-wide matmul.
        idx = x[..., list(self.positions)] + torch.arange(self.K, device=x.device) * self.V
        pre = gather_sum(self.P["W_in"], idx)  # [M, B, H]
        post = activation(self.cfg.act, pre)
        if cache is not None:
            cache["mlp.hook_pre"], cache["mlp.hook_post"], cache["hook_unembed_in"] = pre, post, post
        return bmm(post, self.P["W_U"])
