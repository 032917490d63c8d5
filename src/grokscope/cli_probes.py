"""``grokscope probes``: every registered probe with the metrics it writes, its needs, label use and cost.

The metric names are found by running each probe once on a tiny model of the kind it serves (an MLP, or a
transformer for probes an MLP cannot serve); probes from plug-ins and other modules appear as soon as they
register. Registered on the main app by ``cli._register_extensions``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

TINY = {"task": {"name": "modular", "op": "add", "p": 7, "frac": 0.5}, "train": {"steps": 1}}
TINY_MODELS = [{"name": "mlp", "d_embed": 8, "d_hidden": 8},
               {"name": "transformer", "n_layers": 1, "d_model": 8, "n_heads": 2, "d_mlp": 16}]


def _metric_names(probe: Any) -> list[str]:
    """Metrics one probe writes, from one evaluation on a tiny model it can serve (members collapsed)."""
    import torch

    from .config import load_config
    from .probes import ProbeSet
    from .probes.evaluate import evaluate
    from .train.loop import full_batch_grad
    from .train.setup import build

    for model in TINY_MODELS:
        cfg = load_config({**TINY, "model": model, "eval": {"probes": ["accuracy"]}})
        s = build(cfg, torch.device("cpu"))
        if probe.skip_reason(s.model.roles) is not None:
            continue
        try:
            values = evaluate(s.model, s.eval_data, ProbeSet([probe]), 0, groups=s.model.groups, wd=s.wd,
                              lr=s.lr, task=s.task_info, grad_fn=lambda s=s: full_batch_grad(s), history={},
                              history_steps=None)
        except Exception as e:  # noqa: BLE001 - a broken plug-in probe is listed, not fatal
            return [f"(fails on a tiny {model['name']}: {type(e).__name__})"]
        return sorted(values)
    return []


def _compact(names: list[str]) -> str:
    """``spectra/erank/W_E, spectra/erank/W_U`` -> ``spectra/erank/*``; long quantile lists shortened."""
    out: list[str] = []
    for n in names:
        parts = n.split("/")
        key = "/".join(parts[:2]) + "/*" if len(parts) > 2 else n
        if key.endswith("/*") and key in out:
            continue
        out.append(key)
    if len(out) > 10 and all(o.split("/")[0] == out[0].split("/")[0] for o in out):
        out = [out[0], "...", out[-1]]
    return ", ".join(out)


def register(app: typer.Typer) -> None:
    @app.command("probes")
    def probes_cmd(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
        """Every probe: the metrics it writes, what it needs, whether it is label-free, its cost and cadence."""
        import torch

        from .probes import PROBES
        from .probes.sets import PROBE_SETS

        torch.set_num_threads(1)
        rows = []
        for name, p in PROBES.items():
            metrics = _metric_names(p)
            d = p.describe()
            labels = d["uses_labels"]
            free = "yes" if labels is False else ("no" if labels is True else "partly")
            rows.append({"probe": name, "metrics": metrics, "needs": d["needs"] + (["hooks"] if p.hooks else []),
                         "label_free": free, "label_metrics": labels if isinstance(labels, list) else None,
                         "cost": d["cost"], "every": d["every"],
                         "sets": [s for s, members in PROBE_SETS.items() if name in members]})
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title="probes (eval.probes; sets: " + ", ".join(PROBE_SETS) + ")")
        for col in ("probe", "metrics", "needs", "label-free", "cost", "every", "sets"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(r["probe"], _compact(r["metrics"]), ",".join(r["needs"]) or "-", r["label_free"], r["cost"],
                      str(r["every"]), ",".join(r["sets"]) or "-")
        Console(width=200).print(t)
