"""Per-cell medians over members, the unit every law is fitted to (papers 1 and 4 fit per-cell medians over seeds).

A *cell* is one run (one set of parameters); its members are the seeds. The treatment of censored members (never
reached the threshold within the budget) is an option, ``CENSOR``:

``majority``         (default; paper 1 §1.3) the median over the members that grokked; a cell counts only if a
                     strict majority of its members grokked (else it is dropped);
``drop``             the median over the members that grokked; a cell is dropped only if none did;
``censored-median``  the median over all members with a censored member at +inf (above every grokked one); the cell
                     is dropped when that median is censored (at least half censored); with some censored it is
                     larger than ``majority``'s;
``budget``           censored members count at their budget: a cell is never dropped and its median is a lower
                     bound whenever a member is censored (01 §1.4b: moves paper 1's p=59 ΔAIC from 6.4 to 6.3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UserError

CENSOR = ("majority", "drop", "censored-median", "budget")


@dataclass
class Cell:
    """One cell: ``x`` (median of the members' x), ``y`` (the censoring-treated median), the members' times
    ``times`` [S] (``inf`` = censored), ``budgets`` [S] and ``key`` (the run id)."""

    key: str
    x: float
    y: float
    times: np.ndarray
    budgets: np.ndarray
    group: Any = None
    lower_bound: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def n_grokked(self) -> int:
        return int(np.isfinite(self.times).sum())


def cell_median(times: np.ndarray, budgets: np.ndarray | None = None, censor: str = "majority") -> tuple[float, bool]:
    """The censoring-treated median of one cell's times [S] (``inf`` = censored): ``(median, lower_bound)``;
    ``nan`` when the cell is dropped under ``censor``."""
    if censor not in CENSOR:
        raise UserError(f"censoring treatment {censor!r}: choose from {', '.join(CENSOR)}")
    t = np.asarray(times, float)
    ok = np.isfinite(t)
    k, n = int(ok.sum()), len(t)
    if n == 0:
        return math.nan, False
    if censor in ("majority", "drop"):
        if k == 0 or (censor == "majority" and 2 * k <= n):
            return math.nan, False
        return float(np.median(t[ok])), False
    if censor == "censored-median":
        s = np.sort(t)
        m = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
        return (float(m), False) if np.isfinite(m) else (math.nan, False)
    if budgets is None or not np.all(np.isfinite(np.asarray(budgets, float)[~ok])):
        raise UserError("censoring treatment 'budget' needs each censored member's budget")
    return float(np.median(np.where(ok, t, budgets))), k < n


def member_times(rows: Sequence[dict], y: str = "t_grok") -> tuple[np.ndarray, np.ndarray]:
    """Times [S] (``inf`` where censored or missing) and budgets [S] of a cell's member rows (catalog columns)."""
    t = np.array([math.inf if (r.get(y) is None or (y != "t_mem" and r.get("censored")) or _nan(r.get(y)))
                  else float(r[y]) for r in rows])
    b = np.array([math.nan if r.get("budget") is None or _nan(r.get("budget")) else float(r["budget"]) for r in rows])
    return t, b


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def cells_from_members(rows: Iterable[dict], x: str, y: str = "t_grok", censor: str = "majority",
                       by: str | None = None, key: str = "run_id") -> list[Cell]:
    """Group member rows into cells (by ``key``) and treat censoring; dropped cells are left out.

    ``x``: a member column; the cell's x is the median of its non-null values (a per-cell parameter is the same for
    every member; a per-member value such as ``at_grok_norm`` is summarised by its median)."""
    groups: dict[Any, list[dict]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    cells = []
    for k, members in groups.items():
        xs = [float(m[x]) for m in members if m.get(x) is not None and not _nan(m.get(x))]
        if not xs:
            continue
        t, b = member_times(members, y)
        med, lb = cell_median(t, b, censor)
        if math.isnan(med):
            continue
        g = members[0].get(by) if by else None
        cells.append(Cell(str(k), float(np.median(xs)), med, t, b, g, lb))
    cells.sort(key=lambda c: (str(c.group), c.x))
    return cells


def resample_cells(cells: Sequence[Cell], rng: np.random.Generator, censor: str, paired: bool = False) -> np.ndarray:
    """One bootstrap replicate of the cells' medians [n]: each cell's members resampled with replacement (the same
    indices for every cell when ``paired``: seeds shared across cells, paper 1 §1.4 (2)); ``nan`` where dropped."""
    out = np.empty(len(cells))
    idx = rng.integers(0, cells[0].n, cells[0].n) if paired and cells else None
    for i, c in enumerate(cells):
        j = idx if idx is not None else rng.integers(0, c.n, c.n)
        out[i] = cell_median(c.times[j], c.budgets[j], censor)[0]
    return out
