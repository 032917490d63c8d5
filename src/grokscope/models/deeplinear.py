"""Deep linear network: logits = W_D ··· W_1·onehot([a; b]) on tokens, or W_D ··· W_1·x on real inputs x (a
regression task such as ``teacher``, ``TaskShape.input_dim``; the Arrhenius work, paper 3).

Hooks (reference forward): ``layers.{i}.hook_in`` [M, B, width], the input of matrix i for i = 1..D-1, and
``hook_unembed_in``, the input of the last matrix ([M, B, width]; for D = 1 the one-hot input [M, B, K·V]).
Roles: ``embed`` = layers.0.W (the one-hot first layer), ``unembed`` = the last matrix, ``layers`` = all of them.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from .base import MODELS, MemberModel, ModelRoles, TaskShape, bmm, gather_sum, one_hot_operands
from .hooks import HookPoints


class DeepLinearConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["deeplinear"] = "deeplinear"
    depth: int = Field(3, ge=1, description="number of weight matrices D")
    width: int = Field(64, gt=0, description="hidden width of every layer")


@MODELS.register("deeplinear")
class DeepLinear(MemberModel):
    """No activations, no biases; init W_l ~ N(0, 1/fan_in) (fan_in = K for the one-hot first layer, d for real inputs)."""

    def __init__(self, cfg: DeepLinearConfig, task: TaskShape, M: int, dtype: torch.dtype) -> None:
        super().__init__(M, dtype)
        self.cfg, self.positions = cfg, task.input_positions
        K, V, w, D = len(task.input_positions), task.vocab_size, cfg.width, cfg.depth
        dims = [w] * (D - 1) + [task.n_classes]
        self.input_dim = task.input_dim
        if task.input_dim is not None:  # real inputs x [M|1, B, d]
            self.add("layers.0.W", (task.input_dim, dims[0]), task.input_dim**-0.5, group="layer0")
        else:
            self.add("layers.0.W", (K * V, dims[0]), K**-0.5, group="layer0")
        for i in range(1, D):
            self.add(f"layers.{i}.W", (dims[i - 1], dims[i]), dims[i - 1] ** -0.5, group=f"layer{i}")
        self.K, self.V, self.seq_len = K, V, task.seq_len

    @property
    def roles(self) -> ModelRoles:
        D = self.cfg.depth
        return ModelRoles(embed="layers.0.W", unembed=f"layers.{D - 1}.W", unembed_in="hook_unembed_in",
                          layers=tuple(f"layers.{i}.W" for i in range(D)),
                          hidden=tuple(f"layers.{i}.hook_in" for i in range(1, D)))

    def reference_forward(self, x: Tensor, hook: HookPoints) -> Tensor:
        """x: int64 [M|1, B, S] -> logits [M, B, C] = onehot([a; b]) @ W_0 @ ... @ W_{D-1}."""
        D = self.cfg.depth
        h = self._inputs(x)  # [M|1, B, K*V] one-hot, or [M|1, B, d] real
        h = h.expand(self.M, *h.shape[1:])  # one input per member, like every other hook
        for i in range(D):
            if i > 0:
                h = hook(f"layers.{i}.hook_in", h)
            if i == D - 1:
                h = hook("hook_unembed_in", h)
            h = torch.matmul(h, self.P[f"layers.{i}.W"])
        return h

    def _inputs(self, x: Tensor) -> Tensor:
        dtype = self.P["layers.0.W"].dtype
        if self.input_dim is not None:
            return x.to(dtype)
        return one_hot_operands(x, self.positions, self.V, dtype)

    def fast_forward(self, x: Tensor) -> Tensor:
        if self.input_dim is not None:
            h = torch.matmul(x.to(self.P["layers.0.W"].dtype), self.P["layers.0.W"])  # [M, B, w]
            for i in range(1, self.cfg.depth):
                h = bmm(h, self.P[f"layers.{i}.W"])
            return h
        idx = x[..., list(self.positions)] + torch.arange(self.K, device=x.device) * self.V
        h = gather_sum(self.P["layers.0.W"], idx)  # [M, B, w]
        for i in range(1, self.cfg.depth):
            h = bmm(h, self.P[f"layers.{i}.W"])
        return h
