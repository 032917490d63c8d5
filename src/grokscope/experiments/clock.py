"""Fourier clock (Nanda et al. 2023): a+b mod 113, where the additive Fourier basis is the sparse one.

The same measurements as ``dlc`` (``grokscope.mech``) on the ``nanda`` preset: the verdicts are the reverse ordering
of the Gini values (additive sparse, character basis dense), the key-frequency count (Nanda: 5) and the progress
measures (restricted loss low, excluded loss high after grokking).
"""

from __future__ import annotations

from .base import Experiment, Stage, experiment
from .claims import ClaimRow
from .dlc import train_spec


@experiment
class FourierClock(Experiment):
    name = "clock"
    claim = "a transformer that groks a+b mod p uses a Fourier clock: sparse in the additive basis"
    paper = "Nanda et al. 2023 (progress measures), config B in peers.md"
    scales = {
        # lr 3e-3 as in dlc's quick scale: grokking well inside the budget, then a short clean-up to 2 x T_grok
        "quick": {"preset": "nanda", "op": "add", "primes": [113], "seeds": [0], "split_seed": 598,
                  "steps": 6_000, "stop_on_grok": 2.0, "eval_every": 100, "checkpoints": 40, "threads": 2,
                  "base": {"optim": {"lr": 3e-3}}},
        "paper": {"preset": "nanda", "op": "add", "primes": [113], "seeds": [0], "split_seed": 598,
                  "steps": 25_000, "stop_on_grok": None, "eval_every": 100, "checkpoints": 60, "threads": 1},
        "tiny": {"preset": "quick", "op": "add", "primes": [43], "seeds": [0], "split_seed": 598, "steps": 3000,
                 "stop_on_grok": 1.3, "eval_every": 50, "checkpoints": 10, "threads": 1,
                 "base": {"task": {"frac": 0.4}}},
    }
    notes = {"quick": ["one run, member seed 0, split seed 598, AdamW lr 3e-3 instead of Nanda's 1e-3 (same wd 1, "
                       "betas and model), stopped at 2 × T_grok instead of 25k steps"],
             "tiny": ["framework check: the quick preset's embed-concat GELU MLP (d_embed 32) at p = 43, one seed"]}
    stages = (Stage("train", train_spec, "nanda preset run, stopped after grokking at quick scale"),)

    def analyse(self, ctx) -> list[ClaimRow]:  # type: ignore[no-untyped-def]
        from ..mech.reproduce import clock_rows

        return clock_rows(ctx)
