"""Progress of ``grokscope run`` / ``resume``: a live bar on a terminal, plain periodic lines when stdout is not a
terminal (nohup, batch jobs, ``| tee``: issue 12 saw nothing for two minutes), the run directory printed at start."""

from __future__ import annotations

import sys
import time
from typing import Any

from .progress import ProgressState, finished_note, state_for

PLAIN_SECONDS = 15.0  # a plain line at the first evaluation, then at most this often, and at the end


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class PlainLines:
    """``on_eval`` that prints a full progress line to stdout at the first evaluation, then every
    ``every`` seconds (time-based: eval grids are geometric, dense early and sparse late), and at the end."""

    def __init__(self, state: ProgressState, every: float = PLAIN_SECONDS, out: Any = None) -> None:
        self.state, self.every, self.out = state, every, out or sys.stdout
        self.printed: float | None = None

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def __call__(self, step: int, values: dict[str, list[float]]) -> None:
        self.state.update(step, values)
        now = time.monotonic()
        if self.printed is None or now - self.printed >= self.every:
            self.printed = now
            self._print(self.state.line(200, bar=False))

    def finish(self, steps_done: int | None) -> None:
        if self.state.first is None:  # nothing trained here (an identical complete run was returned)
            return
        self._print(self.state.line(200, bar=False, done=finished_note(steps_done, self.state.total)))

    def stop(self) -> None:
        pass


class TerminalBar:
    """A rich live line on stderr, re-fitted to the terminal's width at every refresh (time keeps ticking
    between evaluations)."""

    def __init__(self, state: ProgressState) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self.state, self.done = state, ""
        self.console = Console(stderr=True, highlight=False)
        outer = self

        class Line:
            def __rich__(self) -> Text:
                return Text(outer.state.line(max(20, outer.console.width - 1), done=outer.done))

        self.live = Live(Line(), console=self.console, refresh_per_second=2, transient=False)

    def __call__(self, step: int, values: dict[str, list[float]]) -> None:
        self.state.update(step, values)
        if not self.live.is_started:  # at the first evaluation: a config error before it stays one line
            self.live.start()

    def finish(self, steps_done: int | None) -> None:
        self.done = finished_note(steps_done, self.state.total)
        if self.live.is_started:
            self.live.refresh()

    def stop(self) -> None:
        if self.live.is_started:
            self.live.stop()


def reporter(cfg: Any, plain: bool | None = None) -> Any:
    plain = not stdout_is_tty() if plain is None else plain
    state = state_for(cfg)
    return PlainLines(state) if plain else TerminalBar(state)


def train_with_progress(fn: Any, cfg: Any, quiet: bool, run_path: Any = None, **kwargs: Any) -> Any:
    """Print the run directory, then call ``fn(on_eval=..., quiet=True, **kwargs)`` with a bar or plain lines."""
    if run_path is not None:
        sys.stdout.write(f"run directory: {run_path}\n")
        sys.stdout.flush()
    if quiet:
        return fn(quiet=True, **kwargs)
    rep = reporter(cfg)
    try:
        r = fn(on_eval=rep, quiet=True, **kwargs)
        rep.finish(r.meta.get("steps_done"))
        return r
    finally:
        rep.stop()


def time_label(meta: dict[str, Any], forked_at: int | None = None) -> str:
    """The summary's time and rate; after a resume they are the resumed part's, and say so (issue 12). A branch
    (train.fork) starts at its fork step: its time is its own."""
    part = meta.get("last_part") or {}
    secs, rate = meta.get("train_seconds", "?"), meta.get("steps_per_second", "?")
    if part.get("from") and part["from"] != forked_at:
        return f"resumed part {part['from']}..{part.get('to')}: {part.get('seconds')} s, {rate} steps/s"
    return f"{secs} s, {rate} steps/s"
