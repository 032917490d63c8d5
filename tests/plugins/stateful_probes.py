"""A user's probe module for the plug-in tests (loaded through ``eval.plugins``): one stateful probe whose output
depends on every update since step 0 (its step hook) and on every earlier evaluation (an EMA), so any state lost
in a resume changes its metrics."""

from __future__ import annotations

import torch

from grokscope.probes import EvalContext, probe


@probe("test_update_path", uses_labels=["path/loss_ema"])
class UpdatePath:
    def __init__(self) -> None:
        self.path_length: torch.Tensor | None = None  # [M] Σ_t ||Δθ_t|| (float64)
        self.loss_ema: torch.Tensor | None = None  # [M] EMA of the training loss over evaluations

    def after_step(self, t, params, grads, delta) -> None:
        step = torch.stack([d.double().pow(2).flatten(1).sum(1) for d in delta.values()]).sum(0).sqrt()
        self.path_length = step if self.path_length is None else self.path_length + step

    def __call__(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        M = ctx.logits.shape[0]
        z = ctx.at(ctx.logits, ctx.train_idx).double()
        loss = torch.nn.functional.cross_entropy(z.flatten(0, 1), ctx.y_train.flatten(), reduction="none").view(M, -1)
        loss = loss.mean(1)
        self.loss_ema = loss if self.loss_ema is None else 0.9 * self.loss_ema + 0.1 * loss
        path = self.path_length if self.path_length is not None else torch.zeros(M, dtype=torch.float64)
        return {"path/length": path.clone(), "path/loss_ema": self.loss_ema.clone()}

    def state_dict(self) -> dict:
        return {"path_length": self.path_length, "loss_ema": self.loss_ema}

    def load_state_dict(self, sd: dict) -> None:
        self.path_length, self.loss_ema = sd["path_length"], sd["loss_ema"]
