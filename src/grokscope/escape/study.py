"""The simulations behind ``reproduce arrhenius`` (papers/01 §3.3 [reconstructed]), cached as JSON.

``measure(params)`` runs, from the scale's parameters:
- ``arrhenius``: escape times of a width-``width`` net at temperatures T = ΔE / x for each x (``xs``), ``seeds``
  members each, a budget per temperature from Kramers' 1-D time (``budget_factor`` ×, capped at ``max_steps``);
- ``wide``: the same at width ``wide_width`` (a saddle *manifold* of hidden-unit rotations: Langer prefactor);
- ``gd`` (control, T = 0, full batch) and ``sgd`` (T = 0, minibatch ``sgd_batch``) with T_eff measured from the
  per-example gradient covariance at the trapped initial state and at the end;
- ``modes``: a teacher with spectrum ``mode_spectrum`` at one temperature, every mode's escape time;
- ``reference``: the 1-D Langevin mode model at the same temperatures and learning rate (the exact reference).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import stable_hash
from ..tasks.teacher import TeacherTask
from . import langevin, modes, netsim, temperature


def _task(p: dict[str, Any], spectrum: list[float]) -> TeacherTask:
    return TeacherTask(d_in=p["d"], d_out=p["d"], spectrum=spectrum, n_train=p["n_train"], n_test=16)


def _times(a: np.ndarray) -> list[float | str]:
    return [float(v) if np.isfinite(v) else "inf" for v in a]


def _escape_run(p: dict[str, Any], width: int, x: float, budget: int, seeds: list[int], T: float,
                spectrum: list[float] | None = None, batch: int | None = None, tag: int = 0) -> netsim.EscapeResult:
    return netsim.simulate(_task(p, spectrum or [p["s"]]), p["depth"], width, p["gamma"], p["lr"], [T], seeds,
                           budget, init_scale=p["init_scale"], batch_size=batch, noise_seed=1000 * tag + int(x * 97))


def sgd_temperature(p: dict[str, Any], seeds: list[int]) -> float:
    """Median over members of T_eff = η tr(C) / (2 B P) (``temperature.t_eff``) at the trapped initial weights."""
    task = _task(p, [p["s"]])
    from ..tasks.teacher import build

    data = build(task, seeds)
    n = task.n_train
    Ws = netsim.init_chain(p["depth"], p["width"], p["d"], p["d"], [s + 7919 for s in seeds], p["init_scale"],
                           torch.float64)
    out = []
    for m in range(len(seeds)):
        params = [W[m].clone().requires_grad_(True) for W in Ws]
        x = torch.as_tensor(data.x[m, :n])
        y = torch.as_tensor(data.y[m, :n])

        def loss_of(i: int, params: list[torch.Tensor] = params, x: torch.Tensor = x, y: torch.Tensor = y) -> torch.Tensor:
            W = params[0]
            for nxt in params[1:]:
                W = W @ nxt
            return ((x[i] @ W - y[i]) ** 2).sum()

        g = temperature.per_example_grads(loss_of, params, n)
        out.append(temperature.t_eff(g, p["lr"], p["sgd_batch"]))
    return float(np.median(out))


def measure(p: dict[str, Any], cache: Path | None = None) -> dict[str, Any]:
    """Run (or read from ``cache`` when the parameters match) every simulation; JSON-able results."""
    key = stable_hash(p)
    if cache is not None and cache.is_file():
        doc = json.loads(cache.read_text())
        if doc.get("key") == key:
            return doc
    torch.set_num_threads(int(p.get("threads", 1)))
    depth, s, gamma, lr = p["depth"], p["s"], p["gamma"], p["lr"]
    land = modes.landscape(depth, s, gamma)
    if land.barrier is None:
        raise ValueError(f"no barrier at depth={depth}, s={s}, gamma={gamma} ({land.phase})")
    dE = land.barrier
    seeds = list(range(p["seeds"]))
    doc: dict[str, Any] = {"key": key, "barrier": dE, "landscape": land.as_dict()}
    arr, wide, ref = [], [], []
    for i, x in enumerate(p["xs"]):
        T = dE / x
        k = langevin.kramers_steps(depth, s, gamma, T, lr)
        budget = int(min(p["max_steps"], max(2000, p["budget_factor"] * k)))
        r = _escape_run(p, p["width"], x, budget, seeds, T, tag=1)
        arr.append({"x": x, "T": T, "budget": budget, "kramers_steps": k, "times": _times(r.escape[:, 0])})
        rw = _escape_run(p, p["wide_width"], x, min(budget, p["wide_max_steps"]), seeds, T, tag=2)
        wide.append({"x": x, "T": T, "budget": min(budget, p["wide_max_steps"]), "times": _times(rw.escape[:, 0])})
        e1 = langevin.simulate(depth, s, gamma, T, lr, p["reference_n"], budget, seed=100 + i)
        ref.append({"x": x, "T": T, "budget": budget, "kramers_steps": k, "times": _times(e1)})
    doc.update(arrhenius=arr, wide=wide, reference=ref)
    ctl = _escape_run(p, p["width"], 0, p["control_steps"], seeds, 0.0, tag=3)
    sgd = _escape_run(p, p["width"], 0, p["control_steps"], seeds, 0.0, batch=p["sgd_batch"], tag=4)
    doc["gd"] = {"budget": p["control_steps"], "times": _times(ctl.escape[:, 0]),
                 "final_amplitude": ctl.final_amplitude[:, 0].tolist()}
    doc["sgd"] = {"budget": p["control_steps"], "batch": p["sgd_batch"], "times": _times(sgd.escape[:, 0]),
                  "t_eff_init": sgd_temperature(p, seeds[:4]), "final_amplitude": sgd.final_amplitude[:, 0].tolist()}
    spec = list(p["mode_spectrum"])
    barriers = [modes.barrier(depth, si, gamma) for si in spec]
    T_modes = max(b for b in barriers if b is not None) / p["mode_x"]
    rm = netsim.simulate(_task(p, spec), depth, p["mode_width"], gamma, lr, [T_modes], seeds, p["mode_steps"],
                         init_scale=p["init_scale"], noise_seed=5)
    doc["modes"] = {"spectrum": spec, "barriers": barriers, "T": T_modes, "budget": p["mode_steps"],
                    "times": [_times(row) for row in rm.escape], "thresholds": rm.thresholds.tolist()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(cache)
    return doc


def as_array(times: list[float | str]) -> np.ndarray:
    return np.array([math.inf if t == "inf" else float(t) for t in times])
