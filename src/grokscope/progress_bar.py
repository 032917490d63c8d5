"""The progress bar of ``gs.run`` / ``gs.resume`` (issue 12: nothing showed in a notebook): tqdm.auto when
installed (a widget in Jupyter, text elsewhere), else rich's bar (which also renders in Jupyter). ``quiet=None``
shows it in a notebook or on a terminal only, so scripts, sweeps and tests stay silent."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .progress import state_for

OnEval = Callable[[int, dict[str, list[float]]], None]


def interactive() -> bool:
    """True in a Jupyter/IPython kernel or when stderr is a terminal, in the main process only (sweep workers
    share the terminal with the sweep's own progress)."""
    import multiprocessing

    if multiprocessing.current_process().name != "MainProcess":
        return False
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


@contextmanager
def notebook_progress(cfg: Any, quiet: bool | None, on_eval: OnEval | None, start: int = 0) -> Iterator[OnEval | None]:
    """``on_eval`` chained after a progress update, or ``on_eval`` itself when quiet."""
    if quiet or (quiet is None and not interactive()):
        yield on_eval
        return
    state = state_for(cfg)
    tqdm = _tqdm()
    if tqdm is not None:
        bar = tqdm(total=cfg.train.steps, initial=start, unit="step", desc=cfg.name, dynamic_ncols=True)

        def show(step: int, values: dict[str, list[float]]) -> None:
            state.update(step, values)
            bar.update(max(0, step - bar.n))
            bar.set_postfix_str(state.line(200, bar=False).split("  ", 2)[-1], refresh=False)

        close = bar.close
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(MofNCompleteColumn(), BarColumn(bar_width=15), TimeElapsedColumn(), TimeRemainingColumn(),
                       TextColumn("{task.fields[stats]}"), console=Console(stderr=True))
        task = bar.add_task("train", total=cfg.train.steps, completed=start, stats="")
        bar.start()

        def show(step: int, values: dict[str, list[float]]) -> None:
            state.update(step, values)
            from .progress import span

            stats = f"{sum(state.grokked)}/{state.members} grokked  test {span(values.get('test/acc'), '.2f')}"
            bar.update(task, completed=step, stats=stats)

        close = bar.stop

    def cb(step: int, values: dict[str, list[float]]) -> None:
        show(step, values)
        if on_eval is not None:
            on_eval(step, values)

    try:
        yield cb
    finally:
        close()
