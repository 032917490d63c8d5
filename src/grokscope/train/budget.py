"""Work and memory estimated from a config before anything is allocated (issue 11: ``task.p=2000`` died in an
allocation error leaving the run ``running``; ``members.seeds=1000000`` printed nothing for a minute).

The estimate is deliberately coarse (an upper-bound order of magnitude, float32): per member, the full-dataset
evaluation forward holds ``N × (C + 4·width)`` activations and the parameters come with a gradient and two Adam
moments. ``N`` is the number of examples (p² for a binary operation mod p, (n!)² for S_n, m + n_test for parity),
``C`` the classes, ``width`` the model's widest hidden size. A config whose estimate exceeds the machine's memory
(``MEMORY_FRACTION`` of it) is refused with the estimate in the message; so are more members, evaluation points or
checkpoints than a run can use.
"""

from __future__ import annotations

import math
import os
from typing import Any

from ..errors import UserError

MEMORY_FRACTION = 0.8
MAX_MEMBERS = 4096
MAX_POINTS = 1_000_000
MAX_CHECKPOINTS = 100_000
BYTES = 4


def n_members(cfg: Any) -> int:
    seeds = cfg.members.seeds
    n_seeds = seeds if isinstance(seeds, int) else len(seeds)
    rows = len(next(iter(cfg.members.vary.values()))) if cfg.members.vary else 1
    return n_seeds * rows


def n_examples_classes(task: Any) -> tuple[int, int]:
    if hasattr(task, "p"):
        return task.p ** 2, task.p
    if hasattr(task, "m") and hasattr(task, "n_test"):
        return task.m + task.n_test, 2
    if hasattr(task, "n"):
        k = math.factorial(min(task.n, 12))
        return k * k, k
    return 1, 1


def width(model: Any) -> int:
    sizes = [v for k, v in model.model_dump().items() if isinstance(v, int) and not isinstance(v, bool)
             and (k.startswith("d_") or k == "width")]
    return max(sizes, default=1)


def estimate_bytes(cfg: Any) -> int:
    m, (n, c), w = n_members(cfg), n_examples_classes(cfg.task), width(cfg.model)
    layers = max(getattr(cfg.model, "n_layers", 1), getattr(cfg.model, "depth", 1))
    params = w * (2 * c + 2 * w * layers)
    activations = n * (c + 4 * w)
    return BYTES * m * (4 * params + activations)


def machine_bytes(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB"


def check(cfg: Any, device: str = "cpu") -> None:
    """Refuse what cannot run on this machine, before any allocation (one line, with the estimate)."""
    m = n_members(cfg)
    if m > MAX_MEMBERS:
        raise UserError(f"{m} members: more than the {MAX_MEMBERS} one run trains together (split into a sweep)")
    if cfg.eval.points > MAX_POINTS:
        raise UserError(f"eval.points={cfg.eval.points}: at most {MAX_POINTS} evaluation points")
    if cfg.checkpoint.count > MAX_CHECKPOINTS:
        raise UserError(f"checkpoint.count={cfg.checkpoint.count}: at most {MAX_CHECKPOINTS} checkpoints")
    need, have = estimate_bytes(cfg), machine_bytes(device)
    if need > MEMORY_FRACTION * have:
        raise UserError(f"this config needs about {_gib(need)} of memory ({m} members, "
                        f"{n_examples_classes(cfg.task)[0]} examples, width {width(cfg.model)}); this machine's "
                        f"{device} has {_gib(have)}")
