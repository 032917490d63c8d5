"""``grokscope analyze probes RUN --probes lar,gmm,...``: probes on a finished run's checkpoints.

Results are stored with ``Run.write_offline`` as ``offline/probes-<names>.parquet`` (never rewritten) under the
probes' own metric names, so ``Run.metrics()``, ``grokscope query`` and the early-warning analyses read them like
online metrics. See ``probes/offline.py`` for what stateful probes see.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError


def register(analyze_app: typer.Typer) -> None:
    @analyze_app.command("probes")
    def probes_cmd(
        run_dir: Path = typer.Argument(..., help="run directory"),
        probes: str = typer.Option(..., "--probes", help="comma-separated probe or set names (see `grokscope probes`)"),
        steps: Optional[str] = typer.Option(None, help="comma-separated checkpoint steps (default: all)"),
        name: Optional[str] = typer.Option(None, help="offline result name (default: probes-<names>)"),
        threads: int = typer.Option(1, help="torch threads"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary"),
    ) -> None:
        """Run probes on every checkpoint of RUN and store the values as offline results."""
        import torch

        from . import api
        from .probes import resolve
        from .probes.offline import analyze_checkpoints

        names = [n.strip() for n in probes.split(",") if n.strip()]
        if not names:
            raise UserError("--probes: give at least one probe name")
        resolve(names)  # unknown names: one line before any work
        try:
            wanted = [int(s) for s in steps.split(",")] if steps else None
        except ValueError:
            raise UserError(f"--steps: expected comma-separated integers, got {steps!r}") from None
        run = api.load_run(run_dir)
        label = name or "probes-" + "-".join(names)
        if (run.path / "offline" / f"{label}.parquet").exists():
            raise UserError(f"{run.path / 'offline' / (label + '.parquet')} exists; pass --name to store another")
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            cols = analyze_checkpoints(run, names, wanted)
        finally:
            torch.set_num_threads(old)
        path = run.write_offline(label, cols)
        metrics = sorted(set(cols["metric"]))
        summary = {"path": str(path), "steps": sorted(set(cols["step"])), "metrics": metrics, "rows": len(cols["step"])}
        if as_json:
            sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        else:
            sys.stdout.write(f"wrote {path}: {len(metrics)} metrics at {len(summary['steps'])} checkpoints\n")
