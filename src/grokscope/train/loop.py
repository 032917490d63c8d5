"""The training loop: one readable loop over member-batched parameters.

    for each step t = 0, 1, ..., steps:
        if t is on the eval grid: one no-grad forward over all examples -> probes -> metric rows -> events
        flush (metrics chunk, then resume state) every few seconds and at checkpoint steps
        update t+1: forward on the (mini)batch, loss summed over members, gradient filters, optimizer,
                    interventions
Resume restores the state written at a flush and continues; the metrics equal an uninterrupted run's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ..config import RunConfig, member_config, seed_for
from ..detect.events import MemberEvents, member_events
from ..models import MODELS, TaskShape
from ..probes import PROBES, EvalContext
from ..store import checkpoint
from ..store.run_dir import RunDir
from ..tasks import TASKS
from .interventions import Interventions
from .losses import per_example
from .optim import Optimizer, lr_at
from .schedule import checkpoint_steps, eval_steps

EVAL_CHUNK = 1024  # examples per no-grad forward pass at evaluation
OnEval = Callable[[int, dict[str, list[float]]], None]


def _noisy_labels(y_train: np.ndarray, n_classes: int, frac: float, seed: int) -> np.ndarray:
    """Replace a fraction of training labels by a uniformly random *wrong* class."""
    y = y_train.copy()
    if frac <= 0:
        return y
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), size=int(round(frac * len(y))), replace=False)
    y[flip] = (y[flip] + rng.integers(1, n_classes, size=len(flip))) % n_classes
    return y


class Trainer:
    """Builds task, model, optimizer and interventions for a config; ``run`` trains it."""

    def __init__(self, cfg: RunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.dtype = torch.float64 if cfg.train.dtype == "float64" else torch.float32
        self.table = cfg.member_table()
        self.members = [member_config(cfg, row) for row in self.table]
        seeds = [row["seed"] for row in self.table]
        self.split_seeds = [seed_for(mc, s, "split") for mc, s in zip(self.members, seeds)]
        self.init_seeds = [seed_for(mc, s, "init") for mc, s in zip(self.members, seeds)]
        M = self.M = len(self.members)

        data = TASKS.get(cfg.task.name)(cfg.task, self.split_seeds)
        self.data = data
        shape = TaskShape(data.vocab_size, data.n_classes, data.seq_len, data.input_positions)
        self.model = MODELS.get(cfg.model.name)(cfg.model, shape, M, self.dtype).to(device)
        self.model.init_members(self.init_seeds, [mc.intervene.init_scale for mc in self.members])
        self.params = self.model.trainable()

        dev = dict(device=device)
        x = torch.as_tensor(data.x, **dev)
        self.x_all = x if x.dim() == 3 else x[None]  # [M|1, N, S]
        y = torch.as_tensor(data.y, **dev)
        self.y_all = (y if y.dim() == 2 else y[None]).expand(M, -1).contiguous()  # [M, N]
        self.train_idx = torch.as_tensor(data.train_idx, **dev)
        self.test_idx = torch.as_tensor(data.test_idx, **dev)
        y_train = self.y_all.gather(1, self.train_idx).cpu().numpy()
        y_train = np.stack([_noisy_labels(y_train[m], data.n_classes, mc.intervene.label_noise,
                                          seed_for(mc, seeds[m], "noise")) for m, mc in enumerate(self.members)])
        self.y_train = torch.as_tensor(y_train, **dev)  # [M, n_train]
        xa = self.x_all.expand(M, -1, -1)
        self.x_train = xa.gather(1, self.train_idx[..., None].expand(-1, -1, xa.shape[-1]))  # [M, n_train, S]
        self.batch_seeds = [seed_for(mc, s, "batch") for mc, s in zip(self.members, seeds)]
        self._epoch_cache: tuple[int, torch.Tensor] | None = None

        def vec(values: list[float]) -> torch.Tensor:
            return torch.tensor(values, dtype=self.dtype, device=device)

        self.lr = vec([mc.optim.lr for mc in self.members])
        self.wd = vec([mc.optim.wd for mc in self.members])
        self.tau = vec([mc.loss.tau for mc in self.members])
        decay = self._decay_set(cfg.optim.decay)
        self.opt = Optimizer(cfg.optim, self.params, decay & set(self.params))
        self.iv = Interventions(cfg, self.members, self.params, self.model.groups, device)
        # one noise stream per member, so a member's Langevin noise does not depend on how it was packed
        self.noise_gens = [torch.Generator(device=device).manual_seed(seed_for(mc, s, "langevin"))
                           for mc, s in zip(self.members, seeds)]
        self.grid = eval_steps(cfg.eval, cfg.train.steps)
        self.ckpt_steps = checkpoint_steps(cfg.checkpoint, self.grid)
        self.probes = [PROBES.get(name) for name in cfg.eval.probes]
        self.history: dict[str, list[list[float]]] = {}  # metric -> [eval][member]
        self.history_steps: list[int] = []

    def _decay_set(self, decay: str | list[str]) -> set[str]:
        if decay == "weights":
            return set(self.model.weight_names)
        if decay == "all":
            return set(self.params)
        groups = self.model.groups
        unknown = sorted(set(decay) - set(groups))
        if unknown:
            raise ValueError(f"optim.decay: unknown group {unknown[0]!r} (model groups: {sorted(groups)})")
        return {n for g in decay for n in groups[g]}

    # -- one update -----------------------------------------------------------------------------------------
    def batch(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Training inputs/labels for update t+1: the full set, or slice t of per-member epoch permutations."""
        B = self.cfg.train.batch_size
        n = self.x_train.shape[1]
        if B is None or B >= n:
            return self.x_train, self.y_train
        per_epoch = -(-n // B)
        epoch, k = divmod(t, per_epoch)
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            perms = [torch.randperm(n, generator=torch.Generator().manual_seed(s * 1_000_003 + epoch))
                     for s in self.batch_seeds]
            self._epoch_cache = (epoch, torch.stack(perms).to(self.device))
        idx = self._epoch_cache[1][:, k * B:(k + 1) * B]  # [M, b]
        xb = self.x_train.gather(1, idx[..., None].expand(-1, -1, self.x_train.shape[-1]))
        return xb, self.y_train.gather(1, idx)

    def train_step(self, t: int) -> None:
        """Update number t+1 (t updates are done)."""
        xb, yb = self.batch(t)
        z = self.model(xb) / self.tau[:, None, None]  # [M, B, C]
        loss = per_example(self.cfg.loss.name, z, yb).mean(1).sum()  # members are independent: sum
        names = list(self.params)
        grads = dict(zip(names, torch.autograd.grad(loss, [self.params[n] for n in names])))
        lr = lr_at(self.lr, t, self.cfg.optim.warmup_steps)
        self.opt.step(self.params, grads, lr, self.wd * self.iv.wd_mask(t).to(self.dtype))
        self.iv.after_step(t + 1, lr, self.noise_gens)

    # -- evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, list[float]]:
        want_cache = any(p.needs_cache for p in self.probes)
        # chunks of EVAL_CHUNK examples keep activations in cache (about 2x faster than one pass over all N)
        logits, caches = [], []
        for x in self.x_all.split(EVAL_CHUNK, dim=1):
            cache: dict | None = {} if want_cache else None
            logits.append(self.model(x, cache))
            caches.append(cache)
        z = torch.cat(logits, 1) / self.tau[:, None, None]  # [M, N, C]
        cache = {k: torch.cat([c[k] for c in caches], 1) for k in caches[0]} if want_cache else None
        ctx = EvalContext(dict(self.model.P), self.model.groups, z, self.y_all, self.y_train, self.train_idx,
                          self.test_idx, self.cfg.loss.name, cache or {}, self.x_all)
        values: dict[str, list[float]] = {}
        for p in self.probes:
            for name, v in p.fn(ctx).items():
                values[name] = v.double().cpu().tolist()
        return values

    def record(self, t: int, values: dict[str, list[float]]) -> None:
        self.history_steps.append(t)
        for name, v in values.items():
            self.history.setdefault(name, []).append(v)
        if "train/acc" in values:
            self.iv.on_eval(t, torch.tensor(values["train/acc"]), self.cfg.eval.mem_threshold)

    def events(self) -> list[MemberEvents]:
        e, steps = self.cfg.eval, np.array(self.history_steps)
        h = {k: np.array(v) for k, v in self.history.items()}
        rule = (e.loss_rule.below, e.loss_rule.k) if e.loss_rule else None
        nan = np.full((len(steps), self.M), np.nan)
        return [member_events(m, row["seed"], steps, h.get("train/acc", nan)[:, m], h.get("test/acc", nan)[:, m],
                              h.get("test/loss", nan)[:, m], e.mem_threshold, e.grok_threshold, rule)
                for m, row in enumerate(self.table)]

    def should_stop(self) -> bool:
        factor = self.cfg.train.stop_on_grok
        if factor is None or not self.history_steps:
            return False
        ev = self.events()
        if any(x.t_grok is None for x in ev):
            return False
        return self.history_steps[-1] >= factor * max(x.t_grok for x in ev)  # type: ignore[type-var]

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self, t: int, n_parts: int) -> dict:
        return {"step": t, "n_parts": n_parts, "params": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "opt": self.opt.state_dict(), "iv": self.iv.state_dict(), "noise_rng": [g.get_state() for g in self.noise_gens]}

    def load_state_dict(self, sd: dict) -> int:
        self.model.load_state_dict(sd["params"])
        self.opt.load_state_dict(sd["opt"])
        self.iv.load_state_dict(sd["iv"])
        for g, state in zip(self.noise_gens, sd["noise_rng"]):
            g.set_state(state)
        return int(sd["step"])

    # -- the loop -----------------------------------------------------------------------------------------------
    def run(self, store: RunDir | None = None, on_eval: OnEval | None = None, start_step: int = 0,
            n_parts: int = 0) -> int:
        """Train from ``start_step`` (evals up to it already recorded) to the budget; returns the last step."""
        grid, steps = set(int(s) for s in self.grid), self.cfg.train.steps
        rows: dict[str, list] = {"step": [], "member": [], "metric": [], "value": []}
        last_flush = time.monotonic()
        t = start_step
        while True:
            if t in grid and (not self.history_steps or self.history_steps[-1] < t):
                values = self.evaluate()
                self.record(t, values)
                for name, v in values.items():
                    rows["step"] += [t] * self.M
                    rows["member"] += list(range(self.M))
                    rows["metric"] += [name] * self.M
                    rows["value"] += v
                if on_eval:
                    on_eval(t, values)
                done = t >= steps or self.should_stop()
                if store is not None and (done or t in self.ckpt_steps
                                          or time.monotonic() - last_flush > self.cfg.checkpoint.flush_seconds):
                    n_parts = self._flush(store, t, rows, n_parts, ckpt=done or t in self.ckpt_steps)
                    rows = {k: [] for k in rows}
                    last_flush = time.monotonic()
            elif t in grid:
                done = t >= steps or self.should_stop()  # resumed exactly at the end
            else:
                done = False
            if done:
                return t
            self.train_step(t)
            t += 1

    def _flush(self, store: RunDir, t: int, rows: dict[str, list], n_parts: int, ckpt: bool) -> int:
        """Metrics chunk first, then the resume state that counts it: a kill between the two loses nothing."""
        state = self.state_dict(t, n_parts + 1)
        if ckpt:
            checkpoint.save(checkpoint.ckpt_path(store.ckpt_dir, t), {"step": t, "params": state["params"]})
        store.write_part(n_parts, rows)
        checkpoint.save(store.path / "state.pt", state)
        store.update_meta(steps_done=t)
        return n_parts + 1
