"""``grokscope import published DIR --out OUT``: published per-seed cells -> grokscope run directories.

Every ``.npz`` under ``DIR`` (any depth) that is a cell (``published.read_cell``) becomes one run directory
``OUT/<relative path with / as __>/`` that the catalog, the fits and the reports read like any grokscope run:

* ``config.json``: the parameters grokscope has a config key for under that key (``p`` -> ``task.p``, ``alpha`` ->
  ``task.frac``, ``lr`` -> ``optim.lr``, ``lam`` -> ``optim.wd``, ``loss`` -> ``loss.name``, ``tau`` -> ``loss.tau``,
  ``arch`` -> ``model.name``, ``max_steps`` -> ``train.steps``), every other parameter under ``published.<name>``
  (also ones grokscope has no key for: ``rho``, ``arm``, ``wc_used``, ``gamma``, ``t_int``, ...), and
  ``imported.format`` / ``imported.source`` (the file, relative to DIR);
* ``meta.json``: status ``complete``, ``imported`` = {format, source dir, file, sha256, raw parameters, curve
  layout, sidecars, companions};
* ``members.json``: one member per seed, in the file's seed order; ``events.json``: per-seed ``t_mem``,
  ``t_grok`` (censoring conventions of ``published``), ``delay``, ``budget``, the values at grokking
  (``wn_at_grok`` -> ``at_grok`` ``norm/total``; a censored seed has none) and the other per-seed arrays as
  ``published/<name>`` keys;
* ``metrics.parquet``: the curves, long format. A seed-mean curve (T,) is stored under **member -1** (a mean over
  the members, not one of them); per-seed curves (S, T) under each member. ``train_acc`` / ``test_acc`` /
  ``train_loss`` / ``test_loss`` / ``weight_norm`` get grokscope's names (``train/acc`` ... ``norm/total``), the rest
  ``published/<name>`` (``published/logit_scale``).

Sidecars: ``<stem>.json`` beside ``<stem>.npz`` adds its scalar keys to that cell's parameters (the ``.npz`` wins
on a conflict); any other ``.json`` in a folder (a grid spec, measured ``w_c``) adds its scalars to every cell of that
folder as ``<json stem>.<key>``. ``<stem>_weights.npz`` beside ``<stem>.npz`` is a companion (the same per-seed
times, weights stripped): it is checked against the cell and recorded, not imported twice.

Failure handling: an unreadable or foreign file is skipped with one warning line naming it. Each run directory is
written into a dot-prefixed temp folder and renamed into place, so a cell is imported whole or not at all; a cell
already imported from identical bytes is left as it is, a changed one is replaced whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .published import CENSOR_CONVENTIONS, CURVE_METRICS, NotACell, PublishedCell, read_cell

FORMAT = "clevixlab-npz"
CONFIG_KEYS = {"p": ("task", "p"), "alpha": ("task", "frac"), "lr": ("optim", "lr"), "lam": ("optim", "wd"),
               "loss": ("loss", "name"), "tau": ("loss", "tau"), "arch": ("model", "name"),
               "max_steps": ("train", "steps")}
AT_GROK = {"wn_at_grok": "norm/total"}
COMPANION_SUFFIX = "_weights"


@dataclass
class ImportResult:
    out: Path
    imported: list[str] = field(default_factory=list)  # run directory names written
    unchanged: list[str] = field(default_factory=list)  # already imported from identical bytes
    warnings: list[str] = field(default_factory=list)  # one line per skipped file


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scalars(d: dict, prefix: str = "") -> dict[str, Any]:
    """Flat scalar entries of a JSON document (nested dicts dotted; lists kept whole as JSON text)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_scalars(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out[f"{prefix}{k}"] = json.dumps(v)
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[f"{prefix}{k}"] = v
    return out


def _read_json(path: Path, warnings: list[str]) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        warnings.append(f"warning: skipped {path}: unreadable JSON sidecar ({str(e).splitlines()[0]})")
        return None
    if not isinstance(doc, dict):
        warnings.append(f"warning: skipped {path}: a JSON sidecar must be an object")
        return None
    return doc


def run_name(rel: str) -> str:
    """Run directory name of a cell file: its path relative to the import root, ``/`` as ``__``, no suffix."""
    return rel[: -len(".npz")].replace("/", "__") if rel.endswith(".npz") else rel.replace("/", "__")


def config_of(params: dict[str, Any], rel: str) -> dict[str, Any]:
    cfg: dict[str, Any] = {"name": f"published:{rel}"}
    rest: dict[str, Any] = {}
    for k, v in params.items():
        if k in CONFIG_KEYS:
            sec, key = CONFIG_KEYS[k]
            cfg.setdefault(sec, {})[key] = v
        else:
            rest[k] = v
    if "task" in cfg:
        cfg["task"].setdefault("name", "modular")
    cfg["published"] = rest
    cfg["imported"] = {"format": FORMAT, "source": rel}
    return cfg


def events_of(cell: PublishedCell) -> list[dict[str, Any]]:
    rows = []
    for i, (tm, tg) in enumerate(zip(cell.t_mem, cell.t_grok, strict=True)):
        e: dict[str, Any] = {"member": i, "seed": i, "t_mem": tm, "t_grok": tg,
                             "delay": tg - tm if tg is not None and tm is not None else None,
                             "censored": tg is None, "budget": cell.budget}
        snap = {AT_GROK[k]: float(v[i]) for k, v in cell.per_seed.items() if k in AT_GROK and tg is not None}
        if snap:
            e["at_grok"] = snap
        for k, v in cell.per_seed.items():
            if k not in AT_GROK:
                e[f"published/{k}"] = float(v[i])
        rows.append(e)
    return rows


def metric_rows(cell: PublishedCell) -> dict[str, list]:
    rows: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
    if cell.steps is None:
        return rows
    steps = [int(s) for s in cell.steps]
    for name, curve in cell.curves.items():
        metric = CURVE_METRICS.get(name, f"published/{name}")
        per_member = curve if curve.ndim == 2 else curve[None, :]
        members = range(len(per_member)) if curve.ndim == 2 else [-1]
        for m, row in zip(members, per_member, strict=True):
            rows["step"].extend(steps)
            rows["member"].extend([m] * len(steps))
            rows["metric"].extend([metric] * len(steps))
            rows["value"].extend(float(v) for v in row)
    return rows


def _write_run(tmp: Path, cell: PublishedCell, rel: str, source_dir: Path, sha: str, extra: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..store.run_dir import METRICS_SCHEMA

    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(config_of(cell.params, rel), indent=2) + "\n")
    meta = {"status": "complete", "steps_done": cell.budget, "created": None,
            "imported": {"format": FORMAT, "source_dir": str(source_dir), "file": rel, "sha256": sha,
                         "params": cell.params, "curve_layout": cell.layout, "n_seeds": cell.n_seeds, **extra}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (tmp / "members.json").write_text(json.dumps([{"member": i, "seed": i} for i in range(cell.n_seeds)]) + "\n")
    (tmp / "events.json").write_text(json.dumps(events_of(cell), indent=2) + "\n")
    pq.write_table(pa.table(metric_rows(cell), schema=METRICS_SCHEMA), tmp / "metrics.parquet")


def _already(dest: Path, sha: str) -> bool:
    try:
        return json.loads((dest / "meta.json").read_text())["imported"]["sha256"] == sha
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _install(tmp: Path, dest: Path) -> None:
    """Move a complete temp run into place; a previous version is moved aside first and removed after."""
    old = dest.with_name(f".{dest.name}.old")
    if dest.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def _folder_sidecars(folder: Path, stems: set[str], warnings: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j in sorted(folder.glob("*.json")):
        if j.stem in stems:
            continue
        doc = _read_json(j, warnings)
        if doc is not None:
            out.update({f"{j.stem}.{k}": v for k, v in _scalars(doc).items()})
    return out


def import_published(src: str | Path, out: str | Path,
                     conventions: tuple[str, ...] = CENSOR_CONVENTIONS) -> ImportResult:
    """Import every cell file under ``src`` into ``out`` (see the module docstring); a ``UserError`` when ``src`` is
    missing or holds no ``.npz`` file at all."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise UserError(f"{src} is not a directory")
    files = sorted(p for p in src.rglob("*.npz") if not any(part.startswith(".") for part in p.relative_to(src).parts))
    if not files:
        raise UserError(f"{src} holds no .npz result files")
    res = ImportResult(out)
    out.mkdir(parents=True, exist_ok=True)
    stems_by_dir: dict[Path, set[str]] = {}
    for f in files:
        stems_by_dir.setdefault(f.parent, set()).add(f.stem)
    folder_side = {d: _folder_sidecars(d, s, res.warnings) for d, s in stems_by_dir.items()}
    for f in files:
        stems = stems_by_dir[f.parent]
        if f.stem.endswith(COMPANION_SUFFIX) and f.stem[: -len(COMPANION_SUFFIX)] in stems:
            continue  # checked with its cell below
        rel = f.relative_to(src).as_posix()
        try:
            cell = read_cell(f, conventions)
        except NotACell as e:
            res.warnings.append(f"warning: skipped {f}: {e}")
            continue
        extra: dict[str, Any] = {}
        side = dict(folder_side[f.parent])
        own = f.with_suffix(".json")
        if own.is_file():
            doc = _read_json(own, res.warnings)
            if doc is not None:
                side.update(_scalars(doc))
                extra["sidecars"] = [own.relative_to(src).as_posix()]
        for k, v in side.items():
            cell.params.setdefault(k, v)
        comp = f.with_name(f.stem + COMPANION_SUFFIX + ".npz")
        if comp.is_file():
            _check_companion(comp, cell, conventions, res.warnings)
            extra["companions"] = [comp.relative_to(src).as_posix()]
        name = run_name(rel)
        dest = out / name
        sha = _sha256(f)
        if _already(dest, sha):
            res.unchanged.append(name)
            continue
        tmp = out / f".{name}.import.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _write_run(tmp, cell, rel, src.resolve(), sha, extra)
            _install(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        res.imported.append(name)
    return res


def _check_companion(comp: Path, cell: PublishedCell, conventions: tuple[str, ...], warnings: list[str]) -> None:
    try:
        other = read_cell(comp, conventions)
    except NotACell as e:
        warnings.append(f"warning: skipped {comp}: {e}")
        return
    if other.t_grok != cell.t_grok:
        warnings.append(f"warning: skipped {comp}: its T_grok_per_seed differs from its cell's")
