"""Grokking-transition localisation with the Hankel-DMD residual: the kernels of ``reproduce dmd-localize``
(paper 13, Wang, Ying & Kanamori 2026, arXiv:2605.08237; papers/03 §13, all reconstructed [INF]).

- ``residual_curve``: the sliding-window Hankel-DMD residual of one member's quantile trajectory ``[T, m]``
  (``detect.dmd``), indexed by each window's last evaluation (causal);
- ``onset_step``: the test-accuracy onset, the first evaluation with test accuracy ≥ a level (03 §13 item 7:
  "e.g. 0.5"; an option);
- ``peak_lead``: onset − the step of the residual's maximum over the windows after ``start`` (T_mem by default: the
  memorisation transient is itself non-linear and is not the transition being localised; an option);
- ``loo_false_alarm_rate``: the sustained-threshold alarm calibrated on the other controls (leave one out) and
  checked on the one left out, so the false-alarm rate is measured, not fixed by construction;
- ``perturbation_deviation``: continue a saved training state for ``h`` steps with and without an isotropic
  parameter perturbation of norm ``eps·‖θ‖``; the relative parameter deviation ‖θ_p − θ‖/‖θ‖ at t + h, per member;
- ``norm_matched_concordance``: over pairs of tested windows whose total norms agree within ``tol`` but whose
  residuals differ by a factor ≥ ``min_ratio``, the share in which the higher-residual window is the more
  perturbation-sensitive (the paper's norm-window control: sensitivity follows the residual, not the norm).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch

from .alarms import calibrate_on_controls, sustained_alarm, sustained_level
from .dmd import sliding_hankel_dmd


def residual_curve(steps: np.ndarray, traj: np.ndarray, window: int, delay: int, rank: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(window-end steps, residuals) of ``traj [T, m]`` at ``steps [T]``; empty when the run is too short."""
    traj = np.asarray(traj, float)
    if traj.ndim == 1:
        traj = traj[:, None]
    if traj.shape[0] < window:
        return np.array([]), np.array([])
    out = sliding_hankel_dmd(traj, window=window, delay=delay, rank=rank)
    return np.asarray(steps)[out.end_index], out.residual


def onset_step(steps: np.ndarray, test_acc: np.ndarray, level: float = 0.5) -> int | None:
    """First step with test accuracy ≥ ``level`` (None: never)."""
    hit = np.nonzero(np.asarray(test_acc) >= level)[0]
    return int(steps[hit[0]]) if hit.size else None


def after(steps: np.ndarray, values: np.ndarray, start: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The part of a curve at steps ≥ ``start`` (all of it when None)."""
    if start is None:
        return steps, values
    keep = steps >= start
    return steps[keep], values[keep]


def peak_lead(steps: np.ndarray, residual: np.ndarray, onset: int | None, start: float | None) -> float:
    """onset − argmax step of the residual at steps ≥ ``start`` (positive: the peak came first); nan if undefined."""
    s, r = after(steps, residual, start)
    if onset is None or s.size == 0 or not np.isfinite(r).any():
        return math.nan
    return float(onset - s[int(np.nanargmax(r))])


def loo_false_alarm_rate(controls: Sequence[np.ndarray], fpr: float, k: int) -> float:
    """Share of control signals that alarm at the threshold calibrated (to ``fpr``) on the other controls."""
    if len(controls) < 2:
        return math.nan
    hits = []
    for i, s in enumerate(controls):
        rest = [c for j, c in enumerate(controls) if j != i]
        tau = calibrate_on_controls(rest, fpr, k)
        hits.append(sustained_level(s, k) > tau)
    return float(np.mean(hits))


def alarm_lead(steps: np.ndarray, residual: np.ndarray, tau: float, k: int, onset: int | None,
               start: float | None) -> tuple[int | None, float]:
    """(alarm step, onset − alarm) of the sustained rule on the residual at steps ≥ ``start``."""
    s, r = after(steps, residual, start)
    alarm = sustained_alarm(s, r, tau, k) if s.size else None
    if alarm is None or onset is None:
        return alarm, math.nan
    return alarm, float(onset - alarm)


@torch.no_grad()
def _flat(params: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().double().flatten(1) for p in params.values()], dim=1)  # [M, P]


def perturbation_deviation(setup: object, state: dict, horizon: int, eps: float, seed: int) -> np.ndarray:
    """``[M]`` relative deviation after ``horizon`` updates from ``state`` (a resume state), perturbed vs not.

    The perturbation of member m is ``eps·‖θ_m‖·ξ/‖ξ‖`` with ξ standard normal over all its trainable parameters
    (generator ``seed``); the optimizer moments and the data order are the state's in both continuations."""
    from ..train.loop import load_state_dict, update

    state = copy.deepcopy(state)  # a state taken from a live setup shares its tensors (``.cpu()`` of a CPU tensor)

    def run(perturb: bool) -> torch.Tensor:
        t = load_state_dict(setup, copy.deepcopy(state))  # the loop writes into what it loads (moments)
        P = setup.params  # type: ignore[attr-defined]
        if perturb:
            gen = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                xi = {n: torch.randn(p.shape, generator=gen, dtype=torch.float64) for n, p in P.items()}
                scale = eps * _flat(P).norm(dim=1) / torch.cat([x.flatten(1) for x in xi.values()], 1).norm(dim=1)
                for n, p in P.items():
                    p.add_((xi[n] * scale.view(-1, *([1] * (p.dim() - 1)))).to(p.dtype))
        for i in range(horizon):
            update(setup, t + i)  # type: ignore[arg-type]
        return _flat(P)

    base = run(False)
    pert = run(True)
    return ((pert - base).norm(dim=1) / base.norm(dim=1)).numpy()


def norm_matched_concordance(norm: np.ndarray, residual: np.ndarray, deviation: np.ndarray, tol: float = 0.05,
                             min_ratio: float = 1.5) -> tuple[float, int]:
    """(share of norm-matched pairs where the higher-residual window deviates more, number of such pairs)."""
    norm, res, dev = (np.asarray(a, float) for a in (norm, residual, deviation))
    agree, n = 0, 0
    for i in range(len(norm)):
        for j in range(i + 1, len(norm)):
            if abs(norm[i] - norm[j]) > tol * max(norm[i], norm[j]):
                continue
            hi, lo = (i, j) if res[i] >= res[j] else (j, i)
            if res[lo] <= 0 or res[hi] / res[lo] < min_ratio:
                continue
            n += 1
            agree += dev[hi] > dev[lo]
    return (agree / n if n else math.nan), n
