"""Label noise: a fraction of the training labels replaced by a uniformly random *wrong* class of the task."""

from __future__ import annotations

import numpy as np


def noisy_labels(y_train: np.ndarray, classes: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """``y_train`` int [n] with round(frac·n) entries moved to another class drawn uniformly from ``classes``.

    ``classes``: the task's valid labels (e.g. 1..p-1 for zero-excluded multiplication, where class 0 never
    occurs); sorted and deduplicated here. A flipped label at class index i moves to index (i + k) mod K with
    k ~ U{1..K-1}: always wrong, uniform over the other K-1 classes. With classes = arange(n_classes) this is
    the same draw, label for label, as the loop's former ``_noisy_labels`` (existing runs keep their labels).
    """
    y = np.asarray(y_train).copy()
    if frac <= 0:
        return y
    classes = np.unique(np.asarray(classes))
    K = len(classes)
    if K < 2:
        raise ValueError(f"label noise needs at least 2 classes, the task has {K}")
    pos = np.searchsorted(classes, y)
    if np.any(pos >= K) or np.any(classes[np.minimum(pos, K - 1)] != y):
        raise ValueError("label noise: a training label is not among the task's classes")
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), size=int(round(frac * len(y))), replace=False)
    y[flip] = classes[(pos[flip] + rng.integers(1, K, size=len(flip))) % K]
    return y
