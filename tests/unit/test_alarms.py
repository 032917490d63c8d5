"""detect/alarms.py: sustained threshold, calibration to a false-alarm rate, events, AUROC."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.detect import alarms as A


def test_sustained_alarm_needs_k_consecutive():
    steps = np.arange(10) * 10
    s = np.array([0, 2, 0, 2, 2, 0, 2, 2, 2, 0.0])
    assert A.sustained_alarm(steps, s, 1.0, k=3) == 80
    assert A.sustained_alarm(steps, s, 1.0, k=2) == 40
    assert A.sustained_alarm(steps, s, 5.0, k=1) is None
    assert A.sustained_alarm(steps, -s, -1.0, k=3, direction=-1) == 80
    assert A.sustained_alarm(steps, np.where(s > 1, np.nan, s), -1.0, k=1) == 0


def test_calibration_on_controls_hits_the_false_alarm_rate():
    rng = np.random.default_rng(0)
    controls = [rng.normal(size=100) for _ in range(400)]
    thr = A.calibrate_on_controls(controls, fpr=0.1, k=3)
    rate = np.mean([A.sustained_alarm(np.arange(100), c, thr, 3) is not None for c in controls])
    assert rate <= 0.1 and rate > 0.05
    fresh = [rng.normal(size=100) for _ in range(400)]  # out of sample: close to the target
    assert np.mean([A.sustained_alarm(np.arange(100), c, thr, 3) is not None for c in fresh]) == pytest.approx(0.1, abs=0.05)


def test_calibration_on_early_window_and_lead_time():
    rng = np.random.default_rng(1)
    s = np.concatenate([rng.normal(size=200), 5 + rng.normal(size=50)])
    thr = A.calibrate_on_early(s, fpr=0.05, early=0.4)
    assert 1.0 < thr < 2.5
    alarm = A.sustained_alarm(np.arange(250), s, thr, k=3)
    assert 200 <= alarm <= 205
    assert A.lead_time(230, alarm) == 230 - alarm and A.lead_time(None, alarm) is None


def test_alarm_events_and_auroc():
    assert A.alarm_events("ews_ac1", [5, None]) == {"alarm/ews_ac1": [5, None]}
    assert A.auroc([3, 4], [1, 2]) == 1.0 and A.auroc([1], [1]) == 0.5
