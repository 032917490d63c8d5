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

Options (``eval.probe_options.two_field``; both off by default, so a run without them logs exactly the above):

- ``sketch = K`` (> 0): also log ``two_field/z0`` … ``z{K-1}``, θ_t projected on K fixed Gaussian directions
  (seeded, scaled by 1/√K, a Johnson–Lindenstrauss sketch of the trajectory). The offline portrait
  (``grokscope.hef.portrait``) takes the top principal components of this sketch as the trajectory's coordinates
  (RECONSTRUCTED: pairwise distances of the trajectory are kept to a relative error of order 1/√K).
- ``energy = true``: also log ``two_field/update_energy``, the cumulative update energy
  Σ_k ‖θ_{t_k} − θ_{t_{k−1}}‖² / (t_k − t_{k−1}) over the evaluations so far. By Cauchy–Schwarz
  each term is ≤ Σ ‖Δθ‖² over the steps of its interval, so this is a lower bound of the per-step sum Σ_t ‖Δθ_t‖²,
  exact when the updates within an interval are equal; over the weight matrices (the groups above), one of the
  HEF critical-energy candidates (papers/01 §5).
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


def cumulative_energy(energy: Tensor, theta: Tensor, prev: Tensor | None, dt: int) -> Tensor:
    """One evaluation's update of the cumulative update energy ``[M]``: + ‖θ − θ_prev‖² / Δt (θ ``[M, P]``)."""
    if prev is None or dt <= 0:
        return energy
    return energy + (theta - prev).square().sum(1) / dt


class TwoField:
    def __init__(self, sketch: int = 0, energy: bool = False) -> None:
        if not isinstance(sketch, int) or sketch < 0:
            raise ValueError(f"sketch must be an integer >= 0 (directions of the trajectory sketch), got {sketch!r}")
        self.sketch, self.energy = sketch, bool(energy)
        self.proj: list[Tensor] = []  # [M, 2] per evaluation (state)
        self._dirs: dict[str, Tensor] | None = None
        self._sketch_dirs: dict[str, Tensor] | None = None
        self.prev: Tensor | None = None  # θ at the previous evaluation [M, P] (energy only; state)
        self.prev_step = 0
        self.cum: Tensor | None = None  # cumulative update energy [M] (state)

    def _sketch(self, params: dict[str, Tensor], names: list[str]) -> Tensor:
        """θ on the K sketch directions ``[M, K]`` (a generator of its own: the two Σ̂ directions are unchanged)."""
        if self._sketch_dirs is None:
            gen = torch.Generator().manual_seed(1)
            self._sketch_dirs = {n: torch.randn(self.sketch, *params[n].shape[1:], generator=gen, dtype=torch.float64)
                                 / math.sqrt(self.sketch) for n in sorted(names)}
        d = self._sketch_dirs
        return sum(params[n].detach().double().cpu().flatten(1) @ d[n].flatten(1).T for n in sorted(names))

    def _energy(self, params: dict[str, Tensor], names: list[str], step: int) -> Tensor:
        theta = torch.cat([params[n].detach().double().cpu().flatten(1) for n in sorted(names)], 1)
        if self.cum is None:
            self.cum = torch.zeros(theta.shape[0], dtype=torch.float64)
        self.cum = cumulative_energy(self.cum, theta, self.prev, step - self.prev_step)
        self.prev, self.prev_step = theta, step
        return self.cum

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
        if self.sketch:
            zk = self._sketch(ctx.params, names)
            out.update({f"two_field/z{k}": zk[:, k].to(ctx.logits.device) for k in range(self.sketch)})
        if self.energy:
            out["two_field/update_energy"] = self._energy(ctx.params, names, ctx.step).to(ctx.logits.device)
        return out

    def state_dict(self) -> dict:
        return {"proj": self.proj, "prev": self.prev, "prev_step": self.prev_step, "cum": self.cum}

    def load_state_dict(self, sd: dict) -> None:
        self.proj = list(sd["proj"])
        self.prev, self.prev_step, self.cum = sd.get("prev"), int(sd.get("prev_step", 0)), sd.get("cum")


probe("two_field", needs=["grad"], uses_labels=True, cost="heavy")(TwoField)
