"""Which varying config keys are worth an axis (a report figure, a ``grokscope runs`` column).

Across a folder of unrelated runs dozens of keys differ; most say the same thing. Rules, in order:

1. Bookkeeping never makes an axis: how and when a run is measured or saved (``eval.*``, ``checkpoint.*``), its
   name and title, and its budget ``train.steps`` (the loop reads it only to stop: the trajectory is the same for
   any budget, as ``grokscope/extend.py`` relies on; a shorter budget only censors, which the figures show at the
   budget). They change what is recorded, not what is trained.
2. Keys that split the members into the same groups are one axis: the first ``*.name`` key of such a group (the
   task or model name says most), else the first in config order, stands for the others (listed in a note).
3. More than ``MAX_AXES`` axes left: the runs are too different to line up on axes; the report then uses one
   categorical axis, the run, and lists the keys that differ.
"""

from __future__ import annotations

import json
from typing import Any

BOOKKEEPING_PREFIXES = ("eval.", "checkpoint.")
BOOKKEEPING_KEYS = {"name", "title", "description", "notes", "train.steps"}
MAX_AXES = 4


def matters(key: str) -> bool:
    """Whether a dotted config key can be an axis (rule 1)."""
    return key not in BOOKKEEPING_KEYS and not key.startswith(BOOKKEEPING_PREFIXES)


def _partition(values: list[Any]) -> tuple[int, ...]:
    """The grouping ``values`` induce, as the index of each value's first occurrence (equal groupings compare equal)."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(json.dumps(v, default=str, sort_keys=True), i) for i, v in enumerate(values))


def distinct_axes(columns: dict[str, list[Any]]) -> tuple[list[str], dict[str, list[str]]]:
    """Rule 2 over ``columns`` (key -> one value per member, in config order): the kept keys, and for each kept key
    the keys it stands for (same grouping)."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for k, vals in columns.items():
        groups.setdefault(_partition(vals), []).append(k)
    kept: list[str] = []
    stands: dict[str, list[str]] = {}
    order = {k: i for i, k in enumerate(columns)}
    for keys in groups.values():
        named = [k for k in keys if k.endswith(".name")]
        head = named[0] if named else keys[0]
        kept.append(head)
        stands[head] = [k for k in keys if k != head]
    kept.sort(key=order.__getitem__)
    return kept, stands
