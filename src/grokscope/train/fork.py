"""Branch a run from another run's saved training state (``train.fork``): the experiments' "train to a fork step,
then branch arms from that saved state".

Each branch member takes the parent member with the same seed (several arms may share one parent member). The task
and the model's parameter specs must be the parent's, so the branch continues the very same networks. The parent's
metric rows up to the fork step are copied, so a branch has whole curves (its T_mem, its T_grok). Stateful probes
start fresh in a branch (their state has no generic member axis to select from).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import UserError
from ..store import checkpoint
from .setup import Setup


def _parent(path: str) -> Any:
    from ..api import Run

    return Run(path)


def member_map(s: Setup, parent_members: list[dict]) -> list[int]:
    """Parent member index of each branch member (matched by seed)."""
    by_seed: dict[int, int] = {}
    for row in parent_members:
        if row["seed"] in by_seed:
            raise UserError(f"train.fork: the parent has several members with seed {row['seed']}; a branch member "
                            "is matched to its parent by seed")
        by_seed[row["seed"]] = row["member"]
    missing = sorted({r["seed"] for r in s.table} - set(by_seed))
    if missing:
        raise UserError(f"train.fork: the parent has no member with seed {missing[0]} (its seeds: {sorted(by_seed)})")
    return [by_seed[r["seed"]] for r in s.table]


def _select(tree: Any, idx: torch.Tensor, dim: int = 0) -> Any:
    if isinstance(tree, torch.Tensor):
        return tree.index_select(dim, idx)
    if isinstance(tree, dict):
        return {k: _select(v, idx, 1 if k == "ma_buf" else dim) for k, v in tree.items()}
    return tree


def load_fork(s: Setup) -> tuple[int, dict[str, list]]:
    """Load the parent's state into ``s``; returns the fork step and the parent's rows up to it (long format,
    members renumbered as in the branch)."""
    from .loop import load_state_dict

    fork = s.cfg.train.fork
    assert fork is not None
    parent = _parent(fork.run)
    pcfg = parent.config
    if pcfg.task != s.cfg.task:
        raise UserError("train.fork: the branch's task differs from the parent's (it must continue the same data)")
    if pcfg.train.dtype != s.cfg.train.dtype:
        raise UserError(f"train.fork: dtype {s.cfg.train.dtype} differs from the parent's {pcfg.train.dtype}")
    if fork.step >= s.cfg.train.steps:
        raise UserError(f"train.fork.step {fork.step} is not before train.steps {s.cfg.train.steps}")
    path = checkpoint.state_path(parent.dir.ckpt_dir, fork.step)
    if not path.is_file():
        have = sorted(int(p.stem.split("_")[1]) for p in parent.dir.ckpt_dir.glob("state_*.pt"))
        hint = f"it has states at {have}" if have else "it has none: run it with checkpoint.states = true"
        raise UserError(f"train.fork: {parent.path} has no saved state at step {fork.step} ({hint})")
    idx = torch.tensor(member_map(s, parent.members))
    state = checkpoint.load(path, map_location="cpu")
    want = {n: tuple(p.shape[1:]) for n, p in s.model.state_dict().items()}
    got = {n: tuple(p.shape[1:]) for n, p in state["params"].items()}
    if want != got:
        raise UserError("train.fork: the branch's model has other parameters or shapes than the parent's")
    branch = {"step": state["step"], "params": _select(state["params"], idx), "opt": _select(state["opt"], idx),
              # the branch's own clamp targets, never the parent's (a relative clamp measures its start)
              "iv": {k: v for k, v in _select(state["iv"], idx).items() if k != "clamp_target"}, "probes": {},
              "noise_rng": [state["noise_rng"][i] for i in idx.tolist()]}
    step = load_state_dict(s, branch)
    df = parent.metrics()
    rows: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
    for m, pm in enumerate(idx.tolist()):
        d = df[(df.member == pm) & (df.step <= step)]
        rows["step"] += d.step.astype(int).tolist()
        rows["member"] += [m] * len(d)
        rows["metric"] += d.metric.tolist()
        rows["value"] += d.value.astype(float).tolist()
    return step, rows
