"""Probe registry (see ``base.py``) and the shared evaluation (``evaluate.py``). Importing this package registers
the built-in probes: every module of this package other than the infrastructure below, so a new probe is one new
file. ``load_plugins`` imports a user's probe modules (``eval.plugins``)."""

import importlib as _importlib
import pkgutil as _pkgutil

from .base import PROBES, EvalContext, Probe, ProbeSet, probe, resolve
from .plugins import load_plugins

_INFRASTRUCTURE = {"base", "evaluate", "plugins", "sets", "offline"}
for _mod in sorted(m.name for m in _pkgutil.iter_modules(__path__)):
    if _mod not in _INFRASTRUCTURE and not _mod.startswith("_"):
        _importlib.import_module(f"{__name__}.{_mod}")  # registration

__all__ = ["PROBES", "EvalContext", "Probe", "ProbeSet", "probe", "resolve", "load_plugins"]
