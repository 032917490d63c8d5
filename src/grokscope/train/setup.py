"""Build a run's pieces from its config: task tensors, model, ``[M]`` hyper-parameters, optimizer, interventions,
seeds and probes. Nothing here trains; ``loop.py`` does, ``recorder.py`` keeps what it measures.

Seeds (DESIGN.md, counterfactual pairing): a member's split seed hashes the task config and its seed; its init
seed hashes the task config, its seed and the model's *parameter specs* (names, shapes, init scales) — not the
whole model config — so an x² and a ReLU network of the same shapes start from the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import RunConfig, member_config, stable_hash
from ..models import MODELS, TaskShape
from ..probes import ProbeSet, load_plugins, resolve
from ..probes.evaluate import EvalData
from ..tasks import TASKS
from ..tasks.base import TaskData
from .interventions import Interventions
from .labels import noisy_labels
from .optim import Optimizer
from .schedule import checkpoint_steps, eval_steps


def member_seed(cfg: RunConfig, seed: int, what: str, model_specs: list | None = None) -> int:
    """Seed of a member's "split", "batch", "noise" or "langevin" stream (task + seed), or "init" (+ model specs)."""
    parts: dict[str, Any] = {"task": cfg.task.model_dump(mode="json"), "seed": seed, "what": what}
    if what == "init":
        parts["model"] = model_specs
    return int(stable_hash(parts)[:8], 16) % (2**31)


def model_specs(model: Any) -> list:
    """What determines a model's parameter shapes and init draw: (name, shape, std, kind, trainable) per tensor."""
    return [[s.name, list(s.shape), s.std, s.kind, s.trainable] for s in model.specs]


