"""Deep linear network on one-hot operands: logits = W_D ··· W_1·onehot([a; b]) (for the Arrhenius work, paper 3)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from .base import MODELS, MemberModel, TaskShape, bmm, gather_sum


class DeepLinearConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["deeplinear"] = "deeplinear"
    depth: int = Field(3, ge=1, description="number of weight matrices D")
    width: int = Field(64, gt=0, description="hidden width of every layer")


@MODELS.register("deeplinear")
class DeepLinear(MemberModel):
    """No activations, no biases; init W_l ~ N(0, 1/fan_in) (fan_in = K for the one-hot first layer)."""

    def __init__(self, cfg: DeepLinearConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg, self.positions = cfg, task.input_positions
        K, V, w, D = len(task.input_positions), task.vocab_size, cfg.width, cfg.depth
        dims = [w] * (D - 1) + [task.n_classes]
        self.add("layers.0.W", (K * V, dims[0]), K**-0.5, group="layer0")
        for i in range(1, D):
            self.add(f"layers.{i}.W", (dims[i - 1], dims[i]), dims[i - 1] ** -0.5, group=f"layer{i}")
        self.K, self.V = K, V

    def forward(self, x: Tensor, cache: dict | None = None) -> Tensor:
        idx = x[..., list(self.positions)] + torch.arange(self.K, device=x.device) * self.V
        h = gather_sum(self.P["layers.0.W"], idx)  # [M, B, w]
        for i in range(1, self.cfg.depth):
            if cache is not None:
                cache[f"layers.{i}.hook_in"] = h
            h = bmm(h, self.P[f"layers.{i}.W"])
        return h
