"""One published cell file in the ClevixLab ``.npz`` layout (paper 1's ``metrics/``; papers 4 and 02 §10 use it too).

A cell file holds the cell's parameters as 0-d arrays (``p``, ``rho``, ``tau``, ``lam``, ``loss``, ``arm``, ...),
other arrays as list parameters (``base_frac``), per-seed arrays of length S (``T_mem_per_seed``,
``T_grok_per_seed``, values at grokking such as ``wn_at_grok``, per-seed fork norms ``N0``), and curves over the
logged ``steps`` [T]: either the seed mean, shape (T,), or per seed, shape (S, T). See
``../shared/papers/01-*.md`` §1.5 and the data README.

Censoring conventions of the per-seed times (a member that never reached the threshold): ``-1``, ``0`` (no run can
grok at step 0) or a value at or beyond the declared budget ``max_steps``. Without ``max_steps`` the budget is the
steps actually run (``steps_run``, else the last logged step) and only a value *beyond* it is censored: the fork runs
of paper 1 stop when their last seed groks, so that seed's T equals ``steps_run``.
Which conventions apply is an option (``CENSOR_CONVENTIONS``); by default all three do, which is what reproduces
the paper's tables (01 §1.4b).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CENSOR_CONVENTIONS = ("neg1", "zero", "budget")
TIME_KEYS = ("T_mem_per_seed", "T_grok_per_seed")
BUDGET_KEYS = ("max_steps", "steps_run")
# 1-D arrays of length S that are per-seed values even when S equals the number of logged steps
PER_SEED_HINTS = ("_per_seed", "_at_grok", "at_grok_")
# curves of the layout's README; when S equals the number of logged steps only these 1-D arrays count as curves
KNOWN_CURVES = ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "logit_scale", "frac_saturated",
                "structure", "sc_frac")
# published curve name -> grokscope metric name (the rest keep their name under ``published/``)
CURVE_METRICS = {"train_acc": "train/acc", "test_acc": "test/acc", "train_loss": "train/loss",
                 "test_loss": "test/loss", "weight_norm": "norm/total"}


class NotACell(ValueError):
    """The file is not a published cell (unreadable, or lacks per-seed times); the message says why."""


@dataclass
class PublishedCell:
    """One cell: parameters, per-seed times with censoring, per-seed values and curves.

    ``t_mem``/``t_grok``: [S] steps, ``None`` where censored. ``curves``: name -> [T] (seed mean) or [S, T];
    ``layout``: ``"mean"`` or ``"per-seed"`` (of the curves present; ``"none"`` without curves).
    """

    params: dict[str, Any]
    t_mem: list[int | None]
    t_grok: list[int | None]
    budget: int | None
    per_seed: dict[str, np.ndarray] = field(default_factory=dict)
    steps: np.ndarray | None = None
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    layout: str = "none"

    @property
    def n_seeds(self) -> int:
        return len(self.t_grok)


def _scalar(a: np.ndarray) -> Any:
    v = a.item()
    return v.decode() if isinstance(v, bytes) else v


def censor(times: np.ndarray, budget: int | None, conventions: tuple[str, ...] = CENSOR_CONVENTIONS,
           inclusive: bool = True) -> list[int | None]:
    """Per-seed times [S] -> ints, ``None`` where a convention marks the seed as censored (``inclusive``: a time equal
    to the budget is censored too, as for a declared ``max_steps``)."""
    out: list[int | None] = []
    for t in np.asarray(times).tolist():
        t = int(t)
        over = budget is not None and (t >= budget if inclusive else t > budget)
        cens = (("neg1" in conventions and t < 0) or ("zero" in conventions and t == 0)
                or ("budget" in conventions and over))
        out.append(None if cens else t)
    return out


def read_cell(path: str | Path, conventions: tuple[str, ...] = CENSOR_CONVENTIONS) -> PublishedCell:
    """Read one ``.npz`` cell file; :class:`NotACell` when it cannot be read or is not in the layout."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise NotACell(f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})") from None
    if "T_grok_per_seed" not in arrays:
        raise NotACell("no T_grok_per_seed: not a per-seed results file")
    tg = arrays["T_grok_per_seed"]
    if tg.ndim != 1 or not np.issubdtype(tg.dtype, np.number):
        raise NotACell(f"T_grok_per_seed has shape {tg.shape} / dtype {tg.dtype}, expected a 1-D numeric array")
    s = len(tg)
    params = {k: _scalar(a) for k, a in arrays.items() if a.ndim == 0}
    steps = arrays.get("steps")
    if steps is not None and steps.ndim != 1:
        raise NotACell(f"steps has shape {steps.shape}, expected (T,)")
    declared = isinstance(params.get("max_steps"), (int, float))
    budget = next((int(params[k]) for k in BUDGET_KEYS if isinstance(params.get(k), (int, float))), None)
    if budget is None and steps is not None and len(steps):
        budget = int(steps[-1])
    tm = arrays.get("T_mem_per_seed", np.full(s, -1))
    if tm.shape != tg.shape:
        raise NotACell(f"T_mem_per_seed has shape {tm.shape}, T_grok_per_seed {tg.shape}")
    n_t = None if steps is None else len(steps)
    per_seed, curves, layouts = {}, {}, set()
    per_seed_layout = n_t is not None and any(a.ndim == 2 and a.shape == (s, n_t) for a in arrays.values())
    for k, a in arrays.items():
        if a.ndim == 0 or k in TIME_KEYS or k == "steps" or not np.issubdtype(a.dtype, np.number):
            continue
        # a 1-D array of length S is a per-seed value when the curves are per seed, when its name says so, or (S
        # equal to the number of steps) when it is not one of the layout's curve names
        hinted = (any(h in k for h in PER_SEED_HINTS) or per_seed_layout
                  or (s == n_t and k not in KNOWN_CURVES and not k.startswith("wn_")))
        if a.ndim == 2 and n_t is not None and a.shape == (s, n_t):
            curves[k], _ = a.astype(float), layouts.add("per-seed")
        elif a.ndim == 1 and n_t is not None and len(a) == n_t and not hinted:
            curves[k], _ = a.astype(float), layouts.add("mean")
        elif a.ndim == 1 and len(a) == s:
            per_seed[k] = a.astype(float)
        else:  # a vector parameter of the cell (e.g. ``base_frac``, the base layer shares): kept as a list
            params[k] = a.tolist()
    layout = "none" if not layouts else layouts.pop() if len(layouts) == 1 else "mixed"
    return PublishedCell(params, censor(tm, budget, conventions, declared), censor(tg, budget, conventions, declared),
                         budget, per_seed,
                         None if steps is None else steps.astype(np.int64), curves, layout)
