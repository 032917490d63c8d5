"""Kernels of ``reproduce feature-lottery`` (paper 8, Yang 2026, arXiv:2605.24057; papers/02 §8).

Pure functions on tensors / arrays; the GMM pieces (β_c, EM, NC1) are ``probes.gmm``'s. Everything marked
[reconstructed] is a reading of the abstract and the demo page (02 §8), exposed as an option of the experiment.

- Toy: ``anisotropic_mixture`` (d = 10, a few clusters along axes of decreasing spread); ``pitchfork`` runs K
  prototypes from the collapsed state (plus a tiny kick) through EM at fixed β on a grid of β/β_c and returns the
  prototype spread per β (the collapsed state is stable below β_c = 1/λ_max and a saddle above: the linearised EM map
  is β·Cov z on the antisymmetric modes, growth factor β/β_c per iteration); ``critical_ratio`` reads the crossing.
- Direction persistence [reconstructed]: anneal β from below β_c to ``beta_end``·β_c; per prototype, its displacement
  along the principal eigenvector just after onset and at the end; Spearman ρ over the K prototypes.
- Trajectory shapes [reconstructed heuristics; the paper's rule, App. I, is not available]: ``classify_shape`` of a
  (log β/β_c, log NC1) trajectory into "no arc", "fold-back", "delayed escape", "full V", or "forbidden".
- SAE lottery: ``train_sae`` (ReLU SAE, unit-norm decoder columns, L1), ``atom_purity`` (share of an atom's top-k
  activating examples holding its majority latent label), on activations of a small self-trained MLP over synthetic
  data with a known latent label per example (``latent_data``, ``train_encoder``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import Tensor

from ..probes.gmm import beta_c, covariance, em_step

SHAPES = ("full V", "fold-back", "delayed escape", "no arc", "forbidden")


# -- toy mixtures ------------------------------------------------------------------------------------------------
def anisotropic_mixture(n: int, d: int = 10, seed: int = 0) -> Tensor:
    """``[n, d]`` float64: four clusters at ±3 e_1 and ±1.5 e_2 (weights ½, ½ of each pair) with axis-wise noise
    std decreasing from 1 to 0.3: a covariance with a clear top eigenvector (e_1)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.zeros(4, d, dtype=torch.float64)
    centres[0, 0], centres[1, 0], centres[2, 1], centres[3, 1] = 3.0, -3.0, 1.5, -1.5
    which = torch.randint(0, 4, (n,), generator=g)
    std = torch.linspace(1.0, 0.3, d, dtype=torch.float64)
    return centres[which] + torch.randn(n, d, generator=g, dtype=torch.float64) * std


def _run_em(Z: Tensor, mu: Tensor, beta: float, iters: int) -> Tensor:
    b = torch.tensor([beta], dtype=torch.float64)
    for _ in range(iters):
        mu, _, _ = em_step(Z[None], mu, b)  # fixed β: the fitted precision is discarded
    return mu


def collapsed_start(Z: Tensor, K: int, kick: float, seed: int) -> Tensor:
    """``[1, K, d]``: every prototype at the mean plus a kick of relative size ``kick`` (× sqrt λ_max)."""
    g = torch.Generator().manual_seed(seed)
    scale = kick / float(beta_c(Z[None])[0]) ** 0.5
    return Z.mean(0)[None, None] + scale * torch.randn(1, K, Z.shape[1], generator=g, dtype=torch.float64)


def spread(mu: Tensor, centre: Tensor) -> float:
    """RMS distance of the prototypes ``[1, K, d]`` from ``centre`` ``[d]``."""
    return float((mu[0] - centre).square().sum(-1).mean().sqrt())


