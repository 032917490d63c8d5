"""``grokscope bench-predictors``: build (or reuse) a predictor pool and score every early-warning signal and
baseline on it (issue 14; ``grokscope.bench``). Registered by ``grokscope.cli._register_extensions``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .cli_json import print_json
from .errors import UserError


def register(app: typer.Typer) -> None:
    app.command("bench-predictors")(bench_predictors)


def bench_predictors(
    pool: str = typer.Option("quick", "--pool", help="a shipped pool (quick, paper, tiny), a pool spec .toml, or "
                             "a directory of finished runs (scored as they are, nothing trained)"),
    out: Optional[Path] = typer.Option(None, "--out", help="pool directory to build into (default runs/pool-<name>)"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="parallel runs while building the pool"),
    as_json: bool = typer.Option(False, "--json", help="print the leaderboard document as JSON on stdout"),
    fpr: float = typer.Option(0.05, "--fpr", help="false-alarm rate the alarm thresholds are calibrated to"),
    folds: int = typer.Option(2, "--folds", help="seed folds of the held-out split"),
    no_checkpoints: bool = typer.Option(False, "--no-checkpoints", help="skip the checkpoint predictors (LLC, α)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda (pool building)"),
    executor: str = typer.Option("local", "--executor", help="local (process pools) or ray (pool building)"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (e.g. auto)"),
    threads: int = typer.Option(1, "--threads", help="torch threads while scoring (the pool's workers use 1 each)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress lines"),
) -> None:
    """Score every predictor of grokking (and the step / loss / weight-norm baselines) on a pool of grokking and
    non-grokking runs: held-out AUROC with bootstrap CI, lead time at a calibrated false-alarm rate, forecast
    error, cost; a combined label-free model; claim rows. Writes POOL/bench/leaderboard.json."""
    from .api import check_threads, torch_threads
    from .bench.leaderboard import run_bench
    from .cli_reproduce import _console

    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r} (choose local or ray)")
    if not 0 < fpr < 1:
        raise UserError("--fpr must be in (0, 1)")
    if folds < 2:
        raise UserError("--folds must be >= 2 (a run is never scored by its own calibration)")
    err = _console(stderr=True)
    settings = None
    if fpr != 0.05 or folds != 2:
        settings = _settings_for(pool, fpr, folds)

    def progress(family: str) -> Any:
        from .cli_sweep import RichProgress

        if not quiet:
            err.print(f"[bold]pool[/bold]: family {family}")
        return None if quiet else RichProgress(err, live=False)

    with torch_threads(check_threads(threads)):
        doc = run_bench(pool, out, workers, settings, progress=progress,
                        log=None if quiet else (lambda s: err.print(s)), device=device,
                        checkpoints=not no_checkpoints, executor=executor, address=address)
    if as_json:
        print_json(doc)
    else:
        _print_board(doc)
    err.print(f"wrote {Path(doc['pool']) / 'bench' / 'leaderboard.json'}")


def _settings_for(pool: str, fpr: float, folds: int) -> Any:
    from .bench.evaluate import Settings
    from .bench.pool import load_spec, read_pool_file

    p = Path(pool)
    spec = (read_pool_file(p) or {}).get("spec") if p.is_dir() else load_spec(pool)
    qs = tuple(float(q) for q in (spec or {}).get("questions", Settings.questions))
    return Settings(questions=qs, headline=qs[min(1, len(qs) - 1)], fpr=fpr, folds=folds)


def _fmt(v: Any, nd: int = 2) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _print_board(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from .cli_reproduce import _console

    s = doc["summary"]
    t = Table(title=f"predictor leaderboard: {s['members']} members ({s['grokked']} grokked), question at "
                    f"{doc['settings']['headline']:g} of the budget, held out by seed")
    for c in ("rank", "predictor", "kind", "label-free", "AUROC", "95% CI", "task transfer", "lead (median)",
              "alarmed", "cost ms/eval", "status"):
        t.add_column(c)
    for r in doc["rows"]:
        ci = r.get("auroc_ci95") or [None, None]
        lt = r.get("lead_time") or {}
        tt = (r.get("task_transfer") or {}).get("auroc")
        t.add_row(_fmt(r.get("rank")), r["predictor"], r["kind"], "yes" if r["label_free"] else "no",
                  _fmt(r.get("auroc")), f"[{_fmt(ci[0])}, {_fmt(ci[1])}]", _fmt(tt), _fmt(lt.get("median"), 0),
                  f"{lt.get('n_alarmed', '-')}/{lt.get('n_grokked', '-')}" if lt else "-",
                  _fmt(r.get("cost_ms_per_eval"), 3), r["status"][:40])
    _console().print(t)
    for c in doc.get("claims", []):
        _console().print(f"[bold]{c['verdict']}[/bold]: {c['claim']} — paper {c['paper']['text']} "
                         f"({c['paper']['source']}); measured {c['measured']['text']} {c['ci_text']}")
