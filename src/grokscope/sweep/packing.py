"""Packing a sweep's cells onto the member axis of runs: cells whose configs differ only in packable values share a
run (at most ``member_cap`` members); every member's config inside its run is checked to equal the cell's own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import RunConfig, member_config, set_path

if TYPE_CHECKING:
    from .spec import SweepSpec

# packed on the member axis by the sweep
PACKED_KEYS = ("optim.lr", "optim.wd", "loss.tau", "intervene.init_scale", "intervene.label_noise",
               "intervene.langevin_T")


@dataclass
class Cell:
    index: int
    values: dict[str, Any]  # axis -> value (with "arm" and "seed")
    config: RunConfig  # the cell alone: one member, its own seed
    run: int = -1  # index into Plan.runs
    member: int = -1


@dataclass
class PlannedRun:
    index: int
    config: RunConfig
    run_id: str  # run directory name: <name>-<hash>
    cells: list[int] = field(default_factory=list)

    @property
    def members(self) -> int:
        return len(self.config.member_table())

    @property
    def cost(self) -> float:
        """Rough relative work (for scheduling the largest runs first)."""
        p = getattr(self.config.task, "p", 1) or 1
        return float(self.members * self.config.train.steps * p * p)


def _get(d: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)  # type: ignore[assignment]
    return d


def _pop(d: dict, dotted: str) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        d = d.get(part) or {}
    if isinstance(d, dict):
        d.pop(parts[-1], None)

def _clamp_mode(cfg: dict) -> str | None:
    c = cfg["intervene"].get("clamp")
    if c is None:
        return None
    if c.get("per_group") is not None:
        return "per_group"
    if c.get("relative") is not None:
        return "relative"
    return "rho" if c.get("rho") is not None else "target"


def _signatures(cell: Cell) -> tuple[str, str | None]:
    """(what must be equal to share a run, the clamp settings other than its packed value or None for no clamp)."""
    d = cell.config.model_dump(mode="json")
    d.pop("members")
    for key in PACKED_KEYS:
        _pop(d, key)
    clamp = d["intervene"].pop("clamp")
    clamp_sig = None
    if clamp is not None:
        mode = _clamp_mode(cell.config.model_dump(mode="json"))
        clamp = dict(clamp)
        if mode in ("rho", "target", "relative"):
            clamp.pop(mode)
        clamp_sig = json.dumps({"mode": mode, **clamp}, sort_keys=True)
    return json.dumps(d, sort_keys=True), clamp_sig


def _member_values(cell: Cell, mode: str | None) -> dict[str, Any]:
    d = cell.config.model_dump(mode="json")
    vals = {k: _get(d, k) for k in PACKED_KEYS}
    if mode in ("rho", "target", "relative"):
        c = d["intervene"]["clamp"]
        vals[f"intervene.clamp.{mode}"] = None if c is None else c[mode]
    return vals


def _same(a: RunConfig, b: RunConfig) -> bool:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    da.pop("members"), db.pop("members")
    return da == db


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    """Split into the fewest chunks of at most ``size``, balanced (sizes differ by at most one)."""
    n = -(-len(items) // size)
    q, r = divmod(len(items), n)
    out, i = [], 0
    for k in range(n):
        m = q + (1 if k < r else 0)
        out.append(items[i:i + m])
        i += m
    return out


def _pack(cells: list[Cell], spec: SweepSpec) -> list[PlannedRun]:
    # 1. groups of cells that may share a run
    groups: dict[str, dict[str | None, list[Cell]]] = {}
    for c in cells:
        sig, clamp_sig = _signatures(c)
        groups.setdefault(sig, {}).setdefault(clamp_sig, []).append(c)
    subgroups: list[list[Cell]] = []
    for by_clamp in groups.values():
        free = by_clamp.pop(None, [])
        if not by_clamp:
            subgroups.append(free)
            continue
        # cells without a clamp join the first rho/target/relative clamp setting (their packed value is None)
        joinable = [k for k in by_clamp if json.loads(k)["mode"] in ("rho", "target", "relative")]
        if joinable and free:
            by_clamp[joinable[0]] = sorted(by_clamp[joinable[0]] + free, key=lambda c: c.index)
        elif free:
            subgroups.append(free)
        subgroups.extend(by_clamp.values())
    # 2. rows (distinct packed values) × seeds, split at the member cap
    runs: list[PlannedRun] = []
    by_id: dict[str, PlannedRun] = {}
    solo: list[Cell] = []
    for group in subgroups:
        rep = next((c for c in group if c.config.intervene.clamp is not None), group[0])
        mode = _clamp_mode(rep.config.model_dump(mode="json"))
        rows: dict[str, tuple[dict[str, Any], dict[int, list[Cell]]]] = {}
        for c in group:
            vals = _member_values(c, mode)
            key = json.dumps(vals, sort_keys=True, default=str)
            rows.setdefault(key, (vals, {}))[1].setdefault(c.values["seed"], []).append(c)
        by_seeds: dict[tuple[int, ...], list[tuple[dict[str, Any], dict[int, list[Cell]]]]] = {}
        for vals, seed_cells in rows.values():
            by_seeds.setdefault(tuple(seed_cells), []).append((vals, seed_cells))
        for seeds, row_list in by_seeds.items():
            cap = spec.member_cap
            if len(seeds) <= cap:
                parts = [(chunk, list(seeds)) for chunk in _chunks(row_list, cap // len(seeds))]
            else:
                parts = [([row], list(ss)) for row in row_list for ss in _chunks(list(seeds), cap)]
            for chunk, ss in parts:
                cfg = _run_config(rep, mode, [v for v, _ in chunk], ss, spec.name)
                run_id = f"{cfg.name}-{cfg.run_id()}"
                run = by_id.get(run_id)
                if run is None:
                    run = by_id[run_id] = PlannedRun(len(runs), cfg, run_id)
                    runs.append(run)
                member_of = {}
                for m, row in enumerate(cfg.member_table()):
                    s = row.pop("seed")
                    member_of[(json.dumps(row, sort_keys=True, default=str), s)] = m
                for vals, seed_cells in chunk:
                    vary = {k: vals[k] for k in cfg.members.vary}
                    key = json.dumps(vary, sort_keys=True, default=str)
                    for s in ss:
                        for c in seed_cells[s]:
                            if not _same(member_config(cfg, {**vary, "seed": s}), c.config):
                                solo.append(c)  # never let packing change what a cell trains (should not happen)
                                continue
                            c.run, c.member = run.index, member_of[(key, s)]
                            run.cells.append(c.index)
    for c in solo:
        _assign_solo(c, runs, by_id, spec.name)
    for r in runs:
        r.cells.sort()
    return runs


def _run_config(rep: Cell, mode: str | None, rows: list[dict[str, Any]], seeds: list[int], name: str) -> RunConfig:
    """The representative cell's config with the chunk's packed values: constant ones set, varying ones per member."""
    data = rep.config.model_dump(mode="json")
    vary = {k: [r[k] for r in rows] for k in rows[0] if len({json.dumps(r[k]) for r in rows}) > 1}
    for k, v in rows[0].items():
        if k in vary:
            continue
        if k.startswith("intervene.clamp."):
            if v is None:
                data["intervene"]["clamp"] = None
            else:
                data["intervene"]["clamp"][mode] = v
        else:
            set_path(data, k, v)
    data["members"] = {"seeds": list(seeds), "vary": vary}
    data["name"] = name
    return RunConfig.model_validate(data)


def _solo(cells: list[Cell], spec: SweepSpec) -> list[PlannedRun]:
    runs: list[PlannedRun] = []
    by_id: dict[str, PlannedRun] = {}
    for c in cells:
        _assign_solo(c, runs, by_id, spec.name)
    return runs


def _assign_solo(c: Cell, runs: list[PlannedRun], by_id: dict[str, PlannedRun], name: str) -> None:
    cfg = c.config
    run_id = f"{cfg.name}-{cfg.run_id()}"
    run = by_id.get(run_id)
    if run is None:
        run = PlannedRun(len(runs), cfg, run_id)
        runs.append(run)
        by_id[run_id] = run
    c.run, c.member = run.index, 0
    run.cells.append(c.index)
