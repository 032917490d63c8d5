"""Verdict rules of the dlc / clock claim rows."""

from __future__ import annotations

import math

from grokscope.experiments.claims import Estimate
from grokscope.mech.reproduce import _est, at_least, in_range


def test_at_least_and_in_range():
    assert at_least(0.45)(0.58, Estimate(0.5)) == "reproduced"
    assert at_least(0.45)(0.58, Estimate(0.3)) == "contradicted"
    assert at_least(0.45)(0.58, Estimate(0.5, 0.4, 0.6)) == "shape reproduced"  # the CI reaches below
    assert at_least(0.45)(0.58, Estimate(math.nan)) == "not reproduced"
    assert in_range(4, 7)(4, Estimate(5)) == "reproduced"
    assert in_range(4, 7)(4, Estimate(8)) == "contradicted"
    assert in_range(4, 7)(4, Estimate(5, 3, 6)) == "shape reproduced"


def test_estimate_over_runs():
    assert _est([2.0]).value == 2.0 and not _est([2.0]).has_ci
    e = _est([1.0, 3.0, math.nan])
    assert (e.value, e.low, e.high, e.n) == (2.0, 1.0, 3.0, 2)
    assert math.isnan(_est([math.nan]).value)
