"""One formatting rule for step times and their medians, used by every table and figure title.

A step time (T_mem, T_grok, delay) is a whole number of steps; a median of an even count may fall halfway between
two (1086.5). Rule: whole values print as integers, anything else with one decimal (so 1086.5 is 1086.5 in every
table and title, never 1086 in one and 1086.5 in another); infinite (censored) medians print as ``censored``.
"""

from __future__ import annotations

import math
from typing import Any


def fmt_steps(v: Any) -> str:
    """A step count or a median of step counts, by the module's one rule; "-" when missing."""
    if v is None:
        return "-"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "censored" if x > 0 else "-inf"
    return str(int(x)) if x == int(x) else f"{x:.1f}"


def median_steps(values: list[Any]) -> float | None:
    """The median of finite step times (None when there are none): the midpoint of the two middle ones for an even
    count, as numpy's median (not the upper middle element)."""
    xs = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def fmt_number(x: float, digits: int = 4) -> str:
    """A float in a table: whole values as integers (12345, not 1.234e+04), values of 1000 and more with one
    decimal (a median step 1086.5 stays 1086.5, the same as ``fmt_steps`` shows it), others to ``digits``
    significant digits."""
    if math.isnan(x) or math.isinf(x):
        return fmt_steps(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if 1000 <= abs(x) < 1e15:
        return f"{x:.1f}"
    return f"{x:.{digits}g}"
