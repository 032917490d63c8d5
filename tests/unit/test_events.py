"""Transition times on crafted curves: first crossings, loss-rule streaks, censoring, inclusive thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.detect.events import MemberEvents, first_crossing, first_streak_below, member_events

STEPS = np.array([0, 1, 2, 4, 8, 16, 32, 64, 128, 256])


def test_first_crossing_basic():
    vals = np.array([0.0, 0.1, 0.5, 0.95, 0.2, 0.99, 1.0, 1.0, 1.0, 1.0])
    assert first_crossing(STEPS, vals, 0.9) == 4  # the first hit counts, even if the curve dips afterwards
    assert first_crossing(STEPS, vals, 0.99) == 16
    assert first_crossing(STEPS, vals, 0.0) == 0
    assert first_crossing(STEPS, vals, 1.01) is None
    assert isinstance(first_crossing(STEPS, vals, 0.9), int)


def test_threshold_inclusive():
    vals = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.95, 0.99, 0.99, 1.0])
    assert first_crossing(STEPS, vals, 0.9) == 16  # exactly at the threshold counts (>=)
    assert first_crossing(STEPS, vals, 0.99) == 64
    ev = member_events(0, 0, STEPS, vals, vals, mem_threshold=0.99, grok_threshold=0.9)
    assert (ev.t_mem, ev.t_grok) == (64, 16)
    just_below = np.nextafter(0.9, 0.0)
    assert first_crossing(STEPS, np.full(10, just_below), 0.9) is None


def test_nan_never_crosses():
    vals = np.array([np.nan] * 5 + [0.95] * 5)
    assert first_crossing(STEPS, vals, 0.9) == 16


def test_typical_grokking_member():
    train = np.array([0.01, 0.1, 0.5, 0.995, 1, 1, 1, 1, 1, 1])
    test = np.array([0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 0.6, 0.92, 0.99, 1.0])
    ev = member_events(3, 17, STEPS, train, test)
    assert ev == MemberEvents(member=3, seed=17, t_mem=4, t_grok=64, delay=60, censored=False, budget=256)
    assert ev.as_dict() == {"member": 3, "seed": 17, "t_mem": 4, "t_grok": 64, "delay": 60, "censored": False,
                            "budget": 256}


def test_custom_thresholds():
    train = np.array([0.0, 0.5, 0.8, 0.9, 0.95, 1, 1, 1, 1, 1])
    test = np.array([0.0, 0.1, 0.2, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0])
    ev = member_events(0, 0, STEPS, train, test, mem_threshold=0.9, grok_threshold=0.95)
    assert (ev.t_mem, ev.t_grok, ev.delay) == (4, 64, 60)
    ev = member_events(0, 0, STEPS, train, test, mem_threshold=1.0, grok_threshold=0.99)
    assert (ev.t_mem, ev.t_grok, ev.delay) == (16, 128, 112)


def test_censored_member():
    train = np.array([0.0, 0.5, 1, 1, 1, 1, 1, 1, 1, 1])
    test = np.array([0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.89])
    ev = member_events(1, 2, STEPS, train, test)
    assert ev.t_grok is None and ev.censored is True
    assert ev.budget == 256  # the last evaluated step, never a made-up time
    assert ev.delay is None
    assert ev.t_mem == 2


def test_budget_is_last_step_of_a_truncated_curve():
    ev = member_events(0, 0, STEPS[:6], np.zeros(6), np.zeros(6))
    assert ev.budget == 16 and ev.censored and ev.t_mem is None and ev.delay is None


def test_grok_without_mem():
    """Test accuracy crosses but train accuracy never reaches the mem threshold (e.g. label noise)."""
    train = np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.98])
    test = np.array([0.0, 0.1, 0.2, 0.5, 0.8, 0.91, 0.95, 0.99, 1.0, 1.0])
    ev = member_events(0, 0, STEPS, train, test)
    assert ev.t_mem is None and ev.t_grok == 16
    assert ev.delay is None and ev.censored is False


def test_grok_before_mem_gives_negative_delay():
    train = np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0, 1.0])
    test = np.array([0.0, 0.1, 0.2, 0.5, 0.8, 0.91, 0.95, 0.99, 1.0, 1.0])
    ev = member_events(0, 0, STEPS, train, test)
    assert (ev.t_mem, ev.t_grok, ev.delay) == (64, 16, -48)


def test_first_streak_below():
    loss = np.array([5.0, 4.0, 0.5, 0.4, 2.0, 0.3, 0.2, 0.1, 0.05, 0.01])
    assert first_streak_below(STEPS, loss, 1.0, 1) == 2
    assert first_streak_below(STEPS, loss, 1.0, 2) == 2  # [0.5, 0.4] at steps 2, 4
    assert first_streak_below(STEPS, loss, 1.0, 3) == 16  # the streak at 2..4 is broken at 8
    assert first_streak_below(STEPS, loss, 1.0, 5) == 16
    assert first_streak_below(STEPS, loss, 1.0, 6) is None
    assert first_streak_below(STEPS, loss, 0.05, 1) == 256  # strictly below: 0.05 itself does not count
    assert first_streak_below(STEPS, loss, 0.01, 1) is None


def test_loss_rule_in_member_events():
    train = np.ones(10)
    test_acc = np.zeros(10)  # accuracy never crosses: only the loss rule decides
    loss = np.array([5.0, 4.0, 0.5, 0.4, 2.0, 0.3, 0.2, 0.1, 0.05, 0.01])
    ev = member_events(0, 0, STEPS, train, test_acc, loss, loss_rule=(1.0, 3))
    assert ev.t_grok == 16 and ev.censored is False and ev.t_mem == 0 and ev.delay == 16
    ev = member_events(0, 0, STEPS, train, test_acc, loss, loss_rule=(1.0, 7))
    assert ev.t_grok is None and ev.censored is True and ev.delay is None
    # without the rule the same member is censored by the accuracy threshold
    assert member_events(0, 0, STEPS, train, test_acc, loss).censored is True
    with pytest.raises(ValueError, match="test loss"):
        member_events(0, 0, STEPS, train, test_acc, None, loss_rule=(1.0, 3))


def test_empty_curve():
    ev = member_events(0, 0, np.array([], dtype=int), np.array([]), np.array([]))
    assert ev.t_mem is None and ev.t_grok is None and ev.censored and ev.budget == 0
