"""The ``grokscope`` command. Heavy imports (torch, pandas, matplotlib) happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer

from .cli_json import print_json
from .errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="grokscope: reproduce, intervene on and measure grokking.")

SET_HELP = "override a config field, e.g. --set optim.lr=3e-3 (repeatable)"
THREADS_HELP = ("torch threads: a count, or auto (1 for small models and on a busy machine, all free cores for a "
                "large step; train/threads.py)")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"grokscope {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """grokscope: reproduce, intervene on and measure grokking."""


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@app.command()
def presets() -> None:
    """List the named configs and the behaviour to expect from each."""
    from rich.markup import escape
    from rich.table import Table

    from .presets import PRESETS

    table = Table(title="grokscope presets", show_lines=True)
    table.add_column("name", style="bold")
    table.add_column("what it is")
    table.add_column("what to expect")
    for p in PRESETS.values():
        table.add_row(p.name, escape(p.summary), escape(p.expect))
    _console().print(table)


@contextmanager
def _interrupt_hint() -> Iterator[None]:
    """Ctrl-C / SIGTERM while training: the run is already marked interrupted; say how to continue, exit 130
    (inside the command: click turns a KeyboardInterrupt that reaches it into a bare Abort)."""
    from .train.status import RunInterrupted

    try:
        yield
    except RunInterrupted as e:
        sys.stdout.flush()
        sys.stderr.write(e.resume_hint() + "\n")
        raise typer.Exit(130) from None


@app.command()
def run(
    config: str = typer.Argument(..., help="preset name (see `grokscope presets`) or a TOML/YAML config file"),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    out: Path = typer.Option(Path("runs"), "--out", help="parent directory of the run directory"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    threads: str = typer.Option("auto", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the resolved config and what would run; write nothing"),
) -> None:
    """Train a config; live progress (plain lines when stdout is not a terminal), then a per-member summary and
    curves.png in the run directory."""
    from . import api
    from .cli_progress import train_with_progress
    from .config import load_config

    notes: list[str] = []
    cfg = load_config(config, set_, notes)
    if dry_run:
        from .cli_config import dry_run as show_dry_run

        return show_dry_run(cfg, out, device, threads, notes)
    for note in notes:
        sys.stderr.write(f"note: {note}\n")
    with _interrupt_hint():
        r = train_with_progress(api.run, cfg, quiet, out / f"{cfg.name}-{cfg.run_id()}", config=cfg, out=out,
                                device=device, threads=threads)
    _summary(r)


@app.command()
def resume(
    run_dir: Path = typer.Argument(..., help="run directory"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    threads: str = typer.Option("auto", help=THREADS_HELP + "; the original run's count gives identical metrics"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="extend a run to this longer budget "
                                        "(recorded in the same run: meta.json 'extensions')"),
) -> None:
    """Continue an interrupted run (even one killed with -9) from its last saved state; with --steps N, continue a
    complete one to a budget of N steps."""
    from . import api
    from .cli_progress import train_with_progress

    if _is_lm_run(run_dir):  # a language-model run (``grokscope lm train``) resumes through its own loop
        from .cli_lm import resume as lm_resume

        if steps is not None:
            raise UserError(f"{run_dir}: --steps is not supported for language-model runs")
        try:
            n = 1 if threads == "auto" else int(threads)
        except ValueError:
            raise UserError(f"--threads {threads!r}: a number of threads or 'auto'") from None
        lm_resume(run_dir, threads=n)
        return
    r = api.Run(run_dir)
    if steps is not None:
        longer = r.config.model_copy(update={"train": r.config.train.model_copy(update={"steps": steps})})
        with _interrupt_hint():
            r = train_with_progress(api.extend, longer, quiet, run_dir, path=run_dir, steps=steps, device=device,
                                    threads=threads)
    elif r.complete:
        _console().print(f"{run_dir} is already complete")  # stdout: stderr stays for errors
        r = api.resume(run_dir)  # returns it unchanged, after redrawing a missing curves.png
    else:
        with _interrupt_hint():
            r = train_with_progress(api.resume, r.config, quiet, run_dir, path=run_dir, device=device, threads=threads)
    _summary(r)


def _is_lm_run(run_dir: Path) -> bool:
    import json

    try:
        return json.loads((Path(run_dir) / "config.json").read_text()).get("kind") == "lm"
    except (OSError, ValueError, AttributeError):
        return False  # not readable as an LM config: the ordinary path reports what is wrong


def _final_values(r: Any) -> dict[int, dict[str, float]]:
    df = r.metrics()
    if df.empty:
        return {}
    last = df[df.step == df.step.max()]
    return {int(m): dict(zip(g.metric, g.value)) for m, g in last.groupby("member")}


def _summary_rows(r: Any) -> list[dict[str, Any]]:
    events = r.events
    finals = {} if all("final" in e for e in events) else _final_values(r)  # a complete run stores them
    members = {m["member"]: m for m in r.members}
    rows = []
    for e in events:
        m = e["member"]
        extra = {k: v for k, v in members.get(m, {}).items() if k not in ("member", "seed", "init_seed", "split_seed")}
        rows.append({**e, "vary": extra, "final": e.get("final", finals.get(m, {}))})
    return rows


def _summary(r: Any) -> None:
    from rich.table import Table

    meta = r.meta
    rows = _summary_rows(r)
    from .cli_progress import time_label

    fork = r.config.train.fork
    table = Table(title=f"{r.path}  ({meta.get('status')}, {meta.get('steps_done')} steps, "
                        f"{time_label(meta, fork.step if fork else None)})")
    for col in ("member", "seed", "vary", "T_mem", "T_grok", "delay", "train acc", "test acc", "||W||"):
        table.add_column(col, justify="right")

    def fmt(v: Any) -> str:
        return "-" if v is None else str(v)

    for row in rows:
        f = row["final"]
        t_grok = fmt(row["t_grok"]) if not row["censored"] else f">{row['budget']}"  # censored at the budget
        table.add_row(str(row["member"]), str(row["seed"]), " ".join(f"{k.split('.')[-1]}={v}" for k, v in row["vary"].items()),
                      fmt(row["t_mem"]), t_grok, fmt(row["delay"]), f"{f.get('train/acc', float('nan')):.3f}",
                      f"{f.get('test/acc', float('nan')):.3f}", f"{f.get('norm/total', float('nan')):.1f}")
    con = _console()
    con.print(table)
    if any(row["censored"] for row in rows):
        con.print("T_grok >N: censored (test accuracy never reached the threshold in N steps)")
    if (r.path / "curves.png").is_file():
        con.print(f"curves: {r.path / 'curves.png'}")


@app.command()
def show(
    run_dir: Path = typer.Argument(..., help="run directory"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    config: bool = typer.Option(False, "--config", help="print the run's resolved config (YAML)"),
) -> None:
    """Summarise a run: per-member T_mem, T_grok, delay, censoring and final metrics."""
    from . import api

    if config:
        from .cli_config import show_config

        return show_config(run_dir)
    r = api.Run(run_dir)
    if as_json:
        doc = {"run_id": r.path.name, "path": str(r.path), "status": r.meta.get("status"), "meta": r.meta,
               "config": r.config.model_dump(mode="json"), "members": _summary_rows(r)}
        print_json(doc)
    else:
        _summary(r)


def _register_extensions() -> None:
    """Commands that live in their own modules (sweeps, catalog, reports, analyses, ...) add themselves to ``app``."""
    from .cli_analyze import register_modules

    register_modules(app, ("cli_sweep", "cli_catalog", "cli_reproduce", "cli_analyze", "cli_laws", "cli_probes",
                           "cli_config", "cli_workbench", "cli_lm", "cli_bench"))


_register_extensions()


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except UserError as e:
        sys.stderr.write(f"error: {e}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; continue with `grokscope resume RUN`\n")
        raise SystemExit(130) from None
    except Exception as e:
        # click's usage errors (typer may vendor click, so match by shape, not by class)
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            sys.stderr.write(f"error: {e.format_message()}\n")
            raise SystemExit(2) from None
        if type(e).__name__ == "Abort":
            sys.stderr.write("aborted\n")
            raise SystemExit(130) from None
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            # disk full / read-only / permission: the store's atomic writes left every file whole
            where = f" ({e.filename})" if e.filename else ""
            sys.stderr.write(f"error: {os.strerror(e.errno)}{where}; files written so far are intact: free space "
                             "(or fix permissions) and rerun, or `grokscope resume RUN` for a run\n")
            raise SystemExit(2) from None
        raise
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
