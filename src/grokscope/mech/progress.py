"""Progress measures (Nanda et al. 2023 §5) and the clock fit, on the logits over the operand grid.

With key frequencies k ∈ S (from the embedding spectrum in the task's sparse basis) and clock coordinates α (a for
addition, ind_g(a) for multiplication; ``Domain``), the clock directions on the n × n grid are
u_k = cos(ω_k(α_a + s·α_b)) and v_k = sin(ω_k(α_a + s·α_b)), ω_k = 2πk/q (s = −1 for sub/div). They are orthogonal
on the full grid. For each class c the logit table z_c[a, b] is split into its projection on span{1, u_k, v_k : k ∈ S}
and the rest:

- *restricted loss*: CE of the projection (constant + key directions) on every grid input — low if the key
  frequencies carry the computation;
- *excluded loss*: CE of z minus its projection on the key directions, on the training inputs — high once the
  memorised lookup has been replaced by the clock (Nanda: it rises before test loss falls).

For multiplication in the character basis this is the test that the Discrete-Log Clock *is* the algorithm, not only a
sparse spectrum. The clock fit is the R² of the class-centred logits against Σ_k c_k cos(ω_k(α_a + s·α_b − α_c)).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .domain import Domain


def clock_directions(dom: Domain, keys: list[int]) -> Tensor:
    """Unit clock directions ``[2|S|, n²]`` (u_k, v_k per key frequency, grid order (a, b) row-major)."""
    al = torch.as_tensor(dom.coord, dtype=torch.float64)
    arg = al[:, None] + dom.sign * al[None, :]  # [n, n]
    rows = []
    for k in keys:
        w = dom.omega(k) * arg
        for r in (torch.cos(w), torch.sin(w)):
            r = r.flatten()
            nrm = r.norm()
            if nrm > 1e-8:  # sin vanishes for k = q/2
                rows.append(r / nrm)
    return torch.stack(rows) if rows else torch.zeros(0, dom.n ** 2, dtype=torch.float64)


def split_logits(z: Tensor, D: Tensor) -> tuple[Tensor, Tensor]:
    """``z [M, n², C]``, directions ``D [r, n²]`` -> (restricted, excluded) logits, same shape.

    restricted = mean over the grid + projection on D; excluded = z − projection on D."""
    proj = torch.einsum("rg,mgc->mrc", D, z)
    key = torch.einsum("rg,mrc->mgc", D, proj)
    return z.mean(1, keepdim=True) + key, z - key


def _nll(z: Tensor, y: Tensor) -> Tensor:
    """Per-example cross-entropy ``[M, B]`` of ``z [M, B, C]`` (float64) against ``y [B]``."""
    return -torch.log_softmax(z.double(), -1).gather(-1, y.expand(z.shape[0], -1)[..., None])[..., 0]


def progress_measures(z: Tensor, y: Tensor, train_mask: Tensor, D: Tensor) -> dict[str, Tensor]:
    """Losses per member [M] from grid logits ``z [M, n², C]``, labels ``y [n²]``, ``train_mask [M, n²]`` bool.

    ``full_loss``/``restricted_loss`` on all grid inputs; ``train_loss``/``excluded_loss`` on each member's train
    inputs; ``restricted_acc`` on all grid inputs."""
    zr, zx = split_logits(z.double(), D)
    full, excl = _nll(z, y), _nll(zx, y)
    w = train_mask.double()
    n_train = w.sum(1).clamp_min(1)
    return {"full_loss": full.mean(1), "restricted_loss": _nll(zr, y).mean(1),
            "restricted_acc": (zr.argmax(-1) == y).double().mean(1),
            "train_loss": (full * w).sum(1) / n_train, "excluded_loss": (excl * w).sum(1) / n_train}


def clock_fit(z: Tensor, dom: Domain, keys: list[int]) -> tuple[float, list[float]]:
    """R² and coefficients c_k of one member's logits ``z [n², C]`` (classes restricted to ``dom.values``),
    centred over classes, against Σ_k c_k cos(ω_k(α_a + s·α_b − α_c))."""
    if not keys:
        return float("nan"), []
    al = torch.as_tensor(dom.coord, dtype=torch.float64)
    zc = z[:, torch.as_tensor(dom.values)].double()
    zc = zc - zc.mean(-1, keepdim=True)
    arg = (al[:, None] + dom.sign * al[None, :]).flatten()[:, None] - al[None, :]  # [n², n]
    X = torch.stack([torch.cos(dom.omega(k) * arg).flatten() for k in keys], 1)  # [n²·n, |S|]
    t = zc.flatten()
    coef = torch.linalg.lstsq(X, t[:, None]).solution[:, 0]
    resid = t - X @ coef
    r2 = 1.0 - float(resid.pow(2).sum() / t.pow(2).sum().clamp_min(1e-300))
    return r2, [float(c) for c in coef]


def train_mask(rows: np.ndarray, train_idx: np.ndarray) -> Tensor:
    """``[M, n²]`` bool: grid example i is in member m's training set (``rows`` = grid -> task example index)."""
    out = np.zeros((train_idx.shape[0], len(rows)), dtype=bool)
    for m in range(train_idx.shape[0]):
        out[m] = np.isin(rows, train_idx[m])
    return torch.as_tensor(out)
