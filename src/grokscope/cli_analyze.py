"""``grokscope analyze``: analyses of a stored run (probes on checkpoints, early warnings, mechanisms, ...).

Each analysis lives in its own module ``cli_analyze_<name>.py`` with ``register(analyze_app)``; this module only
builds the group. Registered on the main app by ``grokscope.cli._register_extensions``.
"""

from __future__ import annotations

import importlib

import typer

analyze_app = typer.Typer(no_args_is_help=True, help="analyses of a stored run (see each subcommand)")

# one module per analysis family; a module that does not exist (yet) is skipped
ANALYSES: tuple[str, ...] = ("cli_analyze_probes", "cli_analyze_ews", "cli_analyze_mech", "cli_analyze_barrier",
                             "cli_analyze_portrait")


def register_modules(app: typer.Typer, names: tuple[str, ...]) -> None:
    """Import each ``grokscope.<name>`` and call its ``register(app)``; a module that does not exist is skipped
    (an import error inside an existing module is raised)."""
    for name in names:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{name}":
                raise
            continue
        module.register(app)


def register(app: typer.Typer) -> None:
    register_modules(analyze_app, ANALYSES)
    app.add_typer(analyze_app, name="analyze")
