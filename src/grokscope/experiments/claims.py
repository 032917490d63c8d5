"""Claim-table rows and the verdict rules that judge them.

A row is ``claim | paper value (source section) | measured | 95% CI | verdict | scale notes``. The verdict is never
written by hand: a :class:`ClaimRow` holds the paper's value, the measurement and a :class:`Rule`, and the verdict is
``rule(paper, measured)``. Verdicts, from best to worst:

``reproduced``        the measurement agrees with the paper's number (the rule's tolerance, CI or threshold)
``shape reproduced``  the effect has the paper's direction but not its size (or its size is not pinned down)
``not reproduced``    no conclusion either way: no effect resolved, too few grokked members, an open bound
``contradicted``      the effect is resolved and points the other way

Censoring: a measurement may be a *lower bound* (``Estimate.lower_bound``), e.g. a median grokking time when more
than half the members never grokked in the budget (see ``experiments.bootstrap``). Rules treat it as the interval
``[value, +inf)``: it can clear a threshold from above, it can never confirm a two-sided tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("reproduced", "shape reproduced", "not reproduced", "contradicted")


@dataclass(frozen=True)
class Estimate:
    """A measured value with an optional 95% CI; ``lower_bound``: the true value is >= ``value`` (censoring)."""

    value: float
    low: float | None = None
    high: float | None = None
    lower_bound: bool = False
    unit: str = ""
    n: int | None = None  # members (or cells) behind the estimate
    decimals: int | None = None  # print with this many decimals (a paper's printed precision) instead of 3 digits

    @property
    def has_ci(self) -> bool:
        return self.low is not None and self.high is not None

    def span(self) -> tuple[float, float]:
        """The range the truth lies in as far as this estimate says: the CI, else the point (open above if a bound)."""
        lo = self.low if self.low is not None else self.value
        hi = math.inf if self.lower_bound else (self.high if self.high is not None else self.value)
        return lo, hi


@dataclass(frozen=True)
class PaperValue:
    """What the paper reports: a number (None for a purely qualitative claim), its section, and how it reads."""

    value: float | None
    source: str  # e.g. "paper 4 §4.2 (2)"
    text: str = ""  # e.g. "α ≈ 7.4 (3-level fit)"; default: the number


@dataclass(frozen=True)
class Rule:
    """A verdict rule: ``judge(paper, measured) -> verdict`` and one line saying what it checks."""

    text: str
    judge: Callable[[float | None, Estimate], str]

    def __call__(self, paper: float | None, measured: Estimate) -> str:
        verdict = self.judge(paper, measured)
        assert verdict in VERDICTS, verdict
        return verdict


def _undetermined(m: Estimate) -> bool:
    return math.isnan(m.value)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _direction(paper: float | None, m: Estimate) -> str:
    """Sign logic shared by the rules: same direction as the paper resolved -> 'shape', opposite -> 'contra'."""
    want = _sign(paper) if paper is not None else 1
    lo, hi = m.span()
    if want > 0 and lo > 0 or want < 0 and hi < 0:
        return "shape"
    if want > 0 and hi < 0 or want < 0 and lo > 0:
        return "contra"
    return "open"


_FROM_DIRECTION = {"shape": "shape reproduced", "contra": "contradicted", "open": "not reproduced"}


def within(rel_tol: float) -> Rule:
    """Reproduced if |measured - paper| <= rel_tol·|paper| (a lower bound never confirms this); else by direction."""

    def judge(paper: float | None, m: Estimate) -> str:
        if paper is None or _undetermined(m):
            return "not reproduced"
        if not m.lower_bound and abs(m.value - paper) <= rel_tol * abs(paper):
            return "reproduced"
        return _FROM_DIRECTION[_direction(paper, m)]

    return Rule(f"reproduced if within ±{rel_tol:.0%} of the paper's value; shape if the 95% CI has its sign; "
                "contradicted if the CI has the other sign", judge)


def ci_contains() -> Rule:
    """Reproduced if the 95% CI contains the paper's value; else by direction (CI clear of 0)."""

    def judge(paper: float | None, m: Estimate) -> str:
        if paper is None or _undetermined(m) or not m.has_ci:
            return "not reproduced"
        lo, hi = m.span()
        if lo <= paper <= hi and not m.lower_bound:
            return "reproduced"
        return _FROM_DIRECTION[_direction(paper, m)]

    return Rule("reproduced if the 95% CI contains the paper's value; shape if the CI has its sign; "
                "contradicted if the CI has the other sign", judge)


