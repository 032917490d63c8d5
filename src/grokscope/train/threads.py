"""How many torch threads a run gets: ``--threads auto`` (the CLI default) and the over-subscription warning.

Measured (DESIGN.md, issue 12): small models lose to thread-pool contention (~10x slower with two threads while
another process is busy), while ``nanda`` ran 21.6 steps/s on 2 threads against 13.8 on 1 on an idle 2-core
machine. So ``auto`` gives all free cores only to a single run whose step is large enough to gain, and one thread
to small models, sweep workers (they pass their own count) and a busy machine. ``benchmarks/bench_threads.py``
measures auto against one thread on the presets.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import UserError

# Estimated FLOPs of one training step above which more threads gain (nanda: 1.5e10 gains ~1.6x on 2 threads;
# clevix-mlp 4.0e9 and quick 7.8e8 are small models). Between the two measured sides.
GAIN_FLOPS = 8e9
# Free cores a run needs before it takes more than one: cores minus the 1-minute load average.
MIN_FREE = 1.5


def cores() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores() -> float:
    """Cores minus the 1-minute load average (0 when the machine is saturated)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(0.0, cores() - load)


def step_flops(cfg: Any) -> float:
    """Coarse FLOPs of one training step: 6 × members × examples per step × MACs per example, the MACs from the
    budget estimate's parameter count (``train.budget``: width × (2·classes + 2·width·layers))."""
    from .budget import n_examples_classes, n_members, width

    n, c = n_examples_classes(cfg.task)
    per_step = n * getattr(cfg.task, "frac", 1.0)
    if cfg.train.batch_size is not None:
        per_step = min(per_step, cfg.train.batch_size)
    w = width(cfg.model)
    layers = max(getattr(cfg.model, "n_layers", 1), getattr(cfg.model, "depth", 1))
    return 6.0 * n_members(cfg) * per_step * w * (2 * c + 2 * w * layers)


def auto_threads(cfg: Any, device: str = "cpu", free: float | None = None) -> int:
    """The ``auto`` rule: 1 thread on a GPU, for a step under ``GAIN_FLOPS`` or with fewer than ``MIN_FREE`` free
    cores; else every free core (rounded down, at most all cores)."""
    if device.startswith("cuda") or step_flops(cfg) < GAIN_FLOPS:
        return 1
    free = free_cores() if free is None else free
    if free < MIN_FREE:
        return 1
    return max(1, min(cores(), int(free + 0.25)))


def resolve(threads: int | str | None, cfg: Any, device: str = "cpu", default: int = 1) -> int:
    """``--threads`` as a count: ``auto`` applies the rule, None is ``default``; a count above the cores warns
    (one line: 64 threads on 2 cores ran 4x slower, issue 12)."""
    if threads is None:
        return default
    if isinstance(threads, str):
        if threads.strip().lower() == "auto":
            return auto_threads(cfg, device)
        try:
            threads = int(threads)
        except ValueError:
            raise UserError(f"--threads must be a number or 'auto', got {threads!r}") from None
    if threads < 1:
        raise UserError(f"--threads must be >= 1, got {threads}")
    if threads > cores():
        sys.stderr.write(f"warning: --threads {threads} is more than the {cores()} cores of this machine "
                         "(over-subscribed threads run slower; try --threads auto)\n")
    return threads
