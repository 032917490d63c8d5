"""What every task produces: token inputs, labels and a per-member train/test split (numpy, torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry import Registry


@dataclass
class TaskData:
    """All examples of a task and each member's split.

    Shapes: N examples, S sequence positions, M members.
    - ``x``: int64 ``[N, S]`` (shared by all members) or ``[M, N, S]`` (per-member samples).
    - ``y``: int64 ``[N]`` or ``[M, N]``, class labels in ``[0, n_classes)``.
    - regression (``kind``): x float ``[M, N, d]``, y float ``[M, N, n_classes]`` (n_classes = output dimension).
    - ``train_idx`` / ``test_idx``: int64 ``[M, n_train]`` / ``[M, n_test]``, indices into the N examples.
    """

    x: np.ndarray
    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    vocab_size: int
    n_classes: int
    input_positions: tuple[int, ...]  # positions holding the variable operands (what an MLP embeds)
    token_names: dict[int, str]  # special tokens, e.g. {113: "="}
    kind: str = "classification"  # or "regression": x float [M, N, d], y float [M, N, d_out] (tasks/teacher.py)
    info: dict[str, Any] = field(default_factory=dict)  # task structure for probes (e.g. the teacher's modes)

    @property
    def seq_len(self) -> int:
        return int(self.x.shape[-1])


# A task builder: (task config, one split seed per member) -> TaskData.
TASKS: Registry = Registry("task")


def split_indices(n: int, frac: float, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-member random train/test split of n examples: ``[M, floor(frac*n)]`` and the rest."""
    n_train = int(frac * n)
    if n_train < 1 or n_train >= n:
        raise ValueError(f"train fraction {frac} of {n} examples leaves an empty train or test set")
    perms = np.stack([np.random.default_rng(s).permutation(n) for s in seeds])
    return np.sort(perms[:, :n_train], axis=1), np.sort(perms[:, n_train:], axis=1)
