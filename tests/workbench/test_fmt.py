"""One formatting rule for step times and medians (report/fmt.py) in every table, and curves.png titles per cell."""

from __future__ import annotations

import math

from grokscope.report.fmt import fmt_number, fmt_steps, median_steps


def test_one_rule_for_a_median_step_everywhere():
    from grokscope.cli_catalog import fmt_cell
    from grokscope.cli_sweep import _median_time
    from grokscope.report.cells import cens_median
    from grokscope.report.html import _fmt, _time

    med = cens_median([1086, 1087])
    assert med == 1086.5 and median_steps([1086, 1087, None]) == 1086.5
    shown = {fmt_steps(med), _time(med), _fmt(med), fmt_cell(med), _median_time([1086, 1087])}
    assert shown == {"1086.5"}
    assert {fmt_steps(1086.0), _fmt(1086.0), fmt_cell(1086.0), _median_time([1086])} == {"1086"}
    assert fmt_number(12345.0) == "12345" and fmt_cell(12345.0) == "12345"  # never 1.234e+04
    assert fmt_steps(math.inf) == "censored" and _median_time([None, None, 5]) == "censored"
    assert fmt_number(0.0123456) == "0.01235"


def test_curves_title_has_one_median_per_cell_never_pooled():
    from grokscope.report.curves import cell_medians

    members = [{"member": m, "seed": m % 2, "optim.wd": wd} for m, wd in enumerate([0.1, 0.1, 1.0, 1.0])]
    events = {0: {"t_grok": 100}, 1: {"t_grok": 201}, 2: {"t_grok": 1000}, 3: {"t_grok": None}}
    lines = cell_medians(members, events)
    assert lines == ["wd=0.1: median T_grok 150.5 (2/2 grokked)", "wd=1.0: median T_grok censored (1/2 grokked)"]
    # a run without per-member values: one cell, the true median (not the upper middle element)
    assert cell_medians(None, {0: {"t_grok": 100}, 1: {"t_grok": 201}}) == ["median T_grok 150.5 (2/2 grokked)"]
