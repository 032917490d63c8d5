"""How a run ends other than "complete": interrupted (SIGINT/SIGTERM) or failed (a non-finite loss), issue 11.

Kept free of torch so the CLI can import it cheaply.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import UserError


class RunInterrupted(KeyboardInterrupt):
    """Training stopped by SIGINT/SIGTERM after the run was marked ``interrupted``; still a KeyboardInterrupt
    for library callers. ``path``: the run to resume, ``step``: its last evaluation."""

    def __init__(self, path: Path, step: int) -> None:
        super().__init__(f"interrupted at step {step}")
        self.path, self.step = path, step

    def resume_hint(self) -> str:
        return f"interrupted at step {self.step}; continue with `grokscope resume {self.path}`"


class NonFiniteLoss(Exception):
    """A member's training loss became NaN/inf: the run stops with status ``failed``."""


LOSS_METRICS = ("train/loss",)


def finite_guard(on_eval: Callable[[int, dict[str, list[float]]], None] | None) -> Callable:
    """An ``on_eval`` callback that first raises ``NonFiniteLoss`` naming the step, metric and member when a
    training loss is not finite (the metrics past that point would be NaN: never a "complete" run of NaNs)."""

    def guarded(step: int, values: dict[str, list[float]]) -> None:
        for name in LOSS_METRICS:
            for m, v in enumerate(values.get(name) or []):
                if not math.isfinite(float(v)):
                    raise NonFiniteLoss(f"{name} is {float(v)} at step {step} (member {m})")
        if on_eval is not None:
            on_eval(step, values)

    return guarded


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt while training (main thread only; the old handlers restored after).

    SIGINT is installed explicitly too: a process started in the background by a non-interactive shell
    (``grokscope run ... &`` in a script) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def check_out_dir(out: Path) -> None:
    """``--out`` must be (or be creatable as) a writable directory: one line instead of an OSError later."""
    p = Path(out)
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"--out {out}: {probe} is a file, not a directory")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: {probe} is not writable")
