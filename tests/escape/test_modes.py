"""The analytic mode model (papers/01 §3.3 [reconstructed]): barrier vs brute force, γ_c, γ_sp, hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.escape import modes


@pytest.mark.parametrize("depth,s,gamma", [(3, 1.0, 0.2), (3, 1.0, 0.35), (4, 1.0, 0.2), (4, 2.0, 0.5),
                                           (5, 0.7, 0.1), (3, 1.5, 0.05)])
def test_barrier_from_roots_matches_brute_force_grid(depth, s, gamma):
    dE = modes.barrier(depth, s, gamma)
    grid = modes.barrier_grid(depth, s, gamma)
    assert dE is not None and dE > 0
    assert grid == pytest.approx(dE, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("depth,s", [(3, 1.0), (4, 1.0), (3, 2.5), (6, 0.8)])
def test_gamma_c_is_where_the_two_minima_are_equal(depth, s):
    gc = modes.critical(depth, s)
    assert 0 < gc < modes.spinodal(depth, s)
    at = modes.landscape(depth, s, gc)
    assert at.loss_on == pytest.approx(0.0, abs=1e-10)  # ℓ(b*) = ℓ(0)
    below, above = modes.landscape(depth, s, 0.9 * gc), modes.landscape(depth, s, 1.05 * gc)
    assert below.loss_on < 0 < above.loss_on  # on global below γ_c, off global above
    assert below.phase == "coexistence (on global)" and above.phase == "coexistence (off global)"
    # the brute-force global minimum agrees: at 0.9 γ_c it is b*, at 1.05 γ_c it is 0
    b, v = modes.brute_force_minimum(depth, s, 0.9 * gc)
    assert b == pytest.approx(below.b_on, abs=1e-4) and v == pytest.approx(below.loss_on, abs=1e-7)
    assert modes.brute_force_minimum(depth, s, 1.05 * gc)[0] == 0.0


def test_spinodal_is_where_the_on_minimum_disappears():
    gsp = modes.spinodal(3, 1.0)
    assert modes.landscape(3, 1.0, 0.999 * gsp).b_on is not None
    assert modes.landscape(3, 1.0, 1.001 * gsp).phase == "off only"
    assert modes.barrier(3, 1.0, 1.001 * gsp) is None


def test_off_state_always_locally_stable_for_depth_at_least_three():
    for g in (1e-3, 0.1, 0.4):
        assert modes.curvature(0.0, 3, 1.0, g) == pytest.approx(2 * g * 3)
        assert modes.barrier(3, 1.0, g) > 0


def test_second_order_case_depth_two():
    la = modes.landscape(2, 1.0, 0.5)
    assert la.phase == "second order" and la.gamma_c == 1.0 and la.barrier == 0.0
    assert la.b_on == pytest.approx(np.sqrt(1.0 - 0.5))  # ℓ = b⁴ - 2(s-γ)b²


def test_bad_input_is_a_value_error():
    for args in ((0, 1.0, 0.2), (3, -1.0, 0.2), (3, 0.0, 0.2), (3, 1.0, -0.1), (3, float("nan"), 0.1)):
        with pytest.raises(ValueError):
            modes.landscape(*args)


def test_hysteresis_loop_up_leaves_past_spinodal_down_never_returns():
    gammas = np.linspace(0.02, 0.6, 30)
    h = modes.hysteresis(3, 1.0, gammas)
    up = np.array(h["amplitude_up"])
    g_up = np.array(h["gamma_up"])
    gsp = modes.spinodal(3, 1.0)
    assert np.all(up[g_up < gsp] > 0.2) and np.all(up[g_up > gsp + 0.02] < 1e-6)
    assert max(h["amplitude_down"]) < 1e-6  # b = 0 stays locally stable all the way down
