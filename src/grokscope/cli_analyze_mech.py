"""``grokscope analyze fourier`` and ``grokscope analyze progress``: the Fourier clock / Discrete-Log Clock read out
of a stored run's checkpoints (``grokscope.mech``). Figures go to ``RUN/mech/`` (or ``--out``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("fourier")(fourier)
    app.command("progress")(progress)


def _threads(threads: Optional[int]) -> None:
    import torch

    from .api import check_threads

    torch.set_num_threads(check_threads(threads))


def _grok_lines(members: list[dict]) -> list[str]:
    return [f"member {e['member']} (seed {e['seed']}): "
            + (f"grokked at step {e['t_grok']}" if e["grokked"] else
               "did not grok: these are the spectra of a network that has not generalised")
            for e in members]


def fourier(
    run: Path = typer.Argument(..., help="a run directory"),
    basis: str = typer.Option("auto", help="additive, multiplicative or auto (both; the character basis for prime p)"),
    step: Optional[int] = typer.Option(None, help="checkpoint step (default: the last)"),
    factor: float = typer.Option(5.0, help="key frequency: norm > factor × median (paper 2: 5 at p=113, 3 otherwise)"),
    out: Optional[Path] = typer.Option(None, help="figure directory (default RUN/mech)"),
    as_json: bool = typer.Option(False, "--json", help="print the full result as JSON"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
) -> None:
    """Spectra of W_E / W_U (Gini, IPR, key frequencies), clean neurons, attention input-dependence, in both bases."""
    from .mech.analysis import summary_lines
    from .mech.runs import analyze_fourier, fourier_figures

    _threads(threads)
    res = analyze_fourier(run, basis, step, factor)
    res["figures"] = [str(f) for f in fourier_figures(run, res, out)]
    if as_json:
        sys.stdout.write(json.dumps(res, default=str) + "\n")
        return
    print(f"{res['run']}: {res['op']} mod {res['p']}, checkpoint step {res['step']}")
    print("\n".join(_grok_lines(res["members"]) + summary_lines(res)))
    print("figures: " + ", ".join(res["figures"]))


def progress(
    run: Path = typer.Argument(..., help="a run directory"),
    basis: str = typer.Option("auto", help="basis of the clock: additive, multiplicative, auto (the task's natural one)"),
    factor: float = typer.Option(5.0, help="key frequency: norm > factor × median at the last checkpoint"),
    keys: Optional[str] = typer.Option(None, help="comma-separated key frequencies instead of the measured ones"),
    out: Optional[Path] = typer.Option(None, help="figure directory (default RUN/mech)"),
    as_json: bool = typer.Option(False, "--json", help="print the full result as JSON"),
    threads: Optional[int] = typer.Option(None, help="torch threads"),
) -> None:
    """Restricted and excluded loss (Nanda et al. 2023) over the checkpoints, key-frequency timeline, clock fit R²."""
    from .errors import UserError
    from .mech.figures import progress_figure
    from .mech.runs import analyze_progress, figure_dir

    _threads(threads)
    try:
        key_list = [int(k) for k in keys.split(",")] if keys else None
    except ValueError:
        raise UserError(f"--keys must be comma-separated integers, got {keys!r}") from None
    res = analyze_progress(run, basis, factor, key_list)
    res["figures"] = [str(progress_figure(res, figure_dir(run, out) / "progress.png"))]
    if as_json:
        sys.stdout.write(json.dumps(res, default=str) + "\n")
        return
    print(f"{res['run']}: {res['op']} mod {res['p']}, {res['basis']} basis, {res['checkpoints']} checkpoints "
          f"in {res['seconds']:.1f} s")
    print("\n".join(_grok_lines(res["members"])))
    for m, ks in enumerate(res["key_frequencies"]):
        print(f"member {m}: key frequencies {ks or 'none'}; clock fit R² {res['clock_r2'][m]:.3f}")
    print(f"{'step':>8} {'member':>6} {'full':>10} {'restricted':>10} {'train':>10} {'excluded':>10} {'Gini':>6}")
    for r in res["rows"]:
        print(f"{r['step']:>8} {r['member']:>6} {r['full_loss']:>10.4g} {r['restricted_loss']:>10.4g} "
              f"{r['train_loss']:>10.4g} {r['excluded_loss']:>10.4g} {r['gini']:>6.3f}")
    print("figures: " + ", ".join(res["figures"]))
