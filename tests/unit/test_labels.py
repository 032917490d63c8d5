"""Label noise restricted to the task's valid classes (train/labels.py)."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.config import load_config
from grokscope.tasks import TASKS
from grokscope.train.labels import noisy_labels


def _former_noisy_labels(y_train, n_classes, frac, seed):
    """The loop's former draw, kept here to pin bit-identity."""
    y = y_train.copy()
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), size=int(round(frac * len(y))), replace=False)
    y[flip] = (y[flip] + rng.integers(1, n_classes, size=len(flip))) % n_classes
    return y


@pytest.mark.parametrize("frac,seed", [(0.1, 0), (0.3, 5), (0.9, 11)])
def test_noisy_labels_same_draws_for_all_classes(frac, seed):
    y = np.random.default_rng(3).integers(0, 13, size=200)
    got = noisy_labels(y, np.arange(13), frac, seed)
    assert np.array_equal(got, _former_noisy_labels(y, 13, frac, seed))
    assert int((got != y).sum()) == round(frac * len(y))


def test_noisy_labels_zero_excluded_task_never_draws_class_zero():
    cfg = load_config({"task": {"name": "modular", "op": "mul", "p": 11, "exclude_zero": True, "frac": 0.5}})
    data = TASKS.get("modular")(cfg.task, [0])
    classes = np.unique(data.y)
    assert classes.tolist() == list(range(1, 11))  # n_classes is p = 11, but class 0 never occurs
    y = data.y[data.train_idx[0]]
    got = noisy_labels(y, classes, 0.9, 1)
    assert set(got.tolist()) <= set(classes.tolist())
    assert int((got != y).sum()) == round(0.9 * len(y))
    old = _former_noisy_labels(y, data.n_classes, 0.9, 1)
    assert (old == 0).any()  # the former draw did produce the impossible class
    with pytest.raises(ValueError, match="not among"):
        noisy_labels(np.array([0, 1, 2]), np.array([1, 2]), 0.5, 0)
    assert np.array_equal(noisy_labels(y, classes, 0.0, 1), y)
