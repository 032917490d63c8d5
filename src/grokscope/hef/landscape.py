"""Principal components of a trajectory and the quasi-potential Φ̂ = −ln p̂ (papers/03 §12, RECONSTRUCTED).

The two-field paper defines the information quasi-potential Φ_I = −ln p* with p* the stationary density; training
is not stationary, so here p̂ is a Gaussian KDE (``scipy.stats.gaussian_kde``, Scott's bandwidth) of the visited
points of the trajectory in its top principal components: Φ̂ is low where the trajectory dwells (plateaus), high
where it passes quickly. An operationalisation, not the paper's quantity.
"""

from __future__ import annotations

import numpy as np


def pca(Z: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` principal coordinates ``[T, k]`` of ``Z [T, D]`` (centred) and their explained-variance ratios."""
    Z = np.asarray(Z, float)
    Zc = Z - Z.mean(0)
    U, S, _ = np.linalg.svd(Zc, full_matrices=False)
    k = min(k, len(S))
    var = S ** 2
    ratio = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    return U[:, :k] * S[:k], ratio


def quasi_potential(z: np.ndarray, grid: int = 40) -> dict[str, np.ndarray]:
    """Φ̂ = −ln p̂ of the points ``z [T, d]`` (d = 1 or 2; the KDE needs more points than dimensions and a
    non-degenerate spread): at the points (``at_points [T]``) and, for d = 2, on a ``grid × grid`` mesh
    (``x``, ``y``, ``phi``) padded by 10% of the range."""
    from scipy.stats import gaussian_kde

    z = np.asarray(z, float)
    kde = gaussian_kde(z.T)
    out = {"at_points": -np.log(np.maximum(kde(z.T), 1e-300))}
    if z.shape[1] == 2:
        lo, hi = z.min(0), z.max(0)
        pad = 0.1 * (hi - lo + 1e-12)
        x = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid)
        y = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid)
        X, Y = np.meshgrid(x, y)
        out.update(x=x, y=y, phi=-np.log(np.maximum(kde(np.vstack([X.ravel(), Y.ravel()])), 1e-300)).reshape(X.shape))
    return out
