"""Mode amplitudes of a deep linear network on a linear teacher (paper 3, papers/01 §3.3 [reconstructed]).

``mode/i`` = v_iᵀ W_eff u_i, the projection of the end-to-end map W_eff = W_1 ··· W_L (row convention: f(x) =
x W_eff) on the teacher's i-th singular pair (u_i output, v_i input). At a balanced aligned solution it is b_i^L
of the mode model: 0 in the "off" phase, b*^L in the "on" phase. Needs a task that publishes its teacher
(``teacher_u``, ``teacher_v`` in the task structure: tasks/teacher.py) and a model whose layer chain is linear.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EvalContext, probe


def end_to_end(layers: list[Tensor]) -> Tensor:
    """W_eff ``[M, d_in, d_out]`` = product of the chain ``[M, a, b]`` (input to output)."""
    W = layers[0]
    for nxt in layers[1:]:
        W = torch.bmm(W, nxt)
    return W


def mode_amplitudes(W_eff: Tensor, U: Tensor, V: Tensor) -> Tensor:
    """``[M, k]``: v_iᵀ W_eff u_i for ``U [k, d_out]``, ``V [k, d_in]`` (rows = singular vectors)."""
    return torch.einsum("mio,ki,ko->mk", W_eff.double(), V.double(), U.double())


@probe("modes", needs=("task",), uses_labels=True, cost="cheap")  # reads the teacher
def modes(ctx: EvalContext) -> dict[str, Tensor]:
    if "teacher_u" not in ctx.task or ctx.roles is None:
        return {}
    dev = ctx.params[ctx.roles.layers[0]].device
    W = end_to_end([ctx.params[n].detach() for n in ctx.roles.layers])
    U = torch.tensor(ctx.task["teacher_u"], device=dev)
    V = torch.tensor(ctx.task["teacher_v"], device=dev)
    amp = mode_amplitudes(W, U, V)
    return {f"mode/{i}": amp[:, i] for i in range(amp.shape[1])}
