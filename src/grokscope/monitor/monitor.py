"""``Monitor``: grokscope's label-free probes and online alarms on a user's own PyTorch model and loop.

    mon = Monitor(model, unembed="lm_head", hidden="ln_f", probes=["lar", "gmm", "norms"], out="runs/mine")
    for step, batch in enumerate(loader):
        ...; opt.step()
        mon.step(step, optimizer=opt, inputs=probe_batch)
    mon.close()                       # or: with Monitor(...) as mon: ...

What a probe sees (the adapter from an ``nn.Module`` to an ``EvalContext``, one member: M = 1):

- ``params``: every named parameter as ``[1, ...]``; the unembedding also under the role name ``unembed`` (the
  module's name) as ``[1, d, C]`` (an ``nn.Linear`` weight ``[C, d]`` transposed: grokscope's ``[in, out]``);
  ``groups``: the weight matrices (≥ 2-D) of each top-level child module (biases and norms' gains excluded).
- ``cache[hidden]``: the output of the ``hidden`` module (the state fed to the unembedding), flattened to
  ``[1, B·S, d]``; ``logits``: the output of the ``unembed`` module, ``[1, B·S, C]`` (no temperature: τ = 1).
- ``roles``: ``embed`` (the first ``nn.Embedding``'s weight, if any), ``unembed``, ``unembed_in = hidden``,
  ``hidden = (hidden,)``; no layer chain or attention roles (probes needing them are refused).
- ``lr``/``wd`` from the optimizer's first parameter group; ``grad``: the parameters' ``.grad`` at the call (the
  user's last minibatch gradient, not a full-batch one); ``history``: this Monitor's own history.

Served: probes that read no labels (or, for probes marking some metrics as label-reading, their label-free
metrics only; with ``labels=`` given to ``step``, every metric, on the probe batch) and need no task structure.
The probe forward pass runs under ``no_grad`` in eval mode only every ``every`` steps, on ``inputs``; between
them ``step`` returns at once and no hook is attached, so the user's training steps run untouched.

The run directory (``out``) is a normal grokscope run: config.json (a RunConfig naming the probes and cadence;
its task/model sections are placeholders, the user's model is described in meta.json ``monitor``), members.json,
meta.json, metrics chunks then metrics.parquet, events.json (alarm steps ``alarm/ews_<metric>``; T_mem/T_grok
only when accuracy metrics were measured, else unknown, never "censored").
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UserError, first_line


def _modules(model: nn.Module) -> dict[str, nn.Module]:
    return dict(model.named_modules())


def _check_module(model: nn.Module, mods: dict[str, nn.Module], name: str, what: str) -> nn.Module:
    if name not in mods or name == "":
        some = [n for n in mods if n][:8]
        raise UserError(f"{type(model).__name__} has no module {name!r} for {what} (it has: {', '.join(some)}"
                        f"{', ...' if len(mods) > 9 else ''})")
    return mods[name]


def _flat(t: Any) -> torch.Tensor:
    """A hooked module output (a tensor, or a tuple/ModelOutput whose first item is one) as ``[1, rows, width]``."""
    if not isinstance(t, torch.Tensor):
        t = t[0] if isinstance(t, (tuple, list)) else next(iter(t.values()))
    t = t.detach()
    return t.reshape(1, -1, t.shape[-1])


class Monitor:
    def __init__(self, model: nn.Module, unembed: str = "lm_head", hidden: str = "ln_f",
                 probes: Sequence[str] = ("norms",), out: str | Path = "runs/monitor", every: int = 1,
                 watch: Sequence[str] | None = None, name: str | None = None, flush_seconds: float = 30.0,
                 detector: dict[str, Any] | None = None) -> None:
        """``every``: probe cadence in training steps; ``watch``: metrics fed to an online EWS alarm (default:
        every label-free metric the probes write); ``detector``: ``OnlineEWS`` settings; ``flush_seconds``: rows
        reach the store at most this often (each flush is a Parquet chunk and a meta.json rewrite, fsynced) and at
        ``close``."""
        from ..models.base import ModelRoles
        from ..probes import PROBES, ProbeSet

        if every < 1:
            raise UserError(f"Monitor every must be >= 1, got {every}")
        self.model, self.every, self.watch = model, every, None if watch is None else list(watch)
        mods = _modules(model)
        self._unembed_mod = _check_module(model, mods, unembed, "unembed")
        self._hidden_mod = _check_module(model, mods, hidden, "hidden")
        self.unembed, self.hidden = unembed, hidden
        selected = []
        for p in self._resolve(PROBES, probes):
            if "task" in p.needs:
                raise UserError(f"probe {p.name!r} needs the task's structure: a Monitor cannot serve it")
            selected.append(p)
        self.probes = ProbeSet(selected)
        embeds = [n for n, m in mods.items() if isinstance(m, nn.Embedding)]
        self.roles = ModelRoles(embed=f"{embeds[0]}.weight" if embeds else "", unembed=unembed, unembed_in=hidden,
                                layers=(), attention=(), hidden=(hidden,))
        self.groups = self._groups()
        self.detector_settings = dict(detector or {})
        self.detectors: dict[str, Any] = {}
        self.out = Path(out)
        self.flush_seconds = flush_seconds
        self.name = name or f"monitor-{type(model).__name__}"
        self._n_evals = 0
        self._closed = False
        self._t0 = time.monotonic()
        self._probe_seconds = 0.0
        self._last_step: int | None = None
        self._create_run()

    # -- setup --------------------------------------------------------------------------------------------------
    @staticmethod
    def _resolve(registry: Any, names: Sequence[str]) -> list[Any]:
        try:  # probe sets ("default") and the skip rule, where the probes package provides them
            from ..probes.base import resolve  # type: ignore[attr-defined]
        except ImportError:
            return [registry.get(n) for n in names]
        return resolve(list(names))

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for n, p in self.model.named_parameters():
            if p.dim() >= 2:
                groups.setdefault(n.split(".")[0], []).append(n)
        return groups

    def _create_run(self) -> None:
        from .. import meta
        from ..config import RunConfig
        from ..store.run_dir import RunDir

        if self.out.exists():
            raise UserError(f"{self.out} exists; a Monitor never writes into an existing directory (choose another out)")
        cfg = RunConfig.model_validate({"name": self.name, "eval": {"probes": [p.name for p in self.probes.probes],
                                                                     "grid": "linear", "every": self.every},
                                        "checkpoint": {"count": 0, "flush_seconds": self.flush_seconds},
                                        "members": {"seeds": [0]}})
        self.cfg = cfg
        n_params = sum(p.numel() for p in self.model.parameters())
        dev = next(self.model.parameters()).device
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        try:
            rd = RunDir(tmp)
            rd.write_json("config.json", cfg.model_dump(mode="json"))
            rd.write_json("members.json", [{"member": 0, "seed": 0, "init_seed": None, "split_seed": None}])
            rd.write_json("meta.json", {"run_id": self.out.name, **meta.collect(str(dev), torch.get_num_threads()),
                                        "status": "running", "steps_done": 0, "source": "monitor",
                                        "monitor": {"model": type(self.model).__name__, "n_params": n_params,
                                                    "unembed": self.unembed, "hidden": self.hidden,
                                                    "every": self.every,
                                                    "note": "config.json task/model sections are placeholders"}})
            os.rename(tmp, self.out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        from ..train.recorder import Recorder

        self.store = RunDir(self.out)
        self.rec = Recorder(1, self.store, self.flush_seconds)

    # -- one call per training step ---------------------------------------------------------------------------
    def step(self, step: int, optimizer: torch.optim.Optimizer | None = None, inputs: Any = None,
             labels: torch.Tensor | None = None) -> dict[str, float] | None:
        """Measure at every ``every``-th step (else return None at once): the probes on ``inputs`` (a tensor, or a
        dict of keyword arguments for the model), the online alarms, and rows into the run store."""
        if self._closed:
            raise UserError("Monitor.step after close()")
        if step % self.every:
            return None
        if inputs is None:
            raise UserError("Monitor.step needs inputs= (a probe batch) at a measured step")
        t0 = time.perf_counter()
        values = self._measure(step, optimizer, inputs, labels)
        for metric, v in values.items():
            if self.watch is None or metric in self.watch:
                self._alarm(metric, step, v)
        self.rec.record(int(step), {k: [v] for k, v in values.items()}, [True])
        self._last_step = int(step)
        self._n_evals += 1
        if time.monotonic() - self.rec.last_flush > self.flush_seconds:
            self._flush()
        self._probe_seconds += time.perf_counter() - t0
        return values

    def _forward(self, inputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        got: dict[str, Any] = {}
        h1 = self._hidden_mod.register_forward_hook(lambda m, i, o: got.__setitem__("hidden", o))
        h2 = self._unembed_mod.register_forward_hook(lambda m, i, o: got.__setitem__("logits", o))
        was_training = self.model.training
        try:
            self.model.eval()
            with torch.no_grad():
                self.model(**inputs) if isinstance(inputs, dict) else self.model(inputs)
        finally:
            h1.remove()
            h2.remove()
            self.model.train(was_training)
        if "hidden" not in got or "logits" not in got:
            missing = self.hidden if "hidden" not in got else self.unembed
            raise UserError(f"module {missing!r} was not called by the model's forward on the probe inputs")
        return _flat(got["hidden"]), _flat(got["logits"])

    def _context(self, step: int, optimizer: Any, hidden: torch.Tensor, z: torch.Tensor,
                 labels: torch.Tensor | None, needs: set[str]) -> Any:
        from ..probes.base import EvalContext

        params = {n: p.detach()[None] for n, p in self.model.named_parameters()}
        W = self._unembed_mod.weight.detach() if hasattr(self._unembed_mod, "weight") else None
        if W is not None:
            params[self.unembed] = (W.T if isinstance(self._unembed_mod, nn.Linear) else W)[None]
        N = z.shape[1]
        y = labels.reshape(1, -1).to(z.device) if labels is not None else torch.zeros(1, N, dtype=torch.long,
                                                                                       device=z.device)
        if y.shape[1] != N:
            raise UserError(f"labels have {y.shape[1]} entries for {N} probe outputs")
        idx = torch.arange(N, device=z.device)[None]
        group = optimizer.param_groups[0] if optimizer is not None else {}
        as_t = lambda v: None if v is None else torch.tensor([float(v)], dtype=torch.float64)  # noqa: E731
        grad = None
        if "grad" in needs:
            grad = {n: (p.grad.detach()[None] if p.grad is not None else torch.zeros_like(p)[None])
                    for n, p in self.model.named_parameters()}
        hist = {k: self.rec.array(k).copy() for k in self.rec.values} if "history" in needs else {}
        return EvalContext(params=params, groups=self.groups, logits=z.float(), y=y, y_train=y, train_idx=idx,
                           test_idx=idx[:, :0], loss_name="ce", cache={self.hidden: hidden}, x=None, step=int(step),
                           lr=as_t(group.get("lr")), wd=as_t(group.get("weight_decay")), tau=torch.ones(1),
                           roles=self.roles, task={}, grad=grad, history=hist,
                           history_steps=np.array(self.rec.steps, dtype=int))

    def _measure(self, step: int, optimizer: Any, inputs: Any, labels: torch.Tensor | None) -> dict[str, float]:
        due = self.probes.due(self._n_evals)
        if not due:
            return {}
        hidden, z = self._forward(inputs)
        ctx = self._context(step, optimizer, hidden, z, labels, self.probes.needs(due))
        out: dict[str, float] = {}
        for i in due:
            p = self.probes.probes[i]
            if labels is None and p.uses_labels is True:
                raise UserError(f"probe {p.name!r} reads labels: pass labels= to Monitor.step, or choose label-free "
                                "probes")
            try:
                with torch.no_grad():
                    vals = self.probes.instances[i](ctx)
            except UserError:
                raise
            except Exception as e:  # noqa: BLE001 - a probe this model cannot serve: one line
                raise UserError(f"probe {p.name!r} cannot run on {type(self.model).__name__}: {first_line(e, 160)}"
                                ) from None
            for metric, v in vals.items():
                if labels is None and p.reads_labels(metric):
                    continue  # computed from placeholder labels: not a measurement
                self.probes.label_free[metric] = not p.reads_labels(metric)
                out[metric] = float(v.detach().double().reshape(-1)[0])
        return out

    def _alarm(self, metric: str, step: int, value: float) -> None:
        from ..detect.online import OnlineEWS

        if metric.startswith("ews/") or not math.isfinite(value) or not self.probes.label_free.get(metric, False):
            return
        det = self.detectors.get(metric)
        if det is None:
            det = self.detectors[metric] = OnlineEWS(**self.detector_settings)
        det.update(step, value)

    @property
    def alarms(self) -> dict[str, int | None]:
        """Alarm step per watched metric (None: no alarm yet)."""
        return {m: d.alarm for m, d in self.detectors.items()}

    @property
    def overhead_seconds(self) -> float:
        """Wall seconds spent inside ``step`` measuring (probes, alarms, rows)."""
        return self._probe_seconds

    # -- the run store ----------------------------------------------------------------------------------------
    def _flush(self) -> None:
        if self.rec.rows["step"]:
            self.store.write_part(self.rec.n_parts, self.rec.rows)
            self.rec.n_parts += 1
            self.rec.rows = {k: [] for k in self.rec.rows}
        self.rec.last_flush = time.monotonic()
        self.store.update_meta(steps_done=self._last_step or 0)

    def close(self) -> None:
        """Write the remaining rows, compact the metrics, write events.json and mark the run complete."""
        from ..detect.alarms import alarm_events
        from ..detect.online import metric_key

        if self._closed:
            return
        self._flush()
        self.store.compact()
        extra: dict[str, list] = {}
        for metric, det in self.detectors.items():
            extra.update(alarm_events(f"ews_{metric_key(metric)}", [det.alarm]))
        extra.update(self.probes.events())
        events = self.rec.events_json([{"seed": 0}], self.cfg.eval, extra)
        if "test/acc" not in self.rec.values:
            for e in events:  # no accuracy measured: whether it grokked is unknown, not censored
                e["censored"] = None
        self.store.write_json("events.json", events)
        elapsed = time.monotonic() - self._t0
        self.store.update_meta(status="complete", steps_done=self._last_step or 0, train_seconds=round(elapsed, 3),
                               monitor_seconds=round(self._probe_seconds, 3),
                               label_free=dict(sorted(self.probes.label_free.items())),
                               probes={p.name: p.describe() for p in self.probes.probes},
                               detectors={m: d.settings for m, d in self.detectors.items()})
        self._closed = True

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
