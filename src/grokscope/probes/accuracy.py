"""train/test loss and accuracy (the loss is the training loss, applied to each split).

Regression tasks (real targets): ``{split}/err`` = Σ‖f(x) - y‖² / Σ‖y‖² over the split (relative error) and
``{split}/acc`` = 1 - err, so the T_mem / T_grok thresholds on accuracy are thresholds on the relative error.
"""

from __future__ import annotations

from torch import Tensor

from ..train.losses import per_example
from .base import EvalContext, probe


@probe("accuracy")
def accuracy(ctx: EvalContext) -> dict[str, Tensor]:
    out = {}
    for split, idx, y in (("train", ctx.train_idx, ctx.y_train), ("test", ctx.test_idx, None)):
        z = ctx.at(ctx.logits, idx)  # [M, n, C]
        y = ctx.at(ctx.y, idx) if y is None else y
        out[f"{split}/loss"] = per_example(ctx.loss_name, z, y).double().mean(1)
        if y.is_floating_point():  # regression (tasks/teacher.py): acc = 1 - relative error
            err = ((z - y) ** 2).double().sum((1, 2)) / (y.double() ** 2).sum((1, 2)).clamp_min(1e-300)
            out[f"{split}/err"] = err
            out[f"{split}/acc"] = 1.0 - err
        else:
            out[f"{split}/acc"] = (z.argmax(-1) == y).double().mean(1)
    return out
