"""Phases of a run (``[[phases]]``): from step ``at`` on, another task (same shapes), other optimiser settings,
replay of an earlier phase's data (papers/03 §11 E2: 25k steps on a+b mod 97, then a·b mod 97 at lr 5e-3, wd 0).

Each phase's task is built at setup like the base task (its split and batch seeds hash the *phase's* task and the
member seed, exactly as a run of that task would), so a two-phase run equals two chained runs: the first task to
``at``, then a run of the second task continued from that state (tested). The evaluation at ``at`` still measures
the phase before; update at+1 is the first of the new phase.

Replay (per member; a phase's ``replay`` or the ``set_replay`` action): of each minibatch of B, the last
k = round(fraction·B) examples are replaced by k distinct training examples of the source phase's task, drawn
from a stream seeded by (the member's source batch seed, step) — exact fractions, a pure function of the step.

Per-task metrics: at every evaluation, ``task/<name>/train/acc``, ``task/<name>/test/acc`` and
``task/<name>/test/loss`` for every phase's task (the current task's are the run's ``train/acc`` ... values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import RunConfig, member_config
from ..config_phases import phase_tasks
from ..probes.evaluate import EvalData
from ..tasks import TASKS
from .labels import noisy_labels
from .losses import per_example


@dataclass
class PhaseData:
    name: str
    at: int  # first update (t -> t+1 with t >= at) of the phase; 0 for the base
    eval_data: EvalData
    x_train: Tensor  # [M, n, S]
    batch_seeds: list[int]
    task_info: dict[str, Any]
    lr: float | None
    wd: float | None
    replay: tuple[float, int] | None  # (fraction, source phase index)


def _phase_data(cfg: RunConfig, s: Any, name: str, at: int, task: dict[str, Any]) -> PhaseData:
    from .setup import member_seed, task_info

    pcfg = RunConfig.model_validate({**cfg.model_dump(mode="json"), "task": task, "phases": []})
    members = [member_config(pcfg, row) for row in s.table]
    seeds = [row["seed"] for row in s.table]
    data = TASKS.get(pcfg.task.name)(pcfg.task, [member_seed(mc, sd, "split") for mc, sd in zip(members, seeds)])
    if data.kind == "regression":
        raise ValueError("phases: regression tasks cannot switch phases")
    base = s.data
    if (data.vocab_size, data.n_classes, data.seq_len, tuple(data.input_positions)) != (
            base.vocab_size, base.n_classes, base.seq_len, tuple(base.input_positions)):
        raise ValueError(f"phases: phase {name!r}'s task has other shapes (vocabulary, classes, positions) than "
                         "the base task: the model cannot switch to it")
    dev, M = s.device, s.M
    x = torch.as_tensor(data.x, device=dev)
    x_all = x if x.dim() == 3 else x[None]
    y = torch.as_tensor(data.y, device=dev)
    y_all = (y if y.dim() == 2 else y[None]).expand(M, -1).contiguous()
    train_idx = torch.as_tensor(data.train_idx, device=dev)
    classes = np.unique(data.y)
    y_clean = y_all.gather(1, train_idx).cpu().numpy()
    y_train = torch.as_tensor(np.stack([
        noisy_labels(y_clean[m], classes, mc.intervene.label_noise, member_seed(mc, seeds[m], "noise"))
        for m, mc in enumerate(members)]), device=dev)
    xa = x_all.expand(M, -1, -1)
    x_train = xa.gather(1, train_idx[..., None].expand(-1, -1, xa.shape[-1]))
    ev = EvalData(x_all, y_all, y_train, train_idx, torch.as_tensor(data.test_idx, device=dev), cfg.loss.name, s.tau)
    return PhaseData(name, at, ev, x_train, [member_seed(mc, sd, "batch") for mc, sd in zip(members, seeds)],
                     task_info(pcfg, data), None, None, None)


class Phases:
    """The phase schedule of one run and the per-member replay state (saved in the resume state)."""

    def __init__(self, cfg: RunConfig, s: Any) -> None:
        tasks = phase_tasks(cfg.task.model_dump(mode="json"), cfg.phases)
        base_name = tasks[0][0]
        self.list = [PhaseData(base_name, 0, s.eval_data, s.x_train, list(s.batch_seeds), s.task_info,
                               None, None, None)]
        self.base_lr, self.base_wd = s.lr.clone(), s.wd.clone()
        for (name, task), ph in zip(tasks[1:], cfg.phases):
            pd = _phase_data(cfg, s, name, ph.at, task)
            pd.lr, pd.wd = ph.optim.lr, ph.optim.wd
            if ph.replay is not None:
                pd.replay = (ph.replay.fraction, self.index(ph.replay.source, before=len(self.list)))
            self.list.append(pd)
        if any(p.replay for p in self.list) and cfg.train.batch_size is None:
            raise ValueError("phases: replay needs a minibatch (train.batch_size): a full batch has no share to give")
        self.batch_size = cfg.train.batch_size
        self.M = s.M
        self.current = 0
        self.fraction = np.zeros(s.M)
        self.source = np.zeros(s.M, dtype=int)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.list]

    def index(self, name: str, before: int | None = None) -> int:
        names = self.names[:before]
        if name not in names:
            raise ValueError(f"phases: replay source {name!r} is not an earlier phase (phases: {names})")
        return names.index(name)

    # -- switching ----------------------------------------------------------------------------------------------
    def phase_at(self, t: int, for_update: bool) -> int:
        """The phase of the update t -> t+1 (``for_update``) or of the evaluation at step t."""
        return max(i for i, p in enumerate(self.list) if (p.at <= t if for_update else p.at < t or i == 0))

    def ensure(self, s: Any, t: int, for_update: bool) -> None:
        i = self.phase_at(t, for_update)
        if i != self.current:
            self.current = i
            self._apply(s)
            rep = self.list[i].replay
            self.fraction[:] = rep[0] if rep else 0.0
            self.source[:] = rep[1] if rep else 0

    def _apply(self, s: Any) -> None:
        """Point the setup at the current phase's data and optimiser values (phases inherit earlier settings)."""
        p = self.list[self.current]
        s.eval_data, s.x_train, s.batch_seeds, s.task_info, s._epoch = (p.eval_data, p.x_train, p.batch_seeds,
                                                                        p.task_info, None)
        lr, wd = self.base_lr.clone(), self.base_wd.clone()
        for q in self.list[1:self.current + 1]:
            lr = lr.fill_(q.lr) if q.lr is not None else lr
            wd = wd.fill_(q.wd) if q.wd is not None else wd
        s.lr, s.wd = lr, wd

    def set_replay(self, m: int, fraction: float, source: str) -> None:
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"set_replay: fraction must be in [0, 1), got {fraction}")
        if self.batch_size is None:
            raise ValueError("set_replay needs a minibatch (train.batch_size)")
        self.fraction[m], self.source[m] = fraction, self.index(source)

    # -- batches ------------------------------------------------------------------------------------------------
    def batch(self, s: Any, t: int) -> tuple[Tensor, Tensor]:
        xb, yb = s.batch(t)
        if not self.fraction.any():
            return xb, yb
        xb, yb = xb.clone(), yb.clone()
        B = xb.shape[1]
        for m in np.flatnonzero(self.fraction):
            k = int(round(self.fraction[m] * B))
            if k == 0:
                continue
            src = self.list[int(self.source[m])]
            n_src = src.x_train.shape[1]
            g = torch.Generator().manual_seed(src.batch_seeds[m] * 1_000_003 + 7_919 * t + 1)
            idx = torch.randperm(n_src, generator=g)[:k].to(xb.device)
            xb[m, B - k:] = src.x_train[m, idx]
            yb[m, B - k:] = src.eval_data.y_train[m, idx]
        return xb, yb

    # -- per-task metrics ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def metrics(self, s: Any, values: dict[str, list[float]]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for i, p in enumerate(self.list):
            pre = f"task/{p.name}/"
            if i == self.current and all(k in values for k in ("train/acc", "test/acc", "test/loss")):
                for k in ("train/acc", "test/acc", "test/loss"):
                    out[pre + k] = list(values[k])
                continue
            ev = p.eval_data
            z = s.model(ev.x) / s.tau[:, None, None]  # [M, N, C]
            correct = (z.argmax(-1) == ev.y).double()
            loss = per_example(ev.loss_name, z.gather(1, ev.test_idx[..., None].expand(-1, -1, z.shape[-1])),
                               ev.y.gather(1, ev.test_idx)).double().mean(1)
            out[pre + "train/acc"] = correct.gather(1, ev.train_idx).mean(1).tolist()
            out[pre + "test/acc"] = correct.gather(1, ev.test_idx).mean(1).tolist()
            out[pre + "test/loss"] = loss.tolist()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current, "fraction": self.fraction.tolist(), "source": self.source.tolist()}

    def load_state_dict(self, s: Any, sd: dict[str, Any]) -> None:
        self.current = int(sd["current"])
        self._apply(s)
        self.fraction = np.array(sd["fraction"], dtype=float)
        self.source = np.array(sd["source"], dtype=int)
