"""Predictor pools: the shipped pool specs, building a pool (resumable), and reading any directory of runs as one.

A pool spec (TOML, ``pools/<name>.toml`` in the package or a path) is a list of *families*, each a sweep spec
(``grokscope.sweep.spec``: base config, grid, arms, seeds) of grokking and non-grokking arms of one task × model,
plus a ``[common]`` mapping merged into every family's base (the probes every predictor needs, the eval grid) and
the ``questions`` (fractions of the budget) at which checkpoints are kept for the checkpoint predictors::

    name = "quick"
    questions = [0.1, 0.25, 0.5]
    [common]
    eval = { points = 120, probes = [...] }
    [[family]]
    name = "mlp-add"           # a sweep spec; its runs go to <pool>/<name>/
    base = { task = {...}, model = {...}, ... }
    grid = { "optim.wd" = [1.0, 0.0] }
    seeds = 4

``build_pool`` runs each family's sweep into ``<out>/<family>/`` (finished runs are reused: rerunning resumes) and
writes ``<out>/pool.json`` (the spec as run, which marks the directory as a pool). ``load_members`` reads every
run below a directory through the catalog (a built pool or a user's own runs) into protocol ``Member``s.
"""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .history import History
from .protocol import Member

POOL_FILE = "pool.json"
SHIPPED = ("quick", "paper", "tiny")


def shipped_path(name: str) -> Path:
    return Path(str(resources.files("grokscope.bench") / "pools" / f"{name}.toml"))


def load_spec(pool: str | Path) -> dict[str, Any]:
    """A shipped pool by name, or a pool spec file."""
    path = shipped_path(str(pool)) if str(pool) in SHIPPED else Path(pool)
    if not path.is_file():
        raise UserError(f"no pool spec {pool!r} (shipped pools: {', '.join(SHIPPED)}; or a .toml file, or a "
                        "directory of runs)")
    try:
        spec = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"bad pool spec {path}: {e}") from None
    fams = spec.get("family")
    if not isinstance(fams, list) or not fams:
        raise UserError(f"pool spec {path} has no [[family]] entries")
    names = [f.get("name") for f in fams]
    if any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
        raise UserError(f"pool spec {path}: every [[family]] needs a distinct name")
    q = spec.get("questions", [0.1, 0.25, 0.5])
    if not q or any(not (0 < float(x) < 1) for x in q):
        raise UserError(f"pool spec {path}: questions must be fractions of the budget in (0, 1)")
    return spec


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def family_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Each family as a runnable sweep spec: ``common`` under its base, checkpoints at the question steps."""
    out = []
    for fam in spec["family"]:
        s = {k: v for k, v in fam.items() if k != "about"}
        base = _merge(spec.get("common", {}), s.get("base", {}))
        steps = int(base.get("train", {}).get("steps", 0) or 0)
        if steps:
            at = sorted({int(round(float(q) * steps)) for q in spec.get("questions", [0.1, 0.25, 0.5])})
            base = _merge(base, {"checkpoint": {"at": at}})
        s["base"] = base
        s.setdefault("name", fam["name"])
        out.append(s)
    return out


def _n_runs(fam: dict[str, Any]) -> int:
    from ..sweep.spec import load_spec as load_sweep

    return len(load_sweep(fam).runs)


def build_pool(spec: dict[str, Any], out: Path, workers: int | None = None, progress: Any = None,
               device: str = "auto", executor: str = "local", address: str | None = None) -> dict[str, Any]:
    """Train (or resume) every family's sweep into ``out/<family>``; returns per-family counts.

    Families run side by side, ``workers`` at a time (each its own one-worker sweep; largest first), so a family
    with a single run does not leave a core idle while it trains. With ``executor="ray"`` the families go to the
    cluster one after the other, each sweep spreading its runs over it."""
    from concurrent.futures import ThreadPoolExecutor

    from ..store.atomic import write_json
    from ..sweep.executors import available_cores
    from ..sweep.runner import run_sweep

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / POOL_FILE, {"kind": "bench-pool", "name": spec.get("name", "pool"), "spec": spec,
                                 "complete": False})
    fams = sorted(family_specs(spec), key=lambda f: -_n_runs(f))
    n = 1 if executor == "ray" else max(1, min(workers or available_cores(), len(fams)))

    def one(fam: dict[str, Any]) -> tuple[str, Any]:
        res = run_sweep(fam, out=out / fam["name"], workers=workers if executor == "ray" else 1,
                        threads_per_worker=1, executor=executor, address=address,
                        progress=progress(fam["name"]) if progress else None, device=device)
        return fam["name"], res

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, fams))
    done: dict[str, Any] = {}
    for name, res in results:
        if res.failed:
            first = res.failed[0]
            raise UserError(f"pool family {name}: {len(res.failed)} runs failed (first: {first.run_id}: "
                            f"{first.error}); rerun to resume: finished runs are reused")
        done[name] = {"trained": res.runs_trained, "skipped": res.runs_skipped}
    write_json(out / POOL_FILE, {"kind": "bench-pool", "name": spec.get("name", "pool"), "spec": spec,
                                 "complete": True, "families": done})
    return done


def task_label(row: dict[str, Any]) -> str:
    name = str(row.get("task.name") or row.get("task") or "?")
    op = row.get("task.op")
    return f"{name}-{op}" if name == "modular" and op else name


def load_members(root: Path) -> list[Member]:
    """Every finished member below ``root`` as a protocol ``Member`` (metrics pivoted to one array per metric)."""
    from ..store.catalog import Catalog

    if not root.is_dir():
        raise UserError(f"directory not found: {root}")
    with Catalog(root) as cat:
        rows = cat.query("select * from members order by path, member").dicts()
        rows = [r for r in rows if r.get("status") == "complete"]
        if not rows:
            raise UserError(f"no finished runs under {root}")
        df = cat.metrics({r["run_id"] for r in rows})
    groups = {k: d for k, d in df.groupby(["run_id", "member"])}
    members = []
    for r in rows:
        d = groups.get((r["run_id"], r["member"]))
        if d is None:
            continue
        wide = d.pivot_table(index="step", columns="metric", values="value", aggfunc="last").sort_index()
        steps = wide.index.to_numpy(np.int64)
        metrics = {str(c): wide[c].to_numpy(float) for c in wide.columns}
        info = {"lr": r.get("optim.lr"), "wd": r.get("optim.wd"), "op": r.get("task.op"),
                "task": task_label(r), "model": r.get("model.name") or r.get("model")}
        ckdir = Path(str(r["path"])) / "ckpt"
        ckpts = {int(p.stem.split("_")[1]): str(p) for p in ckdir.glob("step_*.pt")} if ckdir.is_dir() else {}
        budget = int(r.get("train.steps") or r.get("budget") or (steps[-1] if steps.size else 0))
        family = Path(str(r.get("sweep") or r["path"])).name
        members.append(Member(str(r["run_id"]), int(r["member"]), int(r["seed"]), info["task"], str(info["model"]),
                              family, None if r.get("t_grok") is None else int(r["t_grok"]), budget,
                              History(steps, metrics, info, ckpts), str(r["path"]),
                              {"lockin_step": r.get("lockin_step")}))
    return members


def read_pool_file(root: Path) -> dict[str, Any] | None:
    p = root / POOL_FILE
    return json.loads(p.read_text()) if p.is_file() else None
