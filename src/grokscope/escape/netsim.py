"""Many deep linear networks trained at once on a linear teacher, with Langevin or minibatch noise, and their
escape times from the trapped "off" state (paper 3's protocol, papers/01 §3.3 [reconstructed]).

The same mathematics as a grokscope run of the ``teacher`` task with the ``deeplinear`` model, SGD with L2
(γ = wd / 2) and ``intervene.langevin_T`` (tests/escape check its gradients against autograd of the loop's loss), written as one
vectorised loop over a member axis M = temperatures × seeds: one noise draw per layer per step for all members
(the run's per-member noise streams cost one draw per member per layer, ~M times more calls), and the escape
detected at every step (no eval grid), with right-censoring at the budget. Used by ``reproduce arrhenius``.

Update (per member m, per layer l):  W_l <- (1 - 2ηγ) W_l - η ∂_W_l Loss + sqrt(2 η T_m) ξ,  ξ ~ N(0, I)
Loss = mean over the (mini)batch of ‖x W_1 ··· W_L - y‖² (grokscope's regression MSE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..probes.modes import end_to_end
from ..tasks.teacher import TeacherTask
from ..tasks.teacher import build as build_teacher


def moments(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ_xx = xᵀx / n ``[M, d, d]`` and Σ_xy = xᵀy / n ``[M, d, c]`` of a batch ``x [M, n, d]``, ``y [M, n, c]``."""
    n = x.shape[1]
    xt = x.transpose(1, 2)
    return torch.bmm(xt, x) / n, torch.bmm(xt, y) / n


def chain_prefix(Ws: list[torch.Tensor]) -> list[torch.Tensor]:
    """[W_1, W_1 W_2, ..., W_1 ··· W_L] (the last one is W_eff)."""
    prefix = [Ws[0]]
    for W in Ws[1:]:
        prefix.append(torch.bmm(prefix[-1], W))
    return prefix


