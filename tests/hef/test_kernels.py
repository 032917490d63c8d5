"""HEF / two-field kernels on synthetic curves, planted representations and known Markov chains (issue 15 Checks)."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.hef import kink, landscape, markov, peaks, similarity


def test_norm_peak_found_on_a_noisy_hump_and_not_on_a_monotone_curve() -> None:
    rng = np.random.default_rng(0)
    steps = np.arange(0, 3000, 10)
    hump = 40 + 20 * np.exp(-((steps - 900) / 300) ** 2) + 0.3 * rng.standard_normal(len(steps))
    t = peaks.norm_peak(steps, hump, window=7)
    assert t is not None and abs(t - 900) <= 60
    rising = 40 + 0.01 * steps + 0.1 * rng.standard_normal(len(steps))
    assert peaks.norm_peak(steps, rising, window=9, prominence=0.05) is None


def test_fingerprint_rate_and_lead_times_count_only_grokked_runs() -> None:
    t_peak, t_grok = [100, 500, None, 300], [400, 450, 900, None]
    assert peaks.fingerprint_rate(t_peak, t_grok) == pytest.approx(1 / 3)
    assert peaks.lead_times(t_peak, t_grok).tolist() == [300, -50]


def test_tanh_fit_recovers_centre_and_width_and_collapse_r2() -> None:
    rng = np.random.default_rng(1)
    curves, kinks = [], []
    for t_c, w in [(800, 100), (1500, 250), (3000, 400)]:
        steps = np.arange(0, 5000, 20)
        acc = 0.02 + 0.96 * kink.kink_profile((steps - t_c) / w) + 0.002 * rng.standard_normal(len(steps))
        k = kink.fit_kink(steps, acc)
        assert k is not None and abs(k.t_c - t_c) < 0.05 * w + 10 and abs(k.w - w) < 0.1 * w
        curves.append((steps, acc))
        kinks.append(k)
    assert kink.collapse_r2(curves, kinks) > 0.97
    # a two-step rise is not one kink: the R² drops clearly (a linear ramp is NOT rejected: tanh ≈ linear over
    # |x| < 1, R² ≈ 0.99, so the collapse R² alone cannot tell a kink from a ramp)
    steps = np.arange(0, 5000, 20)
    two = 0.5 * kink.kink_profile((steps - 1000) / 80) + 0.5 * kink.kink_profile((steps - 3500) / 80)
    k = kink.fit_kink(steps, two)
    assert k is not None and kink.collapse_r2([(steps, two)], [k]) < 0.9


def test_linear_cka_is_one_under_rotation_and_low_for_unrelated_representations() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 8))
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    assert similarity.linear_cka(X, 3.0 * X @ Q) == pytest.approx(1.0, abs=1e-9)
    wide = np.hstack([X @ Q, np.zeros((60, 5))])  # another width, same representation
    assert similarity.linear_cka(X, wide) == pytest.approx(1.0, abs=1e-9)
    assert similarity.linear_cka(X, rng.standard_normal((60, 8))) < 0.4
    with pytest.raises(ValueError):
        similarity.linear_cka(X, X[:10])


def test_jaccard_and_its_chance_baseline() -> None:
    assert similarity.jaccard({1, 2, 3}, {2, 3, 4}) == pytest.approx(0.5)
    rng = np.random.default_rng(3)
    sim = np.mean([similarity.jaccard(rng.choice(21, 4, replace=False), rng.choice(21, 4, replace=False))
                   for _ in range(4000)])
    assert similarity.chance_jaccard(4, 21) == pytest.approx(sim, abs=0.01)


def test_entropy_production_zero_in_detailed_balance_positive_when_driven() -> None:
    n = 4
    sym = np.full((n, n), 0.1) + np.eye(n) * 0.6  # symmetric: detailed balance with uniform π
    ring = np.zeros((n, n))
    for i in range(n):  # driven cycle: forward 0.7, back 0.1
        ring[i, (i + 1) % n], ring[i, (i - 1) % n], ring[i, i] = 0.7, 0.1, 0.2
    assert markov.exact_entropy_production(sym) == pytest.approx(0.0, abs=1e-12)
    exact = markov.exact_entropy_production(ring)
    assert exact > 0.5
    rev = markov.entropy_production(markov.simulate_chain(sym, 20_000, seed=0), n)
    drv = markov.entropy_production(markov.simulate_chain(ring, 20_000, seed=0), n)
    assert abs(rev) < 0.005
    assert drv == pytest.approx(exact, rel=0.1)


def test_kmeans_separates_planted_clusters_and_pca_finds_the_long_axis() -> None:
    rng = np.random.default_rng(4)
    z = np.vstack([rng.normal(c, 0.1, (50, 2)) for c in ((0, 0), (5, 0), (0, 5))])
    labels = markov.kmeans(z, 3, seed=0)
    assert len(set(labels[:50])) == len(set(labels[50:100])) == len(set(labels[100:])) == 1
    assert len(set(labels)) == 3
    Z = np.outer(np.linspace(-1, 1, 100), [3.0, 0, 0]) + 0.01 * rng.standard_normal((100, 3))
    coords, ratio = landscape.pca(Z, 2)
    assert coords.shape == (100, 2) and ratio[0] > 0.99


def test_quasi_potential_is_lowest_where_the_trajectory_dwells() -> None:
    rng = np.random.default_rng(5)
    z = np.vstack([rng.normal(0, 0.2, (300, 2)), np.linspace((0, 0), (4, 4), 30), rng.normal(4, 0.2, (60, 2))])
    phi = landscape.quasi_potential(z, grid=20)
    assert phi["phi"].shape == (20, 20)
    dwell, passage = phi["at_points"][:300].mean(), phi["at_points"][300 + 10:300 + 20].mean()
    assert dwell < passage
