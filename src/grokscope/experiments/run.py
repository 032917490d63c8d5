"""Run an experiment: its stages as sweeps (complete runs reused), then its analysis, then the claim files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Context, Experiment, StageResult
from .claims import ClaimRow


class StageFailed(Exception):
    """Some runs of a stage failed (a bug or a crash, not a user mistake); the message is one line."""


@dataclass
class ExperimentRun:
    experiment: Experiment
    ctx: Context
    rows: list[ClaimRow]
    files: list[Path] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.ctx.out

    def to_json(self) -> dict[str, Any]:
        """The claim table document (also ``claims.json``)."""
        exp, ctx = self.experiment, self.ctx
        published = ctx.params.get("published")
        notes = list(getattr(exp, "published_notes", [])) if published else exp.scale_notes(ctx.scale)
        return {
            "experiment": exp.name,
            "claim": exp.claim,
            "paper": exp.paper,
            "scale": ctx.scale,
            "params": ctx.params,
            "scale_notes": notes,
            "stages": {name: {"dir": str(s.dir), "members": len(s.members), "runs_trained": s.runs_trained,
                              "runs_skipped": s.runs_skipped} for name, s in ctx.stages.items()},
            "rows": [r.to_json(notes) for r in self.rows],
        }


def run_experiment(exp: Experiment, scale: str, out: str | Path, workers: int | None = None,
                   progress: Callable[[str], Any] | None = None, device: str = "auto",
                   published: str | Path | None = None) -> ExperimentRun:
    """Run ``exp`` at ``scale`` under ``out/<name>/``: each stage's sweep, ``analyse``, then the claim files.

    ``progress(stage_name)`` may return a sweep progress reporter (``grokscope.sweep.runner.Progress``) per stage.
    ``published``: a directory of a paper's published per-seed results; instead of training, they are imported
    into ``out/<name>/published/`` and the experiment's ``from_published(ctx, runs_dir)`` gives the claim rows (the
    scale is then ``paper``).
    """
    from ..report.claims import write_claims

    if published is not None:
        return _from_published(exp, Path(published), Path(out))
    ctx = Context(exp, scale, exp.params(scale), Path(out) / exp.name)
    for stage in exp.stages:
        if stage.run is not None:
            if progress:
                progress(stage.name)
            ctx.stages[stage.name] = stage.run(ctx, ctx.out / stage.name)
            continue
        assert stage.build is not None
        spec = dict(stage.build(ctx))
        spec.setdefault("name", f"{exp.name}-{stage.name}")
        ctx.stages[stage.name] = run_stage(stage.name, spec, ctx.out / stage.name, workers,
                                           progress(stage.name) if progress else None, device)
    result = ExperimentRun(exp, ctx, exp.analyse(ctx))
    result.files = write_claims(result.to_json(), ctx.out)
    return result


def run_stage(name: str, spec: dict[str, Any], out: Path, workers: int | None, progress: Any,
              device: str = "auto") -> StageResult:
    """One sweep into ``out``; its members read back from the catalog, each with its cell's axis values."""
    from ..store.catalog import Catalog
    from ..sweep.runner import run_sweep

    spec = dict(spec)
    threads = int(spec.pop("threads_per_worker", 1))  # a single long run (e.g. dlc quick) may use 2 threads
    res = run_sweep(spec, out=out, workers=workers, threads_per_worker=threads, progress=progress, device=device)
    if res.failed:
        first = res.failed[0]
        raise StageFailed(f"stage {name}: {len(res.failed)} of {len(res.cells)} cells failed (first: run "
                          f"{first.run_id}: {first.error}); fix the cause and rerun: finished runs are reused")
    values = {c.index: c.values for c in res.plan.cells}
    with Catalog(out) as cat:
        rows = cat.query("select * from members order by cell, run_id, member").dicts()
    for r in rows:
        r["values"] = values.get(r["cell"], {}) if r.get("cell") is not None else {}
    return StageResult(name, out, rows, res.runs_trained, res.runs_skipped)


def _from_published(exp: Experiment, src: Path, out: Path) -> ExperimentRun:
    import sys

    from ..errors import UserError
    from ..laws.importer import import_published
    from ..report.claims import write_claims

    if not hasattr(exp, "from_published"):
        raise UserError(f"experiment {exp.name!r} has no --published mode (it trains its own runs)")
    ctx = Context(exp, "paper", {**exp.params("paper"), "published": str(src)}, out / exp.name)
    res = import_published(src, ctx.out / "published")
    for w in res.warnings:
        sys.stderr.write(w + "\n")
    result = ExperimentRun(exp, ctx, exp.from_published(ctx, ctx.out / "published"))
    result.files = write_claims(result.to_json(), ctx.out)
    return result
