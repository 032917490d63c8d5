"""The benchmark end to end: build or reuse a pool, score every predictor, the combined model, the claim rows;
write ``<pool>/bench/leaderboard.json`` (and ``claims.*``), the document ``grokscope report POOL`` draws from."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .evaluate import Settings, combined, score_predictor
from .predictors import PREDICTORS, Predictor
from .protocol import Member, eligible, question_step

BENCH_DIR = "bench"
LEADERBOARD = "leaderboard.json"


def pool_summary(members: Sequence[Member], settings: Settings) -> dict[str, Any]:
    grok = [m for m in members if m.grokked]
    asked = {f"{q:g}": sum(eligible(m, question_step(m, q)) for m in members) for q in settings.questions}
    return {"members": len(members), "grokked": len(grok), "not_grokked": len(members) - len(grok),
            "tasks": dict(Counter(m.task for m in members)), "models": dict(Counter(m.model for m in members)),
            "families": {f: {"members": sum(m.family == f for m in members),
                             "grokked": sum(m.family == f and m.grokked for m in members)}
                         for f in sorted({m.family for m in members})},
            "asked_at_question": asked,
            "already_grokked_at_question": {q: len(members) - n for q, n in asked.items()},
            "t_grok_over_budget": sorted(round(m.t_grok / m.budget, 3) for m in grok if m.budget)}


def score_all(members: Sequence[Member], settings: Settings, ckpt: dict[str, Any] | None = None,
              ckpt_cost: dict[str, float | None] | None = None, names: Sequence[str] | None = None,
              log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Every registered predictor (or ``names``), then the combined label-free model; rows ranked by AUROC."""
    ckpt = ckpt or {}
    preds: list[Predictor] = [PREDICTORS.get(n) for n in (names or PREDICTORS.names())]
    rows = []
    for p in preds:
        t0 = time.perf_counter()
        row = score_predictor(p, members, settings, ckpt.get(p.name))
        if p.checkpoint and ckpt_cost:
            row["cost_ms_per_eval"] = ckpt_cost.get(p.name)
            row["cost_note"] = "per checkpoint of a packed run (all its members at once)"
        row["seconds"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
        if log:
            log(f"{p.name}: {row['status']}, AUROC {row.get('auroc')}")
    scored = {r["predictor"] for r in rows if r["status"] == "scored"}
    free = [p for p in preds if p.label_free and p.name in scored]
    comb = combined(members, free, settings, ckpt) if free else None
    singles = [r for r in rows if r["status"] == "scored" and r["label_free"] and r.get("auroc") is not None]
    best = max(singles, key=lambda r: r["auroc"]) if singles else None
    if comb:
        comb.pop("_held", None)
        rows.append(comb)
    rows.sort(key=lambda r: -(r["auroc"] if isinstance(r.get("auroc"), float) else -math.inf))
    for i, r in enumerate(rows):
        r["rank"] = i + 1 if r.get("auroc") is not None else None
    return {"rows": rows, "best_label_free": best["predictor"] if best else None,
            "combined_vs_best": None if not (comb and best) else
            {"combined": comb["auroc"], "combined_ci95": comb["auroc_ci95"], "best_single": best["predictor"],
             "best_single_auroc": best["auroc"], "best_single_ci95": best["auroc_ci95"]}}


def run_bench(pool: str | Path, out: Path | None = None, workers: int | None = None, settings: Settings | None = None,
              progress: Any = None, log: Callable[[str], Any] | None = None, device: str = "auto",
              checkpoints: bool = True, executor: str = "local", address: str | None = None) -> dict[str, Any]:
    """``pool``: a shipped pool name or spec file (built into ``out``, reused when already there) or a directory
    of runs (scored as it is). Returns the leaderboard document, also written to ``<dir>/bench/leaderboard.json``."""
    from ..store.atomic import write_json
    from .checkpoint_scores import checkpoint_scores
    from .claims import claim_rows
    from .pool import build_pool, load_members, load_spec, read_pool_file

    t_build = time.perf_counter()
    p = Path(str(pool))
    if p.is_dir():
        root, spec = p, (read_pool_file(p) or {}).get("spec")
        if out is not None and Path(out) != p:
            raise_out = f"--out {out} differs from the pool directory {p}; the leaderboard is written inside the pool"
            from ..errors import UserError
            raise UserError(raise_out)
        built = None
    else:
        spec = load_spec(pool)
        root = Path(out) if out is not None else Path("runs") / f"pool-{spec.get('name', p.stem)}"
        built = build_pool(spec, root, workers, progress, device, executor, address)
    build_s = time.perf_counter() - t_build
    t0 = time.perf_counter()
    if settings is None:
        qs = tuple(float(q) for q in (spec or {}).get("questions", Settings.questions))
        settings = Settings(questions=qs, headline=qs[min(1, len(qs) - 1)])
    members = load_members(root)
    bench_dir = root / BENCH_DIR
    # the checkpoint predictors (SGLD chains on stored weights) are evaluated at the headline question only: they
    # dominate the scoring cost; their other questions read "n/a"
    ckpt, ckpt_cost = (checkpoint_scores(members, (settings.headline,), bench_dir) if checkpoints else ({}, {}))
    board = score_all(members, settings, ckpt, ckpt_cost, log=log)
    doc: dict[str, Any] = {"kind": "bench-leaderboard", "pool": str(root), "pool_name": (spec or {}).get("name"),
                           "settings": settings.as_dict(), "summary": pool_summary(members, settings), **board,
                           "members": [{"key": m.key, "task": m.task, "model": m.model, "family": m.family,
                                        "seed": m.seed, "t_grok": m.t_grok, "budget": m.budget} for m in members]}
    doc["claims"] = [r.to_json() for r in claim_rows(doc, members, settings)]
    doc["timing"] = {"build_seconds": round(build_s, 1) if built is not None else None,
                     "score_seconds": round(time.perf_counter() - t0, 1)}
    write_json(bench_dir / LEADERBOARD, doc)
    return doc
