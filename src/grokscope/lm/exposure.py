"""Exposure: how often each pair's critical phrase occurred in the tokens a checkpoint had consumed (papers/02 §6).

``ExposureIndex(tokens)`` lists, for a phrase of token ids, every start position in the stream (positions of its
first token, kept per token id, then checked on the following tokens); ``count(phrase, upto)`` counts occurrences
that end at or before stream position ``upto``. Training may read a prefix of the stream many times
(``train_tokens``): ``exposure(phrase, consumed, n_train)`` counts full passes plus the partial one. Occurrences
are counted on the stream, not per training window (a phrase cut by a window boundary still counts; windows hold
32 tokens and phrases under 10, so this is rare).

Proxy split (reconstructed, papers/02 §6): a pair is *proxy-train* when its good critical phrase occurred at least
``threshold`` times in the tokens consumed by the split step (the last checkpoint by default: a fixed split), else
*proxy-val*. The delay per phenomenon: t_fit = first checkpoint from which proxy-train accuracy stays >= θ, t_gen
the same for proxy-val, delay = t_gen − t_fit; a split that never reaches θ is censored at the last checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ExposureIndex:
    def __init__(self, tokens: np.ndarray) -> None:
        self.tokens = np.asarray(tokens)
        order = np.argsort(self.tokens, kind="stable")
        counts = np.bincount(self.tokens, minlength=int(self.tokens.max(initial=0)) + 1)
        self._order, self._bounds = order, np.concatenate([[0], np.cumsum(counts)])

    def positions(self, phrase: tuple[int, ...] | list[int]) -> np.ndarray:
        """Sorted start positions of ``phrase`` in the stream."""
        if not len(phrase) or phrase[0] >= len(self._bounds) - 1:
            return np.zeros(0, dtype=np.int64)
        cand = self._order[self._bounds[phrase[0]]:self._bounds[phrase[0] + 1]]
        cand = cand[cand + len(phrase) <= self.tokens.size]
        for k, t in enumerate(phrase[1:], 1):
            cand = cand[self.tokens[cand + k] == t]
        return np.sort(cand)

    def count(self, phrase: tuple[int, ...] | list[int], upto: int) -> int:
        """Occurrences ending at or before stream position ``upto`` (exclusive end)."""
        pos = self.positions(phrase)
        return int(np.searchsorted(pos + len(phrase), upto, side="right"))

    def exposure(self, phrase: tuple[int, ...] | list[int], consumed: int, n_train: int) -> int:
        """Occurrences read by a run that consumed ``consumed`` positions of a stream prefix of ``n_train``
        (wrapping: full passes count every occurrence in the prefix again)."""
        passes, rest = divmod(consumed, n_train)
        return passes * self.count(phrase, n_train) + self.count(phrase, rest)


@dataclass
class Delay:
    phenomenon: str
    t_fit: int | None  # first checkpoint with proxy-train accuracy >= theta
    t_gen: int | None  # first checkpoint with proxy-val accuracy >= theta
    budget: int
    n_train: int
    n_val: int

    @property
    def delay(self) -> int | None:
        return None if self.t_fit is None or self.t_gen is None else self.t_gen - self.t_fit

    @property
    def delayed(self) -> bool:
        """Both splits reached θ, proxy-val strictly later (a proxy-val that never does is censored, not delayed)."""
        return self.t_fit is not None and self.t_gen is not None and self.t_gen > self.t_fit

    def to_json(self) -> dict:
        return {"phenomenon": self.phenomenon, "t_fit": self.t_fit, "t_gen": self.t_gen, "delay": self.delay,
                "delayed": self.delayed, "censored": self.t_gen is None, "budget": self.budget,
                "n_proxy_train": self.n_train, "n_proxy_val": self.n_val}


def first_at_least(steps: list[int], acc: list[float], theta: float) -> int | None:
    """First checkpoint from which accuracy stays >= θ at every later checkpoint (a sustained crossing: a chance
    excursion of a small split above θ early in training does not count)."""
    t = None
    for s, a in zip(steps, acc):
        ok = a == a and a >= theta
        t = (t if t is not None else s) if ok else None
    return t


def delay(phenomenon: str, steps: list[int], acc_train: list[float], acc_val: list[float], theta: float,
          n_train: int, n_val: int) -> Delay:
    return Delay(phenomenon, first_at_least(steps, acc_train, theta), first_at_least(steps, acc_val, theta),
                 steps[-1] if steps else 0, n_train, n_val)
