"""Named probe sets for ``eval.probes``: ``["default", "attention", "graph"]`` expands each set in place.

``default`` is chosen for cost: it must add at most 10% wall time to the ``quick`` and ``nanda`` presets at its
cadence (``benchmarks/bench_probes.py`` measures it; README "Probe overhead"). It holds the core metrics every run
needs (accuracy, norms, logits) plus the cheap label-free diagnostics: ``lar`` (three sums of squares of a hook
the evaluation already passes through) and ``spectra`` (an SVD of each weight matrix, every 4th evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence

PROBE_SETS: dict[str, tuple[str, ...]] = {
    "default": ("accuracy", "norms", "logits", "lar", "spectra"),
    "core": ("accuracy", "norms", "logits"),
}


def expand(names: Sequence[str]) -> list[str]:
    """Probe names with every set name replaced by its members, first occurrence kept (order preserved)."""
    out: list[str] = []
    for name in names:
        for member in PROBE_SETS.get(name, (name,)):
            if member not in out:
                out.append(member)
    return out
