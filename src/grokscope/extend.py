"""Extending a finished run to a longer budget (``grokscope resume RUN --steps N``, ``gs.extend``).

The extension is *recorded in the same run* (same directory, same run id), not a new run:

- ``config.json``'s ``train.steps`` becomes N; ``meta.json`` gains ``extensions``: one entry per extension with the
  budget before and after (``from_steps``, ``to_steps``), the step training continued from, and when.
- Training continues from the full training state a complete run keeps at its last step (``ckpt/state_<T>.pt``:
  parameters, optimizer moments, interventions, noise streams, probe states), so the trajectory is the one an
  uninterrupted run of budget N follows: the weights at every step are the same (the loop never reads the budget
  except to stop). Once extended, the state at the old end is removed (unless ``checkpoint.states`` keeps states
  at checkpoints for ``train.fork``); the new end keeps its own, so a run can be extended again.
- The eval grid: the evals already recorded (on the grid of the old budget, at steps <= T) are kept as they are;
  after T the run evaluates on the grid a run of budget N has (``train.schedule.eval_steps(eval, N)``). So on every
  step both grids contain, the metrics equal an uninterrupted budget-N run's bit for bit; a geometric grid of budget
  N has fewer points below T than the old one, and those extra early points stay. Checkpoints: the old ones up to
  T, then budget N's schedule after T.
- What can differ from an uninterrupted run: probes on a cadence (``every=k`` counts evaluations) and probes or
  interventions that read the eval history see the old, denser grid below T; ``train.stop_on_grok``: a member
  stopped before T stays stopped (a run whose members all stopped is refused: a longer budget changes nothing).

Durability: the metrics move back to a chunk and the final state becomes the resume state *before* the config
says N, so an extension killed at any point resumes with ``grokscope resume RUN`` like any interrupted run.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import UserError


def final_state_path(run: Any) -> Path:
    """Where a complete run keeps its full training state at its last step."""
    from .store import checkpoint

    return checkpoint.state_path(run.dir.ckpt_dir, int(run.meta.get("steps_done") or run.config.train.steps))


def extend(path: str | Path, steps: int, device: str = "auto", threads: int | str | None = None,
           on_eval: Callable[[int, dict[str, list[float]]], None] | None = None, quiet: bool | None = None) -> Any:
    """Continue the complete run at ``path`` to a budget of ``steps``; returns the Run (see the module docstring).

    An interrupted run is resumed first (to its own budget, then extended)."""
    from . import api
    from .store import checkpoint
    from .store.integrity import forget
    from .train.loop import load_state_dict
    from .train.recorder import Recorder

    r = api.Run(path)
    if not r.complete:
        if r.status == "running":
            raise UserError(f"run {r.path} is being written by another process")
        r = api.resume(path, device, threads, on_eval, quiet)
    cfg = r.config
    done = int(r.meta.get("steps_done") or cfg.train.steps)
    if steps <= cfg.train.steps:
        raise UserError(f"--steps {steps} is not beyond the budget of {r.path} (train.steps = {cfg.train.steps})")
    if done < cfg.train.steps:  # only train.stop_on_grok ends a complete run before its budget
        raise UserError(f"every member of {r.path} was stopped by train.stop_on_grok (at step {done}, budget "
                        f"{cfg.train.steps}): a longer budget changes nothing; to train on after grokking, rerun "
                        "with --set train.stop_on_grok=null")
    state_file = final_state_path(r)
    if not state_file.is_file():
        raise UserError(f"{r.path} kept no training state at its last step ({state_file.name}; runs made before "
                        "extensions were supported have none): rerun it with the longer train.steps instead")
    new_cfg = type(cfg).model_validate({**cfg.model_dump(mode="json"),
                                        "train": {**cfg.train.model_dump(mode="json"), "steps": steps}})
    dev = api.pick_device(device)
    n_threads = api._threads(threads if threads is not None else r.meta.get("threads"), new_cfg, dev)
    with api.torch_threads(n_threads):
        setup = api._setup(new_cfg, dev)
        rd = r.dir
        rd.lock()
        try:
            state = checkpoint.load(state_file, map_location="cpu")
            start = load_state_dict(setup, state)
            table = rd.read_metrics()
            # order matters (module docstring): chunk 0 and the resume state first, then the new budget
            rd.write_part(0, table.to_pydict())
            checkpoint.save(rd.path / "state.pt", {**state, "n_parts": 1})
            rd.write_json("config.json", new_cfg.model_dump(mode="json"))
            meta = rd.read_json("meta.json")
            ext = {"from_steps": cfg.train.steps, "to_steps": steps, "continued_from": start,
                   "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
            rd.update_meta(status="interrupted", extensions=[*meta.get("extensions", []), ext])
            forget(rd.metrics_file)
            forget(rd.path / "events.json")
            forget(rd.path / "curves.png")
            rec = Recorder(setup.M, rd, new_cfg.checkpoint.flush_seconds, 1)
            rec.replay(table.to_pandas(), upto=start)
        finally:
            rd.unlock()
        with api._progress(new_cfg, quiet, on_eval, start) as cb:
            out = api._train(rd, setup, cb, start, rec)
    if not cfg.checkpoint.states:  # the state at the old end was kept only to extend from; the new end has its own
        forget(state_file)
    return out
