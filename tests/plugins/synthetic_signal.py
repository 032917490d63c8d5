"""A probe whose output is a known function of the step (for the closed-loop rule tests, ``tests/phases``):
synth/x = 0 up to step 200, then falls by 0.01 per step. It sleeps a little per evaluation so that a test can
kill the run part way."""

from __future__ import annotations

import time

import torch

from grokscope.probes import EvalContext, probe

KNEE, RATE = 200, -0.01


def signal(step: float) -> float:
    return 0.0 if step <= KNEE else RATE * (step - KNEE)


@probe("test_synthetic_signal", uses_labels=False)
def synthetic(ctx: EvalContext) -> dict[str, torch.Tensor]:
    time.sleep(0.01)
    M = ctx.logits.shape[0]
    return {"synth/x": torch.full((M,), signal(ctx.step), dtype=torch.float64)}
