"""train/test loss and accuracy (the loss is the training loss, applied to each split)."""

from __future__ import annotations

from torch import Tensor

from ..train.losses import per_example
from .base import EvalContext, probe


@probe("accuracy")
def accuracy(ctx: EvalContext) -> dict[str, Tensor]:
    out = {}
    for split, idx, y in (("train", ctx.train_idx, ctx.y_train), ("test", ctx.test_idx, None)):
        z = ctx.at(ctx.logits, idx)  # [M, n, C]
        y = ctx.y.gather(1, idx) if y is None else y
        out[f"{split}/loss"] = per_example(ctx.loss_name, z, y).double().mean(1)
        out[f"{split}/acc"] = (z.argmax(-1) == y).double().mean(1)
    return out
