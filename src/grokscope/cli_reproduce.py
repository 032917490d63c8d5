"""``grokscope reproduce``: run a published claim's experiment and print its claim table.

Registered on the main app by ``grokscope.cli._register_extensions``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from .cli_json import print_json
from .errors import UserError

VERDICT_STYLE = {"reproduced": "green", "shape reproduced": "yellow", "not reproduced": "dim", "contradicted": "red"}


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)


def reproduce(
    name: Optional[str] = typer.Argument(None, help="experiment name (see `grokscope reproduce --list`)"),
    list_: bool = typer.Option(False, "--list", help="list the experiments: name, claim, paper, scales"),
    scale: str = typer.Option("quick", "--scale", help="quick (CPU-sized, minutes) or paper (the paper's sizes)"),
    out: Path = typer.Option(Path("reproductions"), "--out", help="parent directory: OUT/NAME/<stage>/ and claims.*"),
    as_json: bool = typer.Option(False, "--json", help="print the claim table as JSON on stdout"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="parallel runs (default: one per core)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no per-run progress lines"),
    published: Optional[Path] = typer.Option(None, "--published", help="recompute the claims from a paper's "
                                             "published per-seed results in this directory (no training)"),
) -> None:
    """Run an experiment's stages (finished runs are reused), then print its claim table and write claims.*."""
    from .experiments import load_all

    registry = load_all()
    if list_:
        _print_list(registry)
        return
    if name is None:
        raise UserError("give an experiment name, or --list to see them")
    exp = registry.get(name)
    exp.params(scale)  # an unknown scale is one line before anything runs
    result = _run(exp, scale, out, workers, device, quiet, published)
    if as_json:
        print_json(result.to_json())
    else:
        _print_table(result.to_json())
        _console(stderr=True).print("wrote " + ", ".join(str(f) for f in result.files))


def _run(exp: Any, scale: str, out: Path, workers: Optional[int], device: str, quiet: bool,
         published: Optional[Path] = None) -> Any:
    from .cli_sweep import RichProgress
    from .experiments.run import StageFailed, run_experiment

    err = _console(stderr=True)

    def progress(stage: str) -> Any:
        err.print(f"[bold]{exp.name}[/bold]: stage {stage}")
        return None if quiet else RichProgress(err, live=False)

    try:
        return run_experiment(exp, scale, out, workers=workers, progress=progress, device=device,
                              published=published)
    except StageFailed as e:
        sys.stderr.write(f"error: {e}\n")
        raise typer.Exit(1) from None


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False)
    return con if con.is_terminal else Console(stderr=stderr, highlight=False, width=200)


def _print_list(registry: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="grokscope reproductions", show_lines=True)
    for col in ("name", "claim", "paper", "scales"):
        table.add_column(col, style="bold" if col == "name" else None)
    for name, exp in registry.items():
        table.add_row(name, escape(exp.claim), escape(exp.paper), ", ".join(exp.scales))
    _console().print(table)


def _print_table(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from .report.claims import COLUMNS, row_cells, shared_notes

    table = Table(title=f"{doc['experiment']} ({doc['scale']}): {doc['claim']}", show_lines=True)
    for col in COLUMNS:
        table.add_column(col)
    for row in doc["rows"]:
        cells = [escape(c) for c in row_cells(row, bool(doc["scale_notes"]))]
        style = VERDICT_STYLE.get(row["verdict"], "")
        cells[4] = f"[{style}]{cells[4]}[/{style}]\n[dim]{escape(row['rule'])}[/dim]"
        table.add_row(*cells)
    con = _console()
    con.print(table)
    for note in shared_notes(doc):
        con.print(f"scale note: {escape(note)}")
