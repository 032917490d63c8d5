"""Spectral kernels (paper 2 §2.3) on planted embeddings, neurons and clock logits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grokscope.mech import numtheory as nt
from grokscope.mech import spectrum
from grokscope.mech.domain import make_domain
from grokscope.mech.progress import clock_directions, clock_fit, progress_measures

P = 59
MUL = SimpleNamespace(name="modular", op="mul", p=P, exclude_zero=True)
ADD = SimpleNamespace(name="modular", op="add", p=P, exclude_zero=False)


def planted_embedding(p: int, keys: list[int], d: int = 48, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """W_E rows over a = 1 … p−1 built from the characters cos/sin(ω_k ind(a)) of ``keys`` plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    ind = nt.discrete_log_table(p)[1:]
    cols = [f(2 * np.pi * k * ind / (p - 1)) for k in keys for f in (np.cos, np.sin)]
    feats = np.stack(cols, 1)  # [n, 2|S|]
    return feats @ rng.normal(size=(feats.shape[1], d)) + noise * rng.normal(size=(p - 1, d))


def test_gini_and_ipr_reference_values():
    flat = torch.ones(10, dtype=torch.float64)
    one = torch.zeros(10, dtype=torch.float64)
    one[3] = 2.0
    assert float(spectrum.gini(flat)) == pytest.approx(0.0, abs=1e-12)
    assert float(spectrum.gini(one)) == pytest.approx(0.9)  # (K−1)/K
    assert float(spectrum.ipr(flat)) == pytest.approx(10.0)
    assert float(spectrum.ipr(one)) == pytest.approx(1.0)
    assert float(spectrum.top_share(one, 1)) == pytest.approx(1.0)
    batch = torch.stack([flat, one])
    assert spectrum.gini(batch).shape == (2,)


def test_planted_characters_recovered_exactly():
    keys = [2, 9, 29]  # 29 = (p−1)/2: the Legendre character, whose sin row is degenerate
    W = torch.as_tensor(planted_embedding(P, keys))
    mul = spectrum.frequency_norms(torch.as_tensor(make_domain(MUL, "multiplicative").basis), W)
    add = spectrum.frequency_norms(torch.as_tensor(make_domain(MUL, "additive").basis), W)
    assert mul.shape == (29,) and add.shape == (29,)
    assert spectrum.key_frequencies(mul, 5.0) == keys
    assert spectrum.key_frequencies(add, 5.0) == []
    assert float(spectrum.gini(mul)) > 0.8 > 0.3 > float(spectrum.gini(add))
    assert float(spectrum.ipr(mul)) < 4 < 20 < float(spectrum.ipr(add))


def test_effective_rank_of_planted_embedding():
    W = torch.as_tensor(planted_embedding(P, [3, 7], noise=0.0))
    assert float(spectrum.effective_rank(W)) <= 4.0 + 1e-9  # 4 real directions
    assert float(spectrum.effective_rank(torch.eye(8, dtype=torch.float64))) == pytest.approx(8.0)


def test_neuron_fractions_single_frequency_neurons():
    dom = make_domain(MUL, "multiplicative")
    al = torch.as_tensor(dom.coord, dtype=torch.float64)
    arg = al[:, None] + al[None, :]
    k1, k2 = 5, 12
    h1 = torch.cos(dom.omega(k1) * arg) + 0.3  # one frequency, with a DC offset (zeroed before the fractions)
    h2 = torch.relu(torch.cos(dom.omega(k2) * arg))  # ReLU harmonics leak energy to 2k, 3k, ...
    rng = np.random.default_rng(1)
    h3 = torch.as_tensor(rng.normal(size=(P - 1, P - 1)))
    H = torch.stack([h1, h2, h3], -1)
    frac = spectrum.neuron_fractions(torch.as_tensor(dom.basis), H)
    assert frac.shape == (3, 29)
    assert float(frac[0, k1 - 1]) == pytest.approx(1.0, abs=1e-9)
    assert int(frac[1].argmax()) == k2 - 1 and 0.5 < float(frac[1, k2 - 1]) < 0.95
    assert float(frac[2].max()) < 0.2
    assert float(spectrum.clean_fraction(frac)) == pytest.approx(1 / 3)
    # in the additive basis the character neuron is not clean
    fa = spectrum.neuron_fractions(torch.as_tensor(make_domain(MUL, "additive").basis), H)
    assert float(fa[0].max()) < 0.5


def test_progress_measures_on_clock_logits():
    """Logits that are exactly a clock on the key frequencies (plus class-wise noise the clock cannot carry)."""
    dom = make_domain(ADD, "additive")
    keys = [4, 17]
    al = torch.as_tensor(dom.coord, dtype=torch.float64)
    n = dom.n
    arg = (al[:, None] + al[None, :]).flatten()[:, None] - al[None, :]  # [n², C]
    clock = sum(torch.cos(dom.omega(k) * arg) for k in keys) * 12.0
    y = ((al[:, None] + al[None, :]) % P).flatten().long()
    rng = np.random.default_rng(0)
    train = torch.as_tensor(rng.random(n * n) < 0.3)
    memo = torch.zeros_like(clock)
    memo[train, y[train]] = 6.0  # a lookup table on the training inputs: not in the clock directions
    z = (clock + 0.2 * memo)[None]
    D = clock_directions(dom, keys)
    assert D.shape == (4, n * n)
    np.testing.assert_allclose((D @ D.T).numpy(), np.eye(4), atol=1e-10)
    pm = progress_measures(z, y, train[None], D)
    assert float(pm["restricted_acc"][0]) == 1.0
    assert float(pm["restricted_loss"][0]) < 2 * float(pm["full_loss"][0])
    assert float(pm["excluded_loss"][0]) > 10 * float(pm["train_loss"][0])
    r2, coef = clock_fit(clock, dom, keys)
    assert r2 == pytest.approx(1.0, abs=1e-9) and coef == pytest.approx([12.0, 12.0])
    r2_wrong, _ = clock_fit(clock, dom, [5])
    assert r2_wrong < 0.05
