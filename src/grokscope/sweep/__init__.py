"""Sweeps: a spec (base config + axes) expands into cells, packed onto the member axis of runs, run by an executor.

    from grokscope.sweep import load_spec, run_sweep
    plan = load_spec("examples/sweeps/wd.toml")       # cells, runs, packing (no training)
    result = run_sweep("examples/sweeps/wd.toml", out="sweeps/wd", workers=2)
"""

from .spec import Cell, Plan, PlannedRun, SweepSpec, load_spec

__all__ = ["Cell", "Plan", "PlannedRun", "SweepSpec", "load_spec", "run_sweep", "SweepResult"]


def __getattr__(name: str):  # the runner imports executors lazily
    if name in ("run_sweep", "SweepResult"):
        from . import runner

        return getattr(runner, name)
    raise AttributeError(name)
