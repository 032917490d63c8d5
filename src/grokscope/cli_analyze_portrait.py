"""``grokscope analyze portrait RUN``: the two-field portrait of a stored run (papers/03 §12, operationalised).

The run must have been trained with the ``two_field`` probe and its trajectory sketch
(``eval.probes = [..., "two_field"]``, ``eval.probe_options.two_field = {sketch = 8}``); see ``grokscope.hef.portrait``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def _json_ready(res: dict[str, Any]) -> dict[str, Any]:
    return {**res, "members": [{k: v for k, v in m.items() if k != "curves"} for m in res["members"]]}


def register(analyze_app: typer.Typer) -> None:
    @analyze_app.command("portrait")
    def portrait_cmd(
        run: Path = typer.Argument(..., help="run directory (trained with the two_field probe and its sketch)"),
        member: Optional[int] = typer.Option(None, "--member", help="one member (default: all; the figure: the first)"),
        states: int = typer.Option(6, "--states", min=2, help="k-means states of the coarse-grained chain"),
        window: int = typer.Option(40, "--window", min=4, help="transitions per window of Σ̂(t)"),
        out: Optional[Path] = typer.Option(None, "--out", help="figure path (.png/.pdf/.svg; default RUN/portrait.png)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Loss-gradient vs weight-decay field (norms, angle, balance point), entropy production Σ̂(t) of the
        coarse-grained trajectory, quasi-potential −ln p̂ in its top principal components; writes the figure."""
        import sys

        from .cli_json import print_json
        from .errors import UserError
        from .hef.figures import portrait_figure
        from .hef.portrait import run_portraits

        if not run.is_dir():
            raise UserError(f"no run directory at {run}")
        res = run_portraits(run, member, n_states=states, window=window)
        res["figure"] = str(portrait_figure(res, out or run / "portrait.png", member))
        if as_json:
            print_json(_json_ready(res))
            return
        lines = [f"{res['run']}: two-field portrait (operationalisations of papers/03 §12), {res['grid']} eval grid"]
        fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
        for m in res["members"]:
            lines.append(f"member {m['member']}: T_mem {fmt(m['t_mem'])}  T_grok {fmt(m['t_grok'])}  balance "
                         f"{fmt(m['balance_step'])}  Σ̂ total {fmt(m['sigma_total'])}  Σ̂ peak at "
                         f"{fmt(m['sigma_peak_step'])}  in transition: {fmt(m['sigma_peak_in_transition'])} "
                         f"(chance {fmt(m['chance'])})")
        lines.append(f"figure: {res['figure']}")
        sys.stdout.write("\n".join(lines) + "\n")