def same_sign() -> Rule:
    """A direction claim: reproduced if the CI (else the point) has the paper's sign, contradicted if the other."""

    def judge(paper: float | None, m: Estimate) -> str:
        if _undetermined(m):
            return "not reproduced"
        d = _direction(paper, m)
        return {"shape": "reproduced", "contra": "contradicted", "open": "not reproduced"}[d]

    return Rule("reproduced if the 95% CI lies on the paper's side of 0; contradicted if on the other side", judge)


def ratio_at_least(x: float) -> Rule:
    """A ratio claim: reproduced if the CI's low end (else the point) is >= x; shape if > 1; contradicted if < 1."""

    def judge(paper: float | None, m: Estimate) -> str:
        if _undetermined(m):
            return "not reproduced"
        lo, hi = m.span()
        if lo >= x:
            return "reproduced"
        if lo > 1:
            return "shape reproduced"
        if hi < 1:
            return "contradicted"
        return "not reproduced"

    return Rule(f"reproduced if the ratio's 95% CI is >= {x:g}; shape if it is > 1; contradicted if < 1", judge)


def at_least(x: float) -> Rule:
    """Reproduced if the measurement (the CI's low end when there is one) is >= x; contradicted if it is below."""
    def judge(paper: float | None, m: Estimate) -> str:
        if math.isnan(m.value):
            return "not reproduced"
        lo, hi = m.span()
        if lo >= x:
            return "reproduced"
        return "shape reproduced" if m.value >= x else "contradicted"
    return Rule(f"reproduced if >= {x:g} (the CI's low end when there is a CI); contradicted if below", judge)


def ratio_below_one() -> Rule:
    """A ratio claim that something is faster (a ratio of times < 1): reproduced if the whole CI is below 1."""

    def judge(paper: float | None, m: Estimate) -> str:
        if _undetermined(m):
            return "not reproduced"
        lo, hi = m.span()
        if hi < 1:
            return "reproduced"
        if lo > 1:
            return "contradicted"
        return "shape reproduced" if m.value < 1 else "not reproduced"

    return Rule("reproduced if the ratio's 95% CI is < 1; shape if only the point is; contradicted if the CI is > 1",
                judge)


def at_most(x: float) -> Rule:
    """An upper-limit claim (e.g. a spread): reproduced if the CI's high end (else the point) is <= x."""

    def judge(paper: float | None, m: Estimate) -> str:
        if _undetermined(m):
            return "not reproduced"
        lo, hi = m.span()
        if hi <= x:
            return "reproduced"
        if lo <= x:
            return "shape reproduced" if m.value <= x else "not reproduced"
        return "contradicted"

    return Rule(f"reproduced if the 95% CI is <= {x:g}; shape if only the point is; contradicted if the CI is above",
                judge)


@dataclass
class ClaimRow:
    """One row of a claim table; ``verdict`` is computed from ``measured`` by ``rule``."""

    claim: str
    paper: PaperValue
    measured: Estimate
    rule: Rule
    notes: list[str] = field(default_factory=list)  # scale notes specific to this row

    @property
    def verdict(self) -> str:
        return self.rule(self.paper.value, self.measured)

    def to_json(self, scale_notes: list[str] | None = None) -> dict[str, Any]:
        m = self.measured
        return {
            "claim": self.claim,
            "paper": {"value": _num(self.paper.value), "source": self.paper.source,
                      "text": self.paper.text or fmt_number(self.paper.value)},
            "measured": {"value": _num(m.value), "lower_bound": m.lower_bound, "unit": m.unit, "n": m.n,
                         "text": fmt_estimate(m)},
            "ci95": [_num(m.low), _num(m.high)] if m.has_ci else None,
            "ci_text": fmt_ci(m),
            "verdict": self.verdict,
            "rule": self.rule.text,
            "scale_notes": [*(scale_notes or []), *self.notes],  # all of them: a row read alone says its scale
            "row_notes": list(self.notes),
        }


def _num(x: float | None) -> float | str | None:
    """JSON has no inf/nan: write them as strings."""
    if x is None:
        return None
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def fmt_number(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"  # not "-0"
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.0f}"


def fmt_estimate(m: Estimate) -> str:
    fixed = m.decimals is not None and math.isfinite(m.value)
    text = ("≥ " if m.lower_bound else "") + (f"{m.value:.{m.decimals}f}" if fixed else fmt_number(m.value))
    return f"{text} {m.unit}".strip()


def fmt_ci(m: Estimate) -> str:
    if not m.has_ci:
        return "-"
    if m.decimals is not None:
        f = lambda v: f"{v:.{m.decimals}f}" if math.isfinite(v) else fmt_number(v)  # noqa: E731
        return f"[{f(m.low)}, {f(m.high)}]"
    return f"[{fmt_number(m.low)}, {fmt_number(m.high)}]"
