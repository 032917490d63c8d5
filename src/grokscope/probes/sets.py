"""Named probe sets for ``eval.probes``: ``["default", "attention", "graph"]`` expands each set in place.

``default`` is chosen for cost: it must add at most 10% wall time to the ``quick`` and ``nanda`` presets at its
cadence (``benchmarks/bench_probes.py`` measures it; README "Probe overhead"). It holds the core metrics every run
needs (accuracy, norms, logits) plus diagnostics that need no hook activations: ``logprob_quantiles`` (from the
logits) and ``spectra`` (an SVD of each weight matrix, every 4th evaluation). Any probe that reads a hook (``lar``,
``gmm``, ``attention``, ...) makes the evaluation take the model's reference forward instead of its fast path
(about 2-3x the cost of the evaluation's forward pass, measured), which is why ``lar`` is not in ``default``.
"""

from __future__ import annotations

from collections.abc import Sequence

PROBE_SETS: dict[str, tuple[str, ...]] = {
    "default": ("accuracy", "norms", "logits", "logprob_quantiles", "spectra"),
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