def chain_grads(Ws: list[torch.Tensor], sxx: torch.Tensor, sxy: torch.Tensor,
                prefix: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """∂/∂W_l of mean ‖x W_1 ··· W_L - y‖² = ⟨W_eff, Σ_xx W_eff⟩ - 2⟨W_eff, Σ_xy⟩ + const (row convention):
    G = 2 (Σ_xx W_eff - Σ_xy), ∂/∂W_l = (W_1 ··· W_{l-1})ᵀ G (W_{l+1} ··· W_L)ᵀ."""
    L = len(Ws)
    prefix = chain_prefix(Ws) if prefix is None else prefix
    G = 2 * (torch.bmm(sxx, prefix[-1]) - sxy)
    out: list[torch.Tensor] = [None] * L  # type: ignore[list-item]
    right = G  # G (W_{l+1} ··· W_L)ᵀ, built from the output side
    for i in range(L - 1, -1, -1):
        out[i] = right if i == 0 else torch.bmm(prefix[i - 1].transpose(1, 2), right)
        if i > 0:
            right = torch.bmm(right, Ws[i].transpose(1, 2))
    return out


@dataclass
class EscapeResult:
    """``escape[m, i]``: first step mode i of member m reached its threshold (inf: censored at ``steps``)."""

    escape: np.ndarray  # [M, k]
    temps: np.ndarray  # [M]
    seeds: np.ndarray  # [M]
    thresholds: np.ndarray  # [k]
    steps: int
    final_amplitude: np.ndarray  # [M, k]


def init_chain(depth: int, width: int, d_in: int, d_out: int, seeds: list[int], scale: float,
               dtype: torch.dtype) -> list[torch.Tensor]:
    """W_l ~ N(0, 1/fan_in)·scale per member (its own generator: a member's init does not depend on packing)."""
    dims = [d_in] + [width] * (depth - 1) + [d_out]
    layers = [torch.empty(len(seeds), dims[i], dims[i + 1], dtype=torch.float64) for i in range(depth)]
    for m, s in enumerate(seeds):
        g = torch.Generator().manual_seed(int(s))
        for i, W in enumerate(layers):
            W[m] = torch.randn(dims[i], dims[i + 1], generator=g, dtype=torch.float64) * dims[i] ** -0.5 * scale
    return [W.to(dtype) for W in layers]


def simulate(task: TeacherTask, depth: int, width: int, gamma: float, lr: float, temps: list[float],
             seeds: list[int], steps: int, init_scale: float = 0.1, batch_size: int | None = None,
             thresholds: list[float] | None = None, noise_seed: int = 0, dtype: torch.dtype = torch.float32,
             ) -> EscapeResult:
    """Train M = len(temps) × len(seeds) members (temperature outer, seed inner) for up to ``steps`` updates.

    ``thresholds[i]``: the escape amplitude of mode i (default: half its on-state amplitude b*^L from the mode
    model). Stops early once every member escaped in every mode. ``batch_size``: minibatch SGD (None: full batch)."""
    from .modes import landscape

    s = list(task.spectrum)
    if thresholds is None:
        thresholds = []
        for si in s:
            amp = landscape(depth, si, gamma).amplitude_on
            if amp is None:
                raise ValueError(f"mode s={si:g} has no on state at gamma={gamma:g} (depth {depth})")
            thresholds.append(0.5 * amp)
    T = np.repeat(np.asarray(temps, dtype=float), len(seeds))
    member_seeds = np.tile(np.asarray(seeds), len(temps))
    M = len(T)
    data = build_teacher(task, [int(x) for x in member_seeds])
    n = task.n_train
    x = torch.as_tensor(data.x[:, :n], dtype=dtype)  # [M, n, d]
    y = torch.as_tensor(data.y[:, :n], dtype=dtype)  # [M, n, c]
    U = torch.tensor(data.info["teacher_u"])
    V = torch.tensor(data.info["teacher_v"])
    Ws = init_chain(depth, width, x.shape[-1], y.shape[-1], [int(v) + 7919 for v in member_seeds], init_scale, dtype)
    sigma = torch.tensor(np.sqrt(2 * lr * T), dtype=dtype)
    noisy = bool(np.any(T > 0))
    gen = torch.Generator().manual_seed(noise_seed)
    bgen = torch.Generator().manual_seed(noise_seed + 1)
    # mode i's amplitude v_iᵀ W_eff u_i = <W_eff, v_i u_iᵀ>: one matmul against the flattened outer products
    proj = torch.einsum("ki,ko->kio", V.double(), U.double()).reshape(len(s), -1).T.to(dtype)  # [d·c, k]
    thr = torch.tensor(thresholds, dtype=dtype)
    escape = torch.full((M, len(s)), math.inf, dtype=torch.float64)
    full = batch_size is None or batch_size >= n
    sxx, sxy = moments(x, y)  # the loss is quadratic in W_eff: only Σ_xx and Σ_xy of the batch enter
    sizes = [W[0].numel() for W in Ws]
    t = 0
    while True:
        prefix = chain_prefix(Ws)
        if t > 0:  # the state after t updates: its amplitudes, from the product the next gradient needs anyway
            amp = prefix[-1].reshape(M, -1) @ proj  # [M, k]
            escape = torch.where((amp >= thr) & torch.isinf(escape), float(t), escape)
            if t % 200 == 0 and not torch.isinf(escape).any():
                break
        if t >= steps:
            break
        if not full:
            idx = torch.randint(0, n, (M, batch_size), generator=bgen)  # type: ignore[arg-type]
            sxx, sxy = moments(x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1])),
                               y.gather(1, idx[..., None].expand(-1, -1, y.shape[-1])))
        grads = chain_grads(Ws, sxx, sxy, prefix)
        xi = torch.randn(M, sum(sizes), generator=gen, dtype=dtype).mul_(sigma.view(M, 1)).split(sizes, 1) \
            if noisy else None
        for i, (W, g) in enumerate(zip(Ws, grads)):
            W.mul_(1 - 2 * lr * gamma).sub_(g, alpha=lr)
            if xi is not None:
                W.add_(xi[i].view(W.shape))
        t += 1
    final = (end_to_end(Ws).reshape(M, -1) @ proj).double().numpy()
    escape = escape.numpy()
    return EscapeResult(escape, T, member_seeds, np.asarray(thresholds), steps, final)
