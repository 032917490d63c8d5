"""Probe registry (see ``base.py``) and the shared evaluation (``evaluate.py``). Importing this package registers
the built-in probes; ``load_plugins`` imports a user's probe modules (``eval.plugins``)."""

from . import accuracy, logits, norms  # noqa: F401  (registration)
from .base import PROBES, EvalContext, Probe, ProbeSet, probe
from .plugins import load_plugins

__all__ = ["PROBES", "EvalContext", "Probe", "ProbeSet", "probe", "load_plugins"]
