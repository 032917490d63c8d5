"""detect/dmd.py: Hankel embedding, DMD of a known linear system, residual at a regime change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grokscope.detect import dmd as D
from grokscope.detect.observables import logprob_quantiles


def _linear_traj(T=60, m=6, seed=0, lams=(0.95, 0.8)):
    rng = np.random.default_rng(seed)
    modes = rng.normal(size=(m, len(lams)))
    t = np.arange(T)
    return (modes @ np.stack([lam ** t for lam in lams])).T, modes  # [T, m]


def test_hankel_columns():
    X = np.arange(12.0).reshape(6, 2)
    H = D.hankel(X, 3)
    assert H.shape == (6, 4)
    assert np.array_equal(H[:, 1], np.concatenate([X[1], X[2], X[3]]))


def test_dmd_recovers_eigenvalues_of_a_linear_system():
    traj, _ = _linear_traj()
    out = D.hankel_dmd(traj, delay=2, rank=2)
    assert np.sort(out.eigs.real) == pytest.approx([0.8, 0.95], abs=1e-8)
    assert out.residual < 1e-8 and out.n_growing == 0


def test_growing_mode_detected():
    traj, _ = _linear_traj(lams=(1.05, 0.5))
    out = D.hankel_dmd(traj, delay=2, rank=2)
    assert out.spectral_radius == pytest.approx(1.05, abs=1e-6) and out.n_growing == 1


def test_residual_peaks_at_a_regime_change():
    a, _ = _linear_traj(60, lams=(0.97, 0.9), seed=1)
    b, _ = _linear_traj(60, lams=(0.6, 0.99), seed=2)
    traj = np.concatenate([a, b + a[-1] - b[0]])
    s = D.sliding_hankel_dmd(traj, window=16, delay=2, rank=2)
    peak = s.end_index[np.argmax(s.residual)]
    assert 60 <= peak < 60 + 16
    assert np.median(s.residual) < 0.1 * s.residual.max()


def test_effective_rank_and_quantiles():
    assert D.effective_rank(np.ones(4)) == pytest.approx(4.0)
    assert D.effective_rank(np.array([1.0, 0, 0])) == pytest.approx(1.0)
    q = D.quantile_coords(np.arange(100.0), m=4)
    assert q.shape == (4,) and np.all(np.diff(q) > 0)
    z = torch.zeros(1, 10, 5)
    assert torch.allclose(logprob_quantiles(z, torch.zeros(1, 10, dtype=torch.long), 3), torch.full((1, 3), -np.log(5.0),
                                                                                                      dtype=torch.float64))
