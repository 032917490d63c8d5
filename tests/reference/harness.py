"""The one adapter between the reference tests and the trainer's internals.

Every test under ``tests/reference`` (and the mutation check's targets) reaches the training loop only through
the small functions below. When the loop is reorganised (setup / loop / recorder / evaluate), only this file is
rewritten; the tests and their expectations stay as they are.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from grokscope.config import RunConfig, load_config
from grokscope.probes import PROBES, EvalContext


def config(data: dict, overrides: list[str] | None = None) -> RunConfig:
    """A validated RunConfig from a plain dict (and ``key=value`` overrides)."""
    return load_config(data, overrides)


def build(cfg: RunConfig | dict) -> Any:
    """Everything a run needs (task, model, optimizer, interventions), built on the CPU, nothing trained yet."""
    from grokscope.train.setup import build as build_setup

    cfg = cfg if isinstance(cfg, RunConfig) else config(cfg)
    return build_setup(cfg, torch.device("cpu"))


def params(obj: Any) -> dict[str, Tensor]:
    """Trainable parameters by name, each ``[M, ...]`` (detached copies)."""
    return {n: p.detach().clone() for n, p in obj.model.trainable().items()}


def data(obj: Any) -> dict[str, Tensor]:
    """Inputs ``x [M|1, N, S]``, clean labels ``y [M, N]``, split indices ``train_idx``/``test_idx [M, n]`` and the
    (possibly noisy) training labels ``y_train [M, n_train]``."""
    return {"x": obj.x_all, "y": obj.y_all, "train_idx": obj.train_idx, "test_idx": obj.test_idx,
            "y_train": obj.y_train}


def batch_indices(obj: Any, t: int) -> Tensor:
    """Positions into the training split ``[M, b]`` of the minibatch used by update t+1."""
    xb, yb = obj.batch(t)
    x_train = obj.x_train  # [M, n_train, S]
    # recover the indices by matching rows: each training example is a distinct input
    eq = (xb[:, :, None, :] == x_train[:, None, :, :]).all(-1)  # [M, b, n_train]
    assert bool((eq.sum(-1) == 1).all()), "every batch row must be exactly one training example"
    return eq.int().argmax(-1)


def batch(obj: Any, t: int) -> tuple[Tensor, Tensor]:
    """Inputs ``[M, b, S]`` and labels ``[M, b]`` of the minibatch used by update t+1."""
    return obj.batch(t)


def one_update(obj: Any, t: int) -> None:
    """Apply update t+1 (t updates are done): loss, gradient filters, optimizer step, interventions."""
    from grokscope.train.loop import update

    update(obj, t)


def evaluate(obj: Any) -> dict[str, list[float]]:
    """One evaluation pass: metric name -> one value per member."""
    from grokscope.probes.evaluate import evaluate as run_eval

    return run_eval(obj.model, obj.eval_data, obj.probes, groups=obj.model.groups)


def groups(obj: Any) -> dict[str, list[str]]:
    """Weight groups of the model: group name -> parameter names."""
    return dict(obj.model.groups)


def weight_names(obj: Any) -> list[str]:
    return list(obj.model.weight_names)


def eval_grid(cfg: RunConfig) -> list[int]:
    from grokscope.train.schedule import eval_steps

    return [int(s) for s in eval_steps(cfg.eval, cfg.train.steps)]


def checkpoint_grid(cfg: RunConfig) -> set[int]:
    from grokscope.train.schedule import checkpoint_steps, eval_steps

    return {int(s) for s in checkpoint_steps(cfg.checkpoint, eval_steps(cfg.eval, cfg.train.steps))}


def lr_at(base_lr: Tensor, step: int, warmup_steps: int) -> Tensor:
    """The learning rate of update ``step + 1`` under linear warm-up."""
    from grokscope.train.optim import lr_at as f

    return f(base_lr, step, warmup_steps)


# -- probes -------------------------------------------------------------------------------------------------------
def probe_context(logits: Tensor, y: Tensor, y_train: Tensor, train_idx: Tensor, test_idx: Tensor,
                  loss_name: str = "ce", params_: dict[str, Tensor] | None = None,
                  groups_: dict[str, list[str]] | None = None) -> Any:
    """An evaluation context from hand-built tensors (``logits`` are already divided by τ)."""
    return EvalContext(params_ or {}, groups_ or {}, logits, y, y_train, train_idx, test_idx, loss_name)


def run_probe(name: str, ctx: Any) -> dict[str, list[float]]:
    """A registered probe on a context: metric name -> one float per member."""
    return {k: v.double().tolist() for k, v in PROBES.get(name).make()(ctx).items()}


def input_positions(obj: Any) -> tuple[int, ...]:
    """Token positions holding the operands (what the ``mlp`` model embeds)."""
    return tuple(obj.data.input_positions)
