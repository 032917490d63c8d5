"""Checkpoint predictors: the SGLD local learning coefficient (``llc.py``) and the ESD heavy-tail exponent
(``esd_alpha.py``), evaluated on the stored weights at each question step (the latest checkpoint at or before it).

Each run is rebuilt once (``api.Run.setup``: same data, split and dtype as in training) and every member of a
packed run is evaluated at once. Results are cached in ``<pool>/bench/checkpoint_scores.json`` keyed by the
settings, so rescoring a pool does not resample; the measured seconds per evaluation are kept with them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .protocol import Member, question_step

LLC_SETTINGS = {"eps": 1e-4, "gamma": 100.0, "chains": 2, "draws": 20, "burn_in": 5, "seed": 0}
ALPHA_SETTINGS = {"tail": 0.5, "min_eigs": 8}


def _weights(s: Any) -> list[Any]:
    return [s.params[sp.name] for sp in s.model.specs if sp.kind == "weight" and sp.name in s.params]


def evaluate_run(path: str, members: Sequence[Member], questions: Sequence[float]) -> tuple[dict, dict]:
    """{member key: {question: value}} for llc and esd_alpha of one run, and the seconds spent on each."""
    import torch

    from ..api import Run
    from .esd_alpha import esd_alpha
    from .llc import run_llc

    run = Run(path)
    available = sorted(run.checkpoint_steps())
    out: dict[str, dict[str, dict[str, float]]] = {"llc": {}, "esd_alpha": {}}
    cost = {"llc": [0.0, 0], "esd_alpha": [0.0, 0]}
    if not available:
        return out, cost
    s = run.setup("cpu")
    by_member = {m.member: m for m in members}
    for q in questions:
        steps = {m.member: max((c for c in available if c <= question_step(m, q)), default=None) for m in members}
        for step in sorted({v for v in steps.values() if v is not None}):
            with torch.no_grad():
                for k, v in run.load_checkpoint(step)["params"].items():
                    if k in s.params:
                        s.params[k].copy_(v)
            t0 = time.perf_counter()
            lam = run_llc(s, **LLC_SETTINGS).tolist()
            cost["llc"][0] += time.perf_counter() - t0
            cost["llc"][1] += 1
            t0 = time.perf_counter()
            with torch.no_grad():
                alpha = esd_alpha([w.detach() for w in _weights(s)], **ALPHA_SETTINGS).tolist()
            cost["esd_alpha"][0] += time.perf_counter() - t0
            cost["esd_alpha"][1] += 1
            for mi, st in steps.items():
                if st == step and mi in by_member:
                    key = by_member[mi].key
                    out["llc"].setdefault(key, {})[f"{q:g}"] = float(lam[mi])
                    out["esd_alpha"].setdefault(key, {})[f"{q:g}"] = float(alpha[mi])
    return out, cost


def checkpoint_scores(members: Sequence[Member], questions: Sequence[float], cache_dir: Path | None = None
                      ) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float | None]]:
    """Scores of both checkpoint predictors for every member (cached), and each one's seconds per evaluation."""
    from ..store.atomic import write_json

    key = json.dumps({"llc": LLC_SETTINGS, "alpha": ALPHA_SETTINGS, "questions": list(questions)}, sort_keys=True)
    cache_file = cache_dir / "checkpoint_scores.json" if cache_dir else None
    cache = json.loads(cache_file.read_text()) if cache_file and cache_file.is_file() else {}
    if cache.get("key") != key:
        cache = {"key": key, "runs": {}}
    runs: dict[str, list[Member]] = {}
    for m in members:
        runs.setdefault(m.path, []).append(m)
    scores: dict[str, dict[str, dict[str, float]]] = {"llc": {}, "esd_alpha": {}}
    total = {"llc": [0.0, 0], "esd_alpha": [0.0, 0]}
    for path, ms in runs.items():
        rid = ms[0].run_id
        if rid not in cache["runs"]:
            res, cost = evaluate_run(path, ms, questions)
            cache["runs"][rid] = {"scores": res, "cost": cost}
        entry = cache["runs"][rid]
        for name in scores:
            scores[name].update(entry["scores"][name])
            total[name][0] += entry["cost"][name][0]
            total[name][1] += entry["cost"][name][1]
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_json(cache_file, cache)
    per_eval = {k: (1e3 * v[0] / v[1] if v[1] else None) for k, v in total.items()}  # ms per run-checkpoint
    return scores, per_eval
