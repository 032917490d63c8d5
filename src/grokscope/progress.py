"""Training progress as text: the state seen by ``on_eval`` (steps, rate, ETA, members grokked) and one line of it
fitted to a width. Used by the CLI's terminal bar and its plain lines for redirected output (``cli_progress``) and
by the notebook bar of ``gs.run`` (``progress_bar``). Issue 12: at 80 columns the line keeps the total and time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def clock(seconds: float | None) -> str:
    """``h:mm:ss`` / ``m:ss`` ("-:--" when unknown)."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--"
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def span(values: list[float] | None, fmt: str) -> str:
    """One member's value, or ``min-max`` over members ("-" when absent)."""
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return format(lo, fmt) if len(values) == 1 or format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}-{hi:{fmt}}"


BAR_MIN = 10


@dataclass
class ProgressState:
    """What the evaluations so far say: step, rate since the first one this process saw, members grokked
    (test accuracy reached ``grok_threshold`` at some evaluation)."""

    total: int
    members: int
    grok_threshold: float = 0.9
    step: int = 0
    first: tuple[int, float] | None = None  # (step, time) of the first evaluation this process saw
    last_time: float | None = None
    values: dict[str, list[float]] = field(default_factory=dict)
    grokked: list[bool] = field(default_factory=list)

    def update(self, step: int, values: dict[str, list[float]], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.first is None:
            self.first = (step, now)
        self.step, self.last_time, self.values = step, now, values
        acc = values.get("test/acc") or []
        if len(self.grokked) != len(acc):
            self.grokked = [False] * len(acc)
        self.grokked = [g or a >= self.grok_threshold for g, a in zip(self.grokked, acc)]

    def elapsed(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return 0.0 if self.first is None else now - self.first[1]

    def rate(self) -> float | None:
        """Steps per second between the first and the latest evaluation (None before two)."""
        if self.first is None or self.last_time is None or self.last_time <= self.first[1]:
            return None
        return (self.step - self.first[0]) / (self.last_time - self.first[1])

    def eta(self, now: float | None = None) -> float | None:
        r = self.rate()
        if not r:
            return None
        now = time.monotonic() if now is None else now
        return max(0.0, (self.total - self.step) / r - (now - (self.last_time or now)))

    def line(self, width: int = 80, now: float | None = None, bar: bool = True, done: str = "") -> str:
        """One line of at most ``width`` characters: step/total and elapsed<ETA always; then, as room allows,
        steps/s, k of M grokked, test and train accuracy, weight norm, and a bar filling what is left."""
        rate = self.rate()
        core = f"step {self.step}/{self.total}"
        if done:  # the training time, not the plotting after it
            when = clock(self.elapsed(self.last_time))
        else:
            when = f"{clock(self.elapsed(now))}<{clock(self.eta(now))}"
        optional = [f"{rate:.1f} steps/s" if rate else "- steps/s",
                    f"{sum(self.grokked)}/{self.members} grokked",
                    f"test {span(self.values.get('test/acc'), '.2f')}",
                    f"train {span(self.values.get('train/acc'), '.2f')}",
                    f"|W| {span(self.values.get('norm/total'), '.1f')}"]
        if done:
            optional.insert(0, done)
        parts = [core, when]
        budget = width - (BAR_MIN + 3) if bar and width >= 50 else width  # a bar is kept from 50 columns on
        for p in optional:
            if len("  ".join([*parts, p])) <= budget:
                parts.append(p)
        text = "  ".join(parts)
        room = width - len(text) - 3
        if bar and room >= BAR_MIN:
            n = min(room, 30)
            fill = n if done else int(n * min(1.0, self.step / max(1, self.total)))
            text = f"{core} |{'#' * fill}{'.' * (n - fill)}| " + "  ".join(parts[1:])
        return text[:width]


def finished_note(steps_done: int | None, total: int) -> str:
    """'done', or 'stopped early' when ``train.stop_on_grok`` ended the run before its budget."""
    if steps_done is not None and steps_done < total:
        return f"stopped early at {steps_done} (stop_on_grok)"
    return "done"


def state_for(cfg: Any, **kw: Any) -> ProgressState:
    return ProgressState(cfg.train.steps, len(cfg.member_table()), cfg.eval.grok_threshold, **kw)
