"""The mechanism analyses applied to a stored run (``grokscope analyze fourier|progress``, the dlc/clock claims).

Loads the run's setup once, then its checkpoints into the same model; each result is a JSON-ready dict.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserError
from . import readout, spectrum
from .analysis import fourier_analysis
from .domain import make_domain, natural_basis, task_fields
from .progress import clock_directions, clock_fit, progress_measures, train_mask


def open_run(path: str | Path) -> tuple[Any, Any]:
    """(Run, Setup) of a stored run; one UserError line for a non-modular task or a run without checkpoints."""
    from ..api import load_run

    run = load_run(path)
    task_fields(run.config.task)  # parity etc.: "has no Fourier structure"
    if not run.checkpoint_steps():
        raise UserError(f"run {run.path} has no checkpoints (checkpoint.count = 0?)")
    return run, run.setup()


def load_step(run: Any, setup: Any, step: int | None) -> int:
    """Load checkpoint ``step`` (default: the last) into ``setup.model``; returns the step."""
    steps = run.checkpoint_steps()
    step = steps[-1] if step is None else step
    if step not in steps:
        raise UserError(f"run {run.path} has no checkpoint at step {step} (it has: {', '.join(map(str, steps))})")
    setup.model.load_state_dict(run.load_checkpoint(step)["params"])
    setup.model.eval()
    return step


def grok_status(run: Any) -> list[dict[str, Any]]:
    """Per member: seed, t_mem, t_grok, grokked (bool) from the run's events."""
    return [{"member": e["member"], "seed": e.get("seed"), "t_mem": e.get("t_mem"), "t_grok": e.get("t_grok"),
             "grokked": e.get("t_grok") is not None and not e.get("censored", False)} for e in run.events]


def analyze_fourier(path: str | Path, basis: str = "auto", step: int | None = None,
                    factor: float = spectrum.KEY_FACTOR) -> dict[str, Any]:
    run, setup = open_run(path)
    step = load_step(run, setup, step)
    res = fourier_analysis(setup.model, setup.data, run.config.task, basis, factor)
    res.update(run=str(run.path), step=step, members=grok_status(run))
    return res


def analyze_progress(path: str | Path, basis: str = "auto", factor: float = spectrum.KEY_FACTOR,
                     keys: list[int] | None = None) -> dict[str, Any]:
    """Restricted / excluded loss at every checkpoint, with the key frequencies (per member, from the last
    checkpoint's W_E spectrum in ``basis``; ``auto``: the task's natural basis) and the key-frequency timeline."""
    t0 = time.perf_counter()
    run, setup = open_run(path)
    task = run.config.task
    kind = natural_basis(task) if basis == "auto" else basis
    dom = make_domain(task, kind)
    B = torch.as_tensor(dom.basis)
    g = readout.grid(setup.data, dom)
    mask = train_mask(g.rows, np.asarray(setup.data.train_idx))
    steps = run.checkpoint_steps()
    M = setup.model.M
    load_step(run, setup, steps[-1])
    final = spectrum.frequency_norms(B, readout.embedding(setup.model, dom))  # [M, K]
    member_keys = [list(keys) if keys else spectrum.key_frequencies(final[m], factor) for m in range(M)]
    dirs = [clock_directions(dom, k) for k in member_keys]
    rows: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for s in steps:
        load_step(run, setup, s)
        z = readout.logits_table(setup.model, g, dom.n).reshape(M, dom.n ** 2, -1)
        norms = spectrum.frequency_norms(B, readout.embedding(setup.model, dom))
        for m in range(M):
            pm = progress_measures(z[m:m + 1], g.y, mask[m:m + 1], dirs[m])
            rows.append({"step": s, "member": m, **{k: float(v[0]) for k, v in pm.items()},
                         "gini": float(spectrum.gini(norms[m]))})
            timeline.append({"step": s, "member": m, "key_norms": [round(float(norms[m, k - 1]), 5)
                                                                  for k in member_keys[m]],
                             "key_frequencies_now": spectrum.key_frequencies(norms[m], factor)})
    load_step(run, setup, steps[-1])
    z = readout.logits_table(setup.model, g, dom.n).reshape(M, dom.n ** 2, -1)
    fits = [clock_fit(z[m], dom, member_keys[m]) for m in range(M)]
    return {"run": str(run.path), "basis": kind, "op": task.op, "p": task.p, "factor": factor,
            "key_frequencies": member_keys, "members": grok_status(run), "rows": rows, "timeline": timeline,
            "clock_r2": [f[0] for f in fits], "clock_coef": [f[1] for f in fits],
            "seconds": round(time.perf_counter() - t0, 3), "checkpoints": len(steps)}


def figure_dir(run_path: str | Path, out: str | Path | None) -> Path:
    return Path(out) if out is not None else Path(run_path) / "mech"


def fourier_figures(run_path: str | Path, res: dict[str, Any], out: str | Path | None = None) -> list[Path]:
    """spectrum.png (both bases) and neurons.png (the best neuron per key frequency of member 0 in the sparse basis,
    reordered by the discrete log for the character basis)."""
    from . import figures
    from .numtheory import log_order_perm

    d = figure_dir(run_path, out)
    files = [figures.spectrum_figure(res, d / "spectrum.png")]
    kind = res["sparse_basis"][0]
    row = res["bases"][kind]["members"][0]
    if "neurons" not in row or not row["embed"]["key_frequencies"]:
        return files
    run, setup = open_run(run_path)
    load_step(run, setup, res["step"])
    dom = make_domain(run.config.task, kind)
    H = readout.neuron_table(setup.model, readout.grid(setup.data, dom), dom.n)[0]  # [n, n, N]
    frac = spectrum.neuron_fractions(torch.as_tensor(dom.basis), H)  # [N, K]
    tables, titles = [], []
    for k in row["embed"]["key_frequencies"][:6]:
        j = int(frac[:, k - 1].argmax())
        t = H[..., j].numpy()
        if kind == "multiplicative":
            perm = log_order_perm(dom.p)
            t = t[perm][:, perm]
        tables.append(t)
        titles.append(f"neuron {j}: k = {k} ({100 * float(frac[j, k - 1]):.1f}%)")
    files.append(figures.neuron_figure(np.stack(tables), titles, d / "neurons.png"))
    return files
