"""grokscope: reproduce, intervene on, measure, predict and explain grokking.

Public API (torch is imported lazily, on first use)::

    import grokscope as gs
    cfg = gs.load_config("quick", ["train.steps=2000"])
    run = gs.run(cfg, out="runs")
    run.metrics(wide=True); run.events
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_config", "run", "resume", "load_run", "Run", "RunConfig", "PRESETS", "UserError", "Monitor"]


def __dir__() -> list[str]:
    """The lazy API too (issue 12: ``dir(grokscope)`` showed none of it)."""
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in ("run", "resume", "load_run", "Run"):
        from . import api

        return getattr(api, name)
    if name in ("load_config", "RunConfig"):
        from . import config

        return getattr(config, name)
    if name == "PRESETS":
        from .presets import PRESETS

        return PRESETS
    if name == "Monitor":
        from .monitor import Monitor

        return Monitor
    if name == "UserError":
        from .errors import UserError

        return UserError
    raise AttributeError(name)
