"""Sweep specs and their expansion into cells and packed runs.

A sweep spec (TOML or YAML) is a base config plus axes::

    name = "wd"
    preset = "quick"                 # base: a preset, merged with the inline [base] mapping like `preset =` in a config
    seeds = 2                        # n (seeds 0..n-1) or a list; default: the base config's members.seeds
    member_cap = 8                   # most members packed into one run
    pack = true                      # false: every cell is its own single-member run

    [base]                           # inline config, merged onto the preset
    train = { steps = 3000 }

    [grid]                           # cartesian product; keys are dotted config keys
    "optim.wd" = [0.5, 1.0, 2.0]
    "task.p" = [41, 43]

    [zip]                            # equal-length lists, zipped (one more axis of the product)
    "optim.lr" = [1e-3, 3e-3]
    "loss.tau" = [1.0, 0.5]

    [arms.control]                   # named intervention arms, each a mapping of overrides
    [arms.clamp]
    "intervene.clamp.rho" = 1.15

A *cell* is one point of ``grid × zip rows × arms × seeds`` (seed innermost): one network with one seed. Cells whose
configs differ only in packable values (``grokscope.config.PACKABLE``: lr, wd, τ, init scale, clamp ρ/target, label
noise) are packed onto the member axis of one run (``members.seeds`` × zipped ``members.vary`` rows), at most
``member_cap`` members per run; everything else (p, width, model, task, steps, ...) separates runs. Grokscope seeds a
member's init and split from its task/model config and its seed only, so a cell trains the same whichever way it is
packed (checked for every cell when the plan is built: the member's config inside its run equals the cell's own).

Langevin noise packs too: every member draws from its own noise stream. One exception: cells using a clamp ``target``
are not packed with cells using ``rho`` (one clamp mode per run).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..config import (
    ClampConfig,
    RunConfig,
    _did_you_mean,
    format_validation_error,
    known_keys,
    read_file,
    set_path,
    stable_hash,
)
from ..errors import UserError
from .packing import Cell, PlannedRun, _pack, _solo

DEFAULT_MEMBER_CAP = 8
CLAMP_MODES = ("intervene.clamp.rho", "intervene.clamp.target", "intervene.clamp.relative",
               "intervene.clamp.per_group")
SPEC_KEYS = ("name", "description", "preset", "base", "grid", "zip", "arms", "seeds", "member_cap", "pack")
DICT_VALUED = ("intervene.clamp.per_group",)  # config keys whose value is itself a mapping (not flattened)


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field("sweep", description="label of the sweep; run directories are <name>-<run hash>")
    description: str = Field("", description="free text")
    preset: str | None = Field(None, description="preset the base config starts from")
    base: dict[str, Any] = Field(default_factory=dict, description="inline base config, merged onto the preset")
    grid: dict[str, Any] = Field(default_factory=dict, description="axis -> list of values (cartesian product)")
    zip_: dict[str, Any] = Field(default_factory=dict, alias="zip", description="axis -> list; lists zipped")
    arms: dict[str, Any] = Field(default_factory=dict, description="arm name -> mapping of config overrides")
    seeds: int | list[int] | None = Field(None, description="n or a list; default: base members.seeds")
    member_cap: int = Field(DEFAULT_MEMBER_CAP, ge=1, description="most members packed into one run")
    pack: bool = Field(True, description="pack shape-compatible cells onto the member axis")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError("must be letters, digits, '.', '_' or '-' (it names run directories)")
        return v


@dataclass
class Plan:
    spec: SweepSpec
    source: dict[str, Any]  # the spec as written
    axes: dict[str, list[Any]]  # axis -> its values, in expansion order ("arm", "seed" included when present)
    zipped: list[str]
    base: dict[str, Any]  # resolved base config (json mode)
    cells: list[Cell]
    runs: list[PlannedRun]
    invalid: list[dict[str, Any]] = field(default_factory=list)  # --skip-invalid: {"values", "error"} per cell left out

    @property
    def digest(self) -> str:
        """Identifies the expansion (cells -> run/member): a rerun with the same digest is the same sweep."""
        return stable_hash([[c.values, self.runs[c.run].run_id, c.member] for c in self.cells])[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "description": self.spec.description,
            "digest": self.digest,
            "pack": self.spec.pack,
            "member_cap": self.spec.member_cap,
            "spec": self.source,
            "base": self.base,
            "axes": self.axes,
            "zipped": self.zipped,
            "cells": [{"cell": c.index, "values": c.values, "run_id": self.runs[c.run].run_id, "member": c.member}
                      for c in self.cells],
            "runs": [{"run_id": r.run_id, "members": r.members, "cells": r.cells} for r in self.runs],
            **({"invalid": self.invalid} if self.invalid else {}),
        }


# -- loading -----------------------------------------------------------------------------------------------------
def load_spec(source: str | Path | dict, overrides: list[str] | None = None, pack: bool | None = None,
              member_cap: int | None = None, skip_invalid: bool = False) -> Plan:
    """Read (TOML/YAML path or dict), validate and expand a sweep spec; every mistake is a one-line UserError.

    ``skip_invalid``: a cell whose config is invalid (e.g. one value of an axis out of range) is left out and listed
    in ``Plan.invalid`` instead of refusing the whole sweep; the spec itself must still be valid, and at least one
    cell."""
    if isinstance(source, dict):
        data, where = copy.deepcopy(source), "sweep spec"
    else:
        path = Path(source)
        data, where = read_file(path), f"sweep spec {path.name}"
        data.setdefault("name", re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "sweep")
    try:
        return _load(data, where, overrides or [], pack, member_cap, skip_invalid)
    except UserError as e:
        msg = str(e)
        raise UserError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def _load(data: dict, where: str, overrides: list[str], pack: bool | None, member_cap: int | None,
          skip_invalid: bool = False) -> Plan:
    unknown = [k for k in data if k not in SPEC_KEYS]
    if unknown:
        raise UserError(f"unknown key {unknown[0]!r}{_did_you_mean(unknown[0], SPEC_KEYS)} "
                        f"(a spec has {', '.join(SPEC_KEYS)})")
    source = copy.deepcopy(data)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise UserError(format_validation_error(e)) from None
    if pack is not None:
        spec.pack = pack
    if member_cap is not None:
        if member_cap < 1:
            raise UserError(f"member cap must be >= 1, got {member_cap}")
        spec.member_cap = member_cap
    base = _resolve_base(spec, overrides)
    grid = _axes("grid", spec.grid)
    zipped = _axes("zip", spec.zip_)
    arms = _arms(spec.arms)
    seeds = _seeds(spec, base, grid)
    _check_axis_keys(grid, zipped, arms, base)
    if zipped:
        lengths = {k: len(v) for k, v in zipped.items()}
        if len(set(lengths.values())) > 1:
            raise UserError(f"zip lists must have equal lengths, got {lengths}")

    # cells: product(grid) × zip rows × arms × seeds, seeds innermost
    grid_rows = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())] if grid else [{}]
    n_zip = len(next(iter(zipped.values()))) if zipped else 0
    zip_rows = [{k: v[i] for k, v in zipped.items()} for i in range(n_zip)] if zipped else [{}]
    arm_rows = list(arms.items()) if arms else [(None, {})]
    cells: list[Cell] = []
    invalid: list[dict[str, Any]] = []
    for g in grid_rows:
        for z in zip_rows:
            for arm, overrides_ in arm_rows:
                for s in seeds:
                    values = {**g, **z, **({"arm": arm} if arm is not None else {}), "seed": s}
                    settings = {**g, **z, **overrides_}
                    try:
                        config = _cell_config(base, settings, s, values, spec.name)
                    except UserError as e:
                        if not skip_invalid:
                            raise
                        invalid.append({"values": values, "error": str(e)})
                        continue
                    cells.append(Cell(len(cells), values, config))
    if not cells:
        raise UserError(f"every one of the {len(invalid)} cells is invalid; the first: {invalid[0]['error']}")
    axes: dict[str, list[Any]] = {**grid, **zipped}
    if arms:
        axes["arm"] = list(arms)
    axes["seed"] = seeds
    runs = _pack(cells, spec) if spec.pack else _solo(cells, spec)
    return Plan(spec, source, axes, list(zipped), base, cells, runs, invalid)


def _resolve_base(spec: SweepSpec, overrides: list[str]) -> dict[str, Any]:
    from ..config import load_config

    base: dict[str, Any] = {}
    for key, value in copy.deepcopy(spec.base).items():  # dotted keys allowed in the inline base
        set_path(base, key, value)
    if spec.preset is not None:
        base["preset"] = spec.preset
    base["name"] = spec.name
    if (base.get("members") or {}).get("vary"):
        raise UserError("base members.vary conflicts with packing: put per-member values on sweep axes "
                        "(grid, zip or arms); the sweep builds the member axis itself")
    try:
        cfg = load_config(base, overrides)
    except UserError as e:
        raise UserError(f"base config: {str(e).removeprefix('invalid config: ')}") from None
    if cfg.members.vary:
        raise UserError("members.vary conflicts with packing: put per-member values on sweep axes")
    return cfg.model_dump(mode="json")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and prefix not in DICT_VALUED and not prefix.endswith(".per_group"):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def _axes(kind: str, raw: dict[str, Any]) -> dict[str, list[Any]]:
    flat: dict[str, Any] = {}
    for k, v in raw.items():
        _flatten(str(k), v, flat)
    for key, values in flat.items():
        if not isinstance(values, list):
            raise UserError(f"{kind} axis {key!r} must be a list of values, got {type(values).__name__} {values!r}")
        if not values:
            raise UserError(f"{kind} axis {key!r} is empty")
        seen: list[Any] = []
        for v in values:
            if v in seen and type(v) is type(seen[seen.index(v)]):
                raise UserError(f"{kind} axis {key!r} lists the value {v!r} twice")
            seen.append(v)
    return flat


def _arms(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    arms: dict[str, dict[str, Any]] = {}
    for name, overrides in raw.items():
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise UserError(f"arm {name!r} must be a mapping of config overrides, got {overrides!r}")
        flat: dict[str, Any] = {}
        for k, v in overrides.items():
            _flatten(str(k), v, flat)
        arms[str(name)] = flat
    return arms


def _seeds(spec: SweepSpec, base: dict, grid: dict[str, list[Any]]) -> list[int]:
    if "seed" in grid:
        if spec.seeds is not None:
            raise UserError("give seeds once: either `seeds = ...` or a grid axis 'seed', not both")
        seeds: Any = grid.pop("seed")
    elif spec.seeds is not None:
        seeds = spec.seeds
    else:
        seeds = base["members"]["seeds"]
    if isinstance(seeds, bool):
        raise UserError(f"seeds must be a count or a list of integers, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise UserError(f"seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    if not seeds:
        raise UserError("seeds is empty")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise UserError(f"seeds must be non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"seeds must be distinct, got {seeds!r}")
    return list(seeds)


def _check_axis_keys(grid: dict, zipped: dict, arms: dict[str, dict], base: dict) -> None:
    where: dict[str, str] = {}
    for kind, keys in (("grid", grid), ("zip", zipped)):
        for key in keys:
            if key in where:
                raise UserError(f"axis {key!r} appears in both {where[key]} and {kind}")
            where[key] = kind
    arm_keys = {k: f"arm {name!r} key" for name, ov in arms.items() for k in ov}
    for key, label in arm_keys.items():
        if key in where:
            raise UserError(f"{label} {key!r} is also a {where[key]} axis")
    all_keys = {**{k: f"{kind} axis" for k, kind in where.items()}, **arm_keys}
    # keys valid for every task/model family an axis switches to
    families = [base]
    for section in ("task", "model"):
        names = list(grid.get(f"{section}.name", [])) + list(zipped.get(f"{section}.name", []))
        names += [ov[f"{section}.name"] for ov in arms.values() if f"{section}.name" in ov]
        for name in names:
            alt = copy.deepcopy(base)
            alt[section] = {"name": name}
            families.append(alt)
    valid: set[str] = set()
    for data in families:
        try:
            valid.update(known_keys(data))
        except ValidationError:
            pass
    for key, label in all_keys.items():
        if key == "seed":
            raise UserError(f"{label} {key!r}: seeds go in the top-level `seeds = ...` (or a grid axis 'seed')")
        if key == "arm":
            raise UserError(f"{label} {key!r}: name arms with [arms.<name>] tables")
        if key == "name":
            raise UserError(f"{label} {key!r}: the run name is the sweep name; set `name = ...` at the top")
        if key == "members" or key.startswith("members."):
            raise UserError(f"{label} {key!r} conflicts with packing: the sweep builds the member axis itself; "
                            "use `seeds = ...` and put per-member values on grid/zip/arms axes")
        if key not in valid:
            raise UserError(f"{label} {key!r} is not a config key{_did_you_mean(key, sorted(valid))}")


def _cell_config(base: dict, settings: dict[str, Any], seed: int, values: dict[str, Any], name: str) -> RunConfig:
    data = copy.deepcopy(base)
    for section in ("task", "model"):  # switching family first, so the other keys land on the new family
        if f"{section}.name" in settings and settings[f"{section}.name"] != data[section].get("name"):
            data[section] = {"name": settings[f"{section}.name"]}
    for key, value in settings.items():
        if key in ("task.name", "model.name"):
            continue
        if key.startswith("intervene.clamp."):  # the one clamp rule (ClampConfig.set_field), as in members.vary
            clamp = data["intervene"].get("clamp")
            data["intervene"]["clamp"] = ClampConfig.set_field(clamp, key.removeprefix("intervene.clamp."), value)
            continue
        set_path(data, key, value)
    data["members"] = {"seeds": [seed], "vary": {}}
    data["name"] = name
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        loc, msg = _explain(e, data)
        axes = [k for k in settings if k == loc or k.startswith(loc + ".")] if loc else []
        if len(axes) == 1 and axes[0] in values:
            raise UserError(f"axis {axes[0]!r} value {settings[axes[0]]!r}: {msg}") from None
        shown = {k: v for k, v in values.items() if k != "seed"}
        raise UserError(f"cell {json.dumps(shown, default=str)}: invalid config: {msg}") from None


def _explain(e: ValidationError, data: dict) -> tuple[str, str]:
    """(dotted location without pydantic's union tags, one-line message)."""
    err = e.errors()[0]
    parts = [str(p) for p in err["loc"] if not str(p).startswith(("function-after", "tagged-union"))]
    if len(parts) >= 2 and parts[0] in ("task", "model") and parts[1] == str(data.get(parts[0], {}).get("name")):
        parts.pop(1)  # the discriminator tag
    loc = ".".join(parts)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return loc, f"unknown config key {loc!r}"
    got = err.get("input")
    got_s = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return loc, (f"{loc}: {msg}{got_s}" if loc else msg)


# -- packing -------------------------------------------------------------------------------------------------------
