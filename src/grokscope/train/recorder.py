"""What a run measures, kept two ways: metric rows flushed to the run store in chunks, and the in-memory history
that events, stop rules and history-reading probes use.

A member stopped by ``train.stop_on_grok`` gets no rows after its stop: its curves, budget and ``final`` values
are those it would have alone, whatever it was packed with. History arrays hold NaN where a member was stopped or
a cadenced probe did not run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..detect.events import MemberEvents, events_from_curves, snapshot_at
from ..store import checkpoint
from ..store.run_dir import RunDir

STATE_COST_FACTOR = 20  # a slow resume-state write is repeated only after 20x its duration (~5% of the time)
SLOW_STATE_SECONDS = 0.1  # below this, the state is written at every flush


class Recorder:
    def __init__(self, M: int, store: RunDir | None = None, flush_seconds: float = 5.0, n_parts: int = 0) -> None:
        self.M, self.store, self.flush_seconds, self.n_parts = M, store, flush_seconds, n_parts
        self.steps: list[int] = []  # every eval step of the run
        # metric -> [capacity, M] float64 buffer, rows [:len(steps)] used (NaN: not measured); grown by doubling so
        # reading a whole history at every eval (stop rule, history-reading probes) is a view, not a rebuild
        self.values: dict[str, np.ndarray] = {}
        self._capacity = 64
        self.n_active = [0] * M  # evals recorded while member m was active: its curves are the first n_active[m]
        self.rows: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
        self.last_flush = time.monotonic()
        self.last_state = -math.inf  # when the resume state was last written, and how long that took
        self.state_seconds = 0.0

    # -- recording ------------------------------------------------------------------------------------------------
    def record(self, t: int, values: dict[str, list[float]], active: list[bool], rows: bool = True) -> None:
        """Eval at step t; members not ``active`` (stopped) get NaN in the history and no rows."""
        n = len(self.steps)
        self.steps.append(t)
        if n >= self._capacity:  # grow every buffer together, doubling
            self._capacity *= 2
            for k, buf in self.values.items():
                self.values[k] = np.concatenate([buf, np.full_like(buf, np.nan)])
        mask = np.array(active, dtype=bool)
        for name, v in values.items():
            if name not in self.values:
                self.values[name] = np.full((self._capacity, self.M), np.nan)
            self.values[name][n] = np.where(mask, np.asarray(v, dtype=float), np.nan)
        for m in range(self.M):
            self.n_active[m] += bool(active[m])
        if rows:
            ms = [m for m in range(self.M) if active[m]]
            for name, v in values.items():
                self.rows["step"] += [t] * len(ms)
                self.rows["member"] += ms
                self.rows["metric"] += [name] * len(ms)
                self.rows["value"] += [v[m] for m in ms]

    def replay(self, table: Any, upto: int) -> None:
        """Rebuild the history from stored rows (a pandas long table) of evals at steps <= ``upto`` (resume)."""
        for step, group in table[table.step <= upto].groupby("step", sort=True):
            values: dict[str, list[float]] = {}
            active = [False] * self.M
            for name, g in group.groupby("metric"):
                col = [math.nan] * self.M
                for m, v in zip(g.member.tolist(), g.value.tolist()):
                    col[int(m)] = float(v)
                    active[int(m)] = True
                values[str(name)] = col
            self.record(int(step), values, active, rows=False)

    # -- reading ----------------------------------------------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """``[evals, M]`` history of one metric (NaN where not measured); a read-only view."""
        buf = self.values.get(name)
        if buf is None:
            return np.full((len(self.steps), self.M), np.nan)
        view = buf[:len(self.steps)]
        view.flags.writeable = False
        return view

    def history(self) -> dict[str, np.ndarray]:
        """Every metric's ``[evals, M]`` history, copies (a probe may keep or modify them)."""
        return {name: self.array(name).copy() for name in self.values}

    def curves(self, m: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Member m's own evals (up to its stop) and its curves."""
        k = self.n_active[m]
        return np.array(self.steps[:k], dtype=np.int64), {name: self.array(name)[:k, m] for name in self.values}

    def member_events(self, m: int, seed: int, eval_cfg: Any) -> MemberEvents:
        steps, curves = self.curves(m)
        return events_from_curves(m, seed, steps, curves, eval_cfg)

    def events_json(self, table: list[dict], eval_cfg: Any, extra: dict[str, list] | None = None) -> list[dict]:
        """events.json: per member its events, ``at_grok`` (every metric at T_grok; None if censored), ``final``
        (every metric at its last eval) and any detector keys (``extra``: key -> value per member)."""
        out = []
        for m, row in enumerate(table):
            steps, curves = self.curves(m)
            ev = events_from_curves(m, row["seed"], steps, curves, eval_cfg)
            final = snapshot_at(steps, curves, int(steps[-1])) if len(steps) else {}
            out.append({**ev.as_dict(), "at_grok": snapshot_at(steps, curves, ev.t_grok), "final": final,
                        **{k: v[m] for k, v in (extra or {}).items()}})
        return out

    # -- flushing ---------------------------------------------------------------------------------------------
    def due(self, t: int, ckpt_steps: set[int], done: bool) -> bool:
        return self.store is not None and (done or t in ckpt_steps
                                           or time.monotonic() - self.last_flush > self.flush_seconds)

    def flush(self, t: int, state: Callable[[], dict[str, Any]], params: dict[str, Any] | None, done: bool,
              keep_state: bool = False) -> None:
        """Metrics chunk first, then (when due) the resume state that counts it: a kill between the two loses
        nothing, and chunks past the last state are dropped and recomputed identically on resume.

        A resume state whose last write took over ``SLOW_STATE_SECONDS`` is rewritten only after
        ``STATE_COST_FACTOR`` times that (a Grokfast MA window makes it hundreds of MiB: rewriting it every few
        seconds would dominate training; a kill then redoes at most that stretch),
        and not at the end (the run completes and removes it). ``params`` also go to a weights-only checkpoint, and
        with ``keep_state`` the full state beside it (``ckpt/state_NNNNNNNN.pt``: what ``train.fork`` branches from)."""
        assert self.store is not None
        if params is not None:
            checkpoint.save(checkpoint.ckpt_path(self.store.ckpt_dir, t), {"step": t, "params": params})
            if keep_state:
                checkpoint.save(checkpoint.state_path(self.store.ckpt_dir, t), state())
        self.store.write_part(self.n_parts, self.rows)
        self.n_parts += 1
        now = time.monotonic()
        slow = self.state_seconds > SLOW_STATE_SECONDS
        gap = max(self.flush_seconds, STATE_COST_FACTOR * self.state_seconds) if slow else self.flush_seconds
        if not done and now - self.last_state >= gap:
            self.store.keep_previous_state()
            checkpoint.save(self.store.path / "state.pt", {**state(), "n_parts": self.n_parts})
            self.last_state, self.state_seconds = time.monotonic(), time.monotonic() - now
        self.store.update_meta(steps_done=t)
        self.rows = {k: [] for k in self.rows}
        self.last_flush = time.monotonic()
