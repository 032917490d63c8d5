"""Config discovery (issue 12: keys were only findable in the source): ``grokscope config keys [SECTION]``, generated
from the pydantic models so it cannot drift; ``grokscope run ... --dry-run``; ``grokscope show RUN --config``."""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from .cli_json import print_json
from .errors import UserError

config_app = typer.Typer(no_args_is_help=True, help="Config reference: every key with its type, default and meaning.")


def type_name(annotation: Any) -> str:
    """A field annotation as short text: ``float``, ``int|None``, ``'adamw'|'adam'|'sgd'``, ``list[str]``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "|".join(repr(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return "|".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        inner = ", ".join(type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _submodels(annotation: Any) -> list[type]:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _submodels(a)]


def _default(info: Any) -> Any:
    from pydantic_core import PydanticUndefined

    if info.default_factory is not None:
        return info.default_factory()
    return "(required)" if info.default is PydanticUndefined else info.default


def _walk(model: type, prefix: str, family: str) -> Iterator[dict[str, Any]]:
    from pydantic import BaseModel

    for name, info in model.model_fields.items():
        key, default = f"{prefix}{name}", _default(info)
        subs = [m for m in _submodels(info.annotation) if not isinstance(default, list)]
        if isinstance(default, BaseModel) or (subs and default is None):
            yield {"key": key, "type": "section" if default is not None else "section|None",
                   "default": "" if default is not None else None, "description": info.description or
                   (subs[0].__doc__ or "").strip().split("\n")[0], "family": family}
            for sub in subs:
                yield from _walk(sub, key + ".", family)
            continue
        yield {"key": key, "type": type_name(info.annotation), "default": default,
               "description": info.description or "", "family": family}


def key_rows(section: str | None = None) -> list[dict[str, Any]]:
    """Every config key: key, type, default, description, and for task/model keys the family (task.name /
    model.name value) that declares it. ``section`` keeps one top-level section (``optim``, ``task``, ...)."""
    from .config import RunConfig
    from .models import MODEL_CONFIGS
    from .tasks import TASK_CONFIGS

    families = {"task": TASK_CONFIGS, "model": MODEL_CONFIGS}
    rows: list[dict[str, Any]] = []
    for name, info in RunConfig.model_fields.items():
        if section is not None and name != section:
            continue
        if name in families:
            for fam in families[name]:
                fam_name = fam.model_fields["name"].default
                rows.extend(_walk(fam, f"{name}.", fam_name))
            continue
        if _submodels(info.annotation):
            rows.extend(_walk(_submodels(info.annotation)[0], f"{name}.", ""))
        else:
            rows.append({"key": name, "type": type_name(info.annotation), "default": _default(info),
                         "description": info.description or "", "family": ""})
    return rows


@config_app.command("keys")
def keys(section: str = typer.Argument(None, help="one section: task, model, optim, loss, train, eval, intervene, "
                                                    "members, checkpoint"),
         as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List every config key with its type, default and description (task/model keys per family)."""

    from .config import RunConfig

    if section is not None and section not in RunConfig.model_fields:
        raise UserError(f"unknown config section {section!r} (choose from {', '.join(RunConfig.model_fields)})")
    rows = key_rows(section)
    if as_json:
        print_json(rows)
        return
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        fam = f"[{r['family']}] " if r["family"] else ""
        default = "" if r["type"] == "section" else f" = {r['default']!r}"
        sys.stdout.write(f"{r['key']:<{width}}  {r['type']}{default}  {fam}{r['description']}\n")


def as_yaml(cfg: Any) -> str:
    import yaml

    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, default_flow_style=False, width=100)


def dry_run(cfg: Any, out: Path, device: str, threads: str, notes: list[str]) -> None:
    """Print the resolved config and what ``run`` would do (directory, members, steps, memory estimate, threads)
    without writing or allocating anything."""
    from .train import budget
    from .train.threads import auto_threads, cores, resolve, step_flops

    path = Path(out) / f"{cfg.name}-{cfg.run_id()}"
    w = sys.stdout.write
    w("# resolved config (dry run: nothing is written)\n")
    w(as_yaml(cfg))
    for note in notes:
        w(f"note: {note}\n")
    exists = (path / "meta.json").is_file()
    w(f"run directory: {path}{' (exists: it would be resumed or returned as it is)' if exists else ''}\n")
    members = cfg.member_table()
    w(f"members: {len(members)} ({', '.join(', '.join(f'{k}={v}' for k, v in m.items()) for m in members[:8])}"
      f"{', ...' if len(members) > 8 else ''})\n")
    grid = f"{cfg.eval.points} points" if cfg.eval.grid == "geometric" else f"every {cfg.eval.every}"
    w(f"steps: {cfg.train.steps}  batch: {cfg.train.batch_size or 'full'}  eval grid: {cfg.eval.grid} ({grid})"
      f"  checkpoints: {cfg.checkpoint.count}\n")
    dev = "cpu" if device == "auto" else device
    need, have = budget.estimate_bytes(cfg), budget.machine_bytes("cpu") if dev == "cpu" else None
    w(f"estimated memory: {need / 2**30:.3g} GiB (coarse upper bound, train/budget.py)"
      f"{f' of {have / 2**30:.3g} GiB on this machine' if have else ''}\n")
    try:
        budget.check(cfg, dev)
    except UserError as e:
        w(f"would be refused: {e}\n")
    n = auto_threads(cfg, dev) if threads == "auto" else resolve(threads, cfg, dev)
    w(f"device: {device}  threads: {n}{' (auto' if threads == 'auto' else ' (given'}; {cores()} cores, step ~"
      f"{step_flops(cfg):.2g} FLOPs)\n")


def show_config(run_dir: Path) -> None:
    from . import api

    sys.stdout.write(as_yaml(api.Run(run_dir).config))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
