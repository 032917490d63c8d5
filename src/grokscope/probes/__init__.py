"""Probe registry (see ``base.py``). Importing this package registers the built-in probes."""

from . import accuracy, logits, norms  # noqa: F401  (registration)
from .base import PROBES, EvalContext, Probe, probe

__all__ = ["PROBES", "EvalContext", "Probe", "probe"]