@dataclass
class Setup:
    """Everything one run trains with. Shapes: M members, N examples, n train examples, S positions."""

    cfg: RunConfig
    device: torch.device
    dtype: torch.dtype
    table: list[dict[str, Any]]  # member m: its seed and its members.vary values
    members: list[RunConfig]  # the config each member sees
    split_seeds: list[int]
    init_seeds: list[int]
    batch_seeds: list[int]
    data: TaskData
    model: Any  # a MemberModel
    params: dict[str, Tensor]  # trainable parameters, [M, ...]
    opt: Optimizer
    iv: Interventions
    noise_gens: list[torch.Generator]  # one Langevin stream per member (packing never changes a member's noise)
    lr: Tensor  # [M] base learning rates
    wd: Tensor  # [M]
    tau: Tensor  # [M] output temperatures
    eval_data: EvalData
    x_train: Tensor  # int64 [M, n, S] (regression: float [M, n, d])
    grid: np.ndarray  # eval steps
    ckpt_steps: set[int]
    probes: ProbeSet
    task_info: dict[str, Any] = field(default_factory=dict)
    phases: Any = None  # train.phases.Phases when the config has [[phases]]
    rules: Any = None  # train.rules.Rules when it has [[intervene.on_alarm]] rules
    controls: Any = None  # train.actions.Controls (what rule actions set), with rules
    _epoch: tuple[int, Tensor] | None = None

    @property
    def M(self) -> int:
        return len(self.members)

    @property
    def y_train(self) -> Tensor:
        return self.eval_data.y_train

    @property
    def x_all(self) -> Tensor:
        return self.eval_data.x

    @property
    def y_all(self) -> Tensor:
        return self.eval_data.y

    @property
    def train_idx(self) -> Tensor:
        return self.eval_data.train_idx

    @property
    def test_idx(self) -> Tensor:
        return self.eval_data.test_idx

    def batch(self, t: int) -> tuple[Tensor, Tensor]:
        """Inputs ``[M, b, S]`` and labels ``[M, b]`` for update t+1: the full training set, or slice t of per-member
        epoch permutations (member m's order depends on its batch seed only)."""
        B, n = self.cfg.train.batch_size, self.x_train.shape[1]
        if B is None or B >= n:
            return self.x_train, self.y_train
        epoch, k = divmod(t, -(-n // B))
        if self._epoch is None or self._epoch[0] != epoch:
            perms = [torch.randperm(n, generator=torch.Generator().manual_seed(s * 1_000_003 + epoch))
                     for s in self.batch_seeds]
            self._epoch = (epoch, torch.stack(perms).to(self.device))
        idx = self._epoch[1][:, k * B:(k + 1) * B]  # [M, b]
        xb = self.x_train.gather(1, idx[..., None].expand(-1, -1, self.x_train.shape[-1]))
        if self.y_train.dim() == 3:  # regression targets [M, n, d_out]
            return xb, self.y_train.gather(1, idx[..., None].expand(-1, -1, self.y_train.shape[-1]))
        return xb, self.y_train.gather(1, idx)


def build(cfg: RunConfig, device: torch.device) -> Setup:
    """All pieces of a run; every config/model error surfaces here as ValueError/UserError, before any write."""
    load_plugins(cfg.eval.plugins)  # a user's probes register before they are looked up (also in workers)
    resolve(cfg.eval.probes)  # an unknown probe fails here, before any work
    dtype = torch.float64 if cfg.train.dtype == "float64" else torch.float32
    table = cfg.member_table()
    members = [member_config(cfg, row) for row in table]
    seeds = [row["seed"] for row in table]
    split_seeds = [member_seed(mc, s, "split") for mc, s in zip(members, seeds)]
    data = TASKS.get(cfg.task.name)(cfg.task, split_seeds)
    regression = data.kind == "regression"
    if regression:
        check_regression(cfg, members)
    shape = TaskShape(data.vocab_size, data.n_classes, data.seq_len, data.input_positions,
                      input_dim=int(data.x.shape[-1]) if regression else None)
    M = len(members)
    model = MODELS.get(cfg.model.name)(cfg.model, shape, M, dtype).to(device)
    specs = model_specs(model)
    init_seeds = [member_seed(mc, s, "init", specs) for mc, s in zip(members, seeds)]
    model.init_members(init_seeds, [mc.intervene.init_scale for mc in members])
    # probes the model cannot serve: one warning each
    probes = ProbeSet(resolve(cfg.eval.probes, model.roles), cfg.eval.probe_options)
    params = model.trainable()

    x = torch.as_tensor(data.x, device=device)
    x = x.to(dtype) if regression else x
    x_all = x if x.dim() == 3 else x[None]  # [M|1, N, S] (regression: [M, N, d] float)
    train_idx = torch.as_tensor(data.train_idx, device=device)
    if regression:  # real targets [M, N, d_out]; label noise is the task's own (task.noise)
        y_all = torch.as_tensor(data.y, device=device).to(dtype)
        y_train = y_all.gather(1, train_idx[..., None].expand(-1, -1, y_all.shape[-1]))  # [M, n, d_out]
    else:
        y = torch.as_tensor(data.y, device=device)
        y_all = (y if y.dim() == 2 else y[None]).expand(M, -1).contiguous()  # [M, N]
        classes = np.unique(data.y)  # label noise draws wrong labels among the task's classes (never 0 if excluded)
        y_clean = y_all.gather(1, train_idx).cpu().numpy()
        y_train = torch.as_tensor(np.stack([
            noisy_labels(y_clean[m], classes, mc.intervene.label_noise, member_seed(mc, seeds[m], "noise"))
            for m, mc in enumerate(members)]), device=device)  # [M, n]
    if hasattr(model, "verify_inputs"):
        model.verify_inputs(x_all)  # once per run, not once per forward (a host sync on a GPU)
    xa = x_all.expand(M, -1, -1)
    x_train = xa.gather(1, train_idx[..., None].expand(-1, -1, xa.shape[-1]))  # [M, n, S]

    def vec(values: list[float]) -> Tensor:
        return torch.tensor(values, dtype=dtype, device=device)

    tau = vec([mc.loss.tau for mc in members])
    eval_data = EvalData(x_all, y_all, y_train, train_idx, torch.as_tensor(data.test_idx, device=device),
                         cfg.loss.name, tau)
    grid = eval_steps(cfg.eval, cfg.train.steps)
    iv = Interventions(cfg, members, params, model.groups, device)
    if any(mc.intervene.reinit_heads or mc.intervene.clip_norm for mc in members):
        from .surgery import ScheduledSurgery

        iv.surgery = ScheduledSurgery(members, [member_seed(mc, s, "reinit") for mc, s in zip(members, seeds)],
                                      {sp.name: sp.std for sp in model.specs}, getattr(model.cfg, "n_heads", None),
                                      [mc.intervene.init_scale for mc in members], iv.weights)
    s = Setup(
        cfg=cfg, device=device, dtype=dtype, table=table, members=members, split_seeds=split_seeds,
        init_seeds=init_seeds, batch_seeds=[member_seed(mc, s, "batch") for mc, s in zip(members, seeds)],
        data=data, model=model, params=params,
        opt=Optimizer(cfg.optim, params, decay_set(cfg.optim.decay, model) & set(params)),
        iv=iv,
        noise_gens=[torch.Generator(device=device).manual_seed(member_seed(mc, s, "langevin"))
                    for mc, s in zip(members, seeds)],
        lr=vec([mc.optim.lr for mc in members]), wd=vec([mc.optim.wd for mc in members]), tau=tau,
        eval_data=eval_data, x_train=x_train, grid=grid, ckpt_steps=checkpoint_steps(cfg.checkpoint, grid),
        probes=probes, task_info=task_info(cfg, data),
    )
    if cfg.phases or cfg.intervene.on_alarm:
        attach_control(s)
    return s


def attach_control(s: Setup) -> None:
    """Phases, closed-loop rules and the controls their actions set (only for configs that use them)."""
    from .actions import Controls
    from .phases import Phases
    from .rules import Rules

    s.phases = Phases(s.cfg, s) if s.cfg.phases else None
    if s.cfg.intervene.on_alarm:
        s.controls = Controls(s.M, s.model.groups, s.device)
        s.rules = Rules(s.cfg.intervene.on_alarm, s.M, s.model.groups, s.phases.names if s.phases else None,
                        minibatch=s.cfg.train.batch_size is not None)


def check_regression(cfg: RunConfig, members: list[RunConfig]) -> None:
    """A regression task (real inputs and targets) trains a real-input model with MSE; class label noise has no
    meaning there (the task's own ``noise`` is its label noise)."""
    if cfg.model.name != "deeplinear":
        raise ValueError(f"task {cfg.task.name!r} has real-valued inputs: use model.name=deeplinear "
                         f"(got {cfg.model.name!r})")
    if cfg.loss.name != "mse":
        raise ValueError(f"task {cfg.task.name!r} is a regression: use loss.name=mse (got {cfg.loss.name!r})")
    if any(mc.intervene.label_noise > 0 for mc in members):
        raise ValueError(f"intervene.label_noise flips class labels; task {cfg.task.name!r} is a regression: "
                         "use task.noise (Gaussian label noise) instead")


def decay_set(decay: str | list[str], model: Any) -> set[str]:
    """Names that decoupled decay applies to: weight matrices, every trainable parameter, or named groups."""
    if decay == "weights":
        return set(model.weight_names)
    if decay == "all":
        return set(model.trainable())
    unknown = sorted(set(decay) - set(model.groups))
    if unknown:
        raise ValueError(f"optim.decay: unknown group {unknown[0]!r} (model groups: {sorted(model.groups)})")
    return {n for g in decay for n in model.groups[g]}


def task_info(cfg: RunConfig, data: TaskData) -> dict[str, Any]:
    """The task's structure for probes that need it (Fourier/character probes): its config fields, the token roles
    (operand positions, special tokens), vocabulary and classes."""
    return {**cfg.task.model_dump(mode="json"), "input_positions": list(data.input_positions),
            "token_names": dict(data.token_names), "vocab_size": data.vocab_size, "n_classes": data.n_classes,
            "seq_len": data.seq_len, "kind": data.kind, **data.info}
