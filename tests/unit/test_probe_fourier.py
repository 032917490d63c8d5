"""The ``fourier`` probe (issue 13): per-member spectra of W_E and W_U in both bases, label-free."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from grokscope.mech import numtheory as nt
from grokscope.probes.base import PROBES
from grokscope.probes.fourier import fourier


def _planted(p: int, keys: list[int], d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ind = nt.discrete_log_table(p)[1:]
    feats = np.stack([f(2 * np.pi * k * ind / (p - 1)) for k in keys for f in (np.cos, np.sin)], 1)
    return feats @ rng.normal(size=(feats.shape[1], d)) + 0.05 * rng.normal(size=(p - 1, d))


def test_probe_on_planted_members():
    p, d = 31, 16
    rng = np.random.default_rng(3)
    W_E = np.zeros((2, p + 1, d))  # tokens 0 … p (p is "="); member 0 planted characters, member 1 noise
    W_E[0, 1:p] = _planted(p, [3, 15], d, 0)
    W_E[1] = rng.normal(size=(p + 1, d))
    W_U = rng.normal(size=(2, d, p))
    ctx = SimpleNamespace(params={"W_E": torch.as_tensor(W_E), "W_U": torch.as_tensor(W_U)},
                          roles=SimpleNamespace(embed="W_E", unembed="W_U"),
                          task={"name": "modular", "op": "mul", "p": p, "exclude_zero": True})
    out = fourier(ctx)
    assert {"fourier/gini_add", "fourier/gini_mul", "fourier/ipr_mul", "fourier/top5_mul",
            "fourier/gini_mul_unembed"} <= set(out)
    assert all(v.shape == (2,) for v in out.values())
    assert out["fourier/gini_mul"][0] > 0.7 > out["fourier/gini_add"][0]
    assert out["fourier/gini_mul"][0] > out["fourier/gini_mul"][1] + 0.4
    assert out["fourier/top5_mul"][0] > 0.99 and out["fourier/ipr_mul"][0] < 3
    assert out["fourier/gini_mul_unembed"][0] < 0.4  # W_U is noise in both members


def test_probe_is_registered_label_free_and_silent_off_modular():
    import grokscope.probes  # noqa: F401 - auto-registration of every probe module

    assert "fourier" in PROBES
    ctx = SimpleNamespace(params={}, roles=None, task={"name": "parity"})
    assert fourier(ctx) == {}