def pitchfork(Z: Tensor, ratios: np.ndarray, K: int = 200, iters: int = 200, kick: float = 1e-4,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(spread per β/β_c in ``ratios``, |cos| of the mean displacement with the top eigenvector per ratio)."""
    bc = float(beta_c(Z[None])[0])
    v1 = torch.linalg.eigh(covariance(Z[None])[0])[1][:, -1]
    c = Z.mean(0)
    out, align = [], []
    for r in ratios:
        mu = _run_em(Z, collapsed_start(Z, K, kick, seed), r * bc, iters)
        out.append(spread(mu, c))
        disp = mu[0] - c
        w = disp.norm(dim=1, keepdim=True).clamp_min(1e-300)
        align.append(float(((disp / w) @ v1).abs().mean()))
    return np.array(out), np.array(align)


def critical_ratio(ratios: np.ndarray, spreads: np.ndarray, kick_spread: float, iters: int) -> float:
    """The β/β_c at which the prototypes' mean log growth per EM iteration, log(spread/kick)/iters, crosses 0
    (linear interpolation between the grid points that bracket it): decay below, growth above. nan if no sign
    change on the grid."""
    rate = np.log(np.maximum(spreads, 1e-300) / kick_spread) / iters
    idx = np.nonzero((rate[:-1] <= 0) & (rate[1:] > 0))[0]
    if idx.size == 0:
        return math.nan
    i = idx[0]
    x0, x1, y0, y1 = ratios[i], ratios[i + 1], rate[i], rate[i + 1]
    return float(x0 + (x1 - x0) * (-y0) / (y1 - y0))


def direction_persistence(Z: Tensor, K: int = 200, beta_end: float = 3.0, iters: int = 400, kick: float = 1e-4,
                          seed: int = 0) -> float:
    """Spearman ρ over the K prototypes of their displacement along the top eigenvector at onset (the first
    iteration whose spread exceeds 100 × the kick) and at the end of an anneal of β/β_c from 0.9 to ``beta_end``
    (geometric in the iteration) [reconstructed reading of 'ρ(initial direction, direction at T)']."""
    bc = float(beta_c(Z[None])[0])
    v1 = torch.linalg.eigh(covariance(Z[None])[0])[1][:, -1]
    c = Z.mean(0)
    mu = collapsed_start(Z, K, kick, seed)
    kick_spread = spread(mu, c)
    onset = None
    for r in np.geomspace(0.9, beta_end, iters):
        mu = _run_em(Z, mu, r * bc, 1)
        if onset is None and spread(mu, c) > 100 * kick_spread:
            onset = ((mu[0] - c) @ v1).numpy().copy()
    if onset is None:
        return math.nan
    final = ((mu[0] - c) @ v1).numpy()
    return float(spearmanr(onset, final).statistic)


# -- trajectory shapes -----------------------------------------------------------------------------------------
def classify_shape(steps: np.ndarray, log_ratio: np.ndarray, log_nc1: np.ndarray, min_drop: float = math.log(2),
                   lag: float = 0.3, fold: float = 0.5, escape: float = 0.2) -> str:
    """The shape of a trajectory in the (log β/β_c, log NC1) plane [reconstructed heuristics, 02 §8]:

    - ``no arc``: log NC1 never falls by ``min_drop`` below its start (no clustering);
    - ``fold-back``: after its maximum, log β/β_c falls back by more than ``fold`` × its range (β_c(t) rising);
    - ``delayed escape``: the escape (log NC1 has fallen by ``escape`` × its total fall) comes after the first step
      at or above criticality (log β/β_c ≥ 0) by at least ``lag`` of the trajectory's span in log-steps;
    - ``full V``: the NC1 fall follows the crossing promptly;
    - ``forbidden``: NC1 falls without the trajectory ever reaching criticality (the shape the theory excludes)."""
    x, y, t = (np.asarray(a, float) for a in (log_ratio, log_nc1, steps))
    drop = y[0] - y.min()
    if not np.isfinite(drop) or drop < min_drop:
        return "no arc"
    span = np.ptp(x)
    if span > 0 and x.max() - x[int(np.argmax(x)):].min() > fold * span and np.argmax(x) < len(x) - 1:
        return "fold-back"
    cross = np.nonzero(x >= 0)[0]
    if cross.size == 0:
        return "forbidden"
    lt = np.log(np.maximum(t, 1.0))
    esc = np.nonzero(y <= y[0] - escape * drop)[0][0]
    span_t = max(lt[-1] - lt[0], 1e-12)
    return "delayed escape" if (lt[esc] - lt[cross[0]]) / span_t >= lag else "full V"


# -- SAE lottery -------------------------------------------------------------------------------------------------
def latent_data(n: int, n_labels: int = 15, d: int = 32, n_side: int = 32, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(x ``[n, d]``, label ``[n]``): each example carries one latent label (a 'POS tag', Zipf-like frequencies)
    with a random direction, plus sparse side features (each active w.p. 0.05) and noise 0.1."""
    g = torch.Generator().manual_seed(seed)
    freq = 1.0 / torch.arange(1, n_labels + 1, dtype=torch.float64) ** 0.7
    label = torch.multinomial(freq / freq.sum(), n, replacement=True, generator=g)
    U = torch.randn(n_labels, d, generator=g, dtype=torch.float64)
    S = torch.randn(n_side, d, generator=g, dtype=torch.float64) * 0.7
    amp = 1 + 0.3 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    side = (torch.rand(n, n_side, generator=g, dtype=torch.float64) < 0.05) * torch.rand(n, n_side, generator=g)
    x = U[label] * amp + side.double() @ S + 0.1 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x.float(), label


def train_encoder(x: Tensor, label: Tensor, hidden: int = 64, steps: int = 300, seed: int = 0) -> Tensor:
    """Train a 1-hidden-layer ReLU MLP to predict the label; return its hidden activations ``[n, hidden]``."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, int(label.max()) + 1))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), label).backward()
        opt.step()
    with torch.no_grad():
        return net[1](net[0](x))


def train_sae(H: Tensor, n_atoms: int = 256, steps: int = 2000, l1: float = 3e-3, batch: int = 256,
              snapshot: int = 100, seed: int = 0) -> tuple[Tensor, Tensor]:
    """ReLU SAE ``f = relu((h − b_d) W_e + b_e)``, ``ĥ = f W_d + b_d`` with unit-norm decoder rows; loss
    ‖h − ĥ‖² + l1·‖f‖₁. Returns the codes of every example at step ``snapshot`` and at the end (``[n, n_atoms]``)."""
    g = torch.Generator().manual_seed(seed)
    d = H.shape[1]
    W_d = torch.randn(n_atoms, d, generator=g)
    W_d = torch.nn.Parameter(W_d / W_d.norm(dim=1, keepdim=True))
    W_e = torch.nn.Parameter(W_d.detach().T.clone())
    b_e = torch.nn.Parameter(torch.zeros(n_atoms))
    b_d = torch.nn.Parameter(H.mean(0).clone())
    opt = torch.optim.Adam([W_d, W_e, b_e, b_d], lr=1e-3)
    scale = H.norm(dim=1).mean()
    Hn = H / scale

    def codes() -> Tensor:
        with torch.no_grad():
            return torch.relu((Hn - b_d) @ W_e + b_e)

    early = codes()
    for step in range(1, steps + 1):
        idx = torch.randint(0, Hn.shape[0], (batch,), generator=g)
        h = Hn[idx]
        f = torch.relu((h - b_d) @ W_e + b_e)
        loss = (f @ W_d + b_d - h).square().sum(1).mean() + l1 * f.abs().sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            W_d.div_(W_d.norm(dim=1, keepdim=True).clamp_min(1e-12))
        if step == snapshot:
            early = codes()
    return early, codes()


def atom_purity(codes: Tensor, label: Tensor, k: int = 50) -> np.ndarray:
    """``[n_atoms]``: the share of each atom's top-k activating examples (active ones only) holding its majority
    label; nan for an atom active on fewer than 5 examples (dead)."""
    n_labels = int(label.max()) + 1
    out = np.full(codes.shape[1], np.nan)
    vals, idx = codes.topk(min(k, codes.shape[0]), dim=0)  # [k, n_atoms]
    for a in range(codes.shape[1]):
        act = idx[:, a][vals[:, a] > 0]
        if act.numel() < 5:
            continue
        counts = torch.bincount(label[act], minlength=n_labels)
        out[a] = float(counts.max()) / act.numel()
    return out


def lottery_stats(early: np.ndarray, final: np.ndarray, n_labels: int) -> tuple[float, float, float]:
    """(Spearman ρ_id of early vs final purity over atoms alive at both, top-decile-by-early final purity, its ratio
    to the uniform-random baseline 1/n_labels)."""
    ok = np.isfinite(early) & np.isfinite(final)
    if ok.sum() < 10:
        return math.nan, math.nan, math.nan
    e, f = early[ok], final[ok]
    rho = float(spearmanr(e, f).statistic)
    top = f[np.argsort(-e)[: max(1, len(e) // 10)]].mean()
    return rho, float(top), float(top * n_labels)
