"""Two fields acting on the weights, and a coarse irreversibility estimate (papers/03 §12; RECONSTRUCTED).

The two-field paper (Khanh 2026) gives no recipe (only its abstract is readable); these are the toolkit's own
operationalisations, labelled as such, reproducing no reported number:

- the loss-gradient field g = ∇L (full-batch training gradient) and the decoupled weight-decay field λθ, over the
  weight matrices: ``two_field/grad_norm`` ‖g‖, ``two_field/wd_norm`` ‖λθ‖, ``two_field/ratio`` ‖g‖/‖λθ‖ and
  ``two_field/cos`` = cos(g, θ) (the cosine between the descent directions −g and −λθ);
- ``two_field/sigma_hat``: a coarse entropy-production rate of the projected trajectory: θ_t projected on two
  fixed random directions (seeded) at every evaluation; over the last ``WINDOW`` evaluations each point is
  coarse-grained into one of four states (the signs of its two coordinates about the window median) and
  Σ̂ = Σ_ij J_ij ln(J_ij / J_ji), with J the empirical joint of consecutive states (pseudo-count ½). Evaluations
  lie on the run's eval grid, not on a uniform time grid; Σ̂ is per evaluation step. NaN until 8 points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import EvalContext, probe

WINDOW = 64
PSEUDO = 0.5


def irreversibility(states: Tensor, n_states: int) -> float:
    """Σ̂ of a discrete state sequence ``states int64 [T]``: Σ_ij J_ij ln(J_ij/J_ji) per transition."""
    C = torch.full((n_states, n_states), PSEUDO, dtype=torch.float64)
    C.index_put_((states[:-1], states[1:]), torch.ones(len(states) - 1, dtype=torch.float64), accumulate=True)
    J = C / C.sum()
    return float((J * (J / J.T).log()).sum())


def quadrant_states(z: Tensor) -> Tensor:
    """``z [T, 2]`` -> state 0..3 from the signs of each coordinate about its median."""
    above = (z > z.median(0).values).long()
    return above[:, 0] * 2 + above[:, 1]


def field_stats(grad: dict[str, Tensor], params: dict[str, Tensor], wd: Tensor, names: list[str]) -> dict:
    """Norms and angle of g and λθ over ``names``: per member ``[M]`` each."""
    gg = sum(grad[n].double().flatten(1).square().sum(1) for n in names)
    tt = sum(params[n].double().flatten(1).square().sum(1) for n in names)
    gt = sum((grad[n].double().flatten(1) * params[n].double().flatten(1)).sum(1) for n in names)
    wd_norm = wd.double().abs() * tt.sqrt()
    return {"grad_norm": gg.sqrt(), "wd_norm": wd_norm, "ratio": gg.sqrt() / wd_norm.clamp_min(1e-300),
            "cos": gt / (gg.sqrt() * tt.sqrt()).clamp_min(1e-300)}


class TwoField:
    def __init__(self) -> None:
        self.proj: list[Tensor] = []  # [M, 2] per evaluation (state)
        self._dirs: dict[str, Tensor] | None = None

    def _directions(self, params: dict[str, Tensor], names: list[str]) -> dict[str, Tensor]:
        if self._dirs is None:
            gen = torch.Generator().manual_seed(0)
            self._dirs = {n: torch.randn(2, *params[n].shape[1:], generator=gen, dtype=torch.float64)
                          for n in sorted(names)}
        return self._dirs

    def __call__(self, ctx: EvalContext) -> dict[str, Tensor]:
        names = [n for g in ctx.groups.values() for n in g]
        M = ctx.logits.shape[0]
        wd = ctx.wd if ctx.wd is not None else torch.zeros(M)
        out = {} if ctx.grad is None else {  # no gradient (a caller without "grad"): the trajectory part only
            f"two_field/{k}": v for k, v in field_stats(ctx.grad, ctx.params, wd, names).items()}
        dirs = self._directions(ctx.params, names)
        z = sum(ctx.params[n].detach().double().cpu().flatten(1) @ dirs[n].flatten(1).T for n in names)
        self.proj = (self.proj + [z])[-WINDOW:]
        sigma = torch.full((M,), math.nan, dtype=torch.float64)
        if len(self.proj) >= 8:
            traj = torch.stack(self.proj)  # [T, M, 2]
            sigma = torch.tensor([irreversibility(quadrant_states(traj[:, m]), 4) for m in range(M)],
                                 dtype=torch.float64)
        out["two_field/sigma_hat"] = sigma.to(ctx.logits.device)
        return out

    def state_dict(self) -> dict:
        return {"proj": self.proj}

    def load_state_dict(self, sd: dict) -> None:
        self.proj = list(sd["proj"])


probe("two_field", needs=["grad"], uses_labels=True, cost="heavy")(TwoField)
