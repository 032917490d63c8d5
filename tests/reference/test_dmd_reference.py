"""Hankel DMD eigenvalues and reconstruction against PyDMD's HankelDMD (optional extra ``dmd``)."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.detect import dmd as D

pydmd = pytest.importorskip("pydmd")


def test_eigenvalues_match_pydmd_hankel():
    rng = np.random.default_rng(0)
    T, m = 40, 5
    t = np.arange(T)
    modes = rng.normal(size=(m, 3))
    traj = (modes @ np.stack([0.97 ** t, 0.8 ** t * np.cos(0.3 * t), 0.8 ** t * np.sin(0.3 * t)])).T
    traj = traj + 1e-3 * rng.normal(size=traj.shape)
    d, r = 3, 3
    ref = pydmd.HankelDMD(svd_rank=r, d=d).fit(traj.T)  # snapshots as columns
    ours = D.hankel_dmd(traj, delay=d, rank=r)
    key = lambda z: (round(z.real, 6), round(z.imag, 6))  # noqa: E731
    assert np.allclose(sorted(ours.eigs, key=key), sorted(np.asarray(ref.eigs), key=key), atol=1e-8)
