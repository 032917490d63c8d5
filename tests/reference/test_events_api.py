"""Event behaviours through the public API: the held-test-loss rule defines T_grok, and ``train.stop_on_grok`` ends
a run early. The tiny task never reaches 90% test accuracy in its budget, but its test loss falls steadily after the
memorisation peak, so the loss rule gives a T_grok the accuracy rule does not."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

import grokscope as gs

STEPS = 400
RULE = {"below": 4.0, "k": 5}  # test loss < 4 for 5 consecutive evals (the memorisation peak is ~6.5 at step 30)
CFG = {"name": "ev", "task": {"name": "modular", "op": "add", "p": 13, "frac": 0.7},
       "model": {"name": "mlp", "d_embed": 16, "d_hidden": 32, "act": "gelu"},
       "optim": {"lr": 3e-2, "wd": 2.0}, "train": {"steps": STEPS},
       "eval": {"grid": "linear", "every": 10, "loss_rule": RULE}, "checkpoint": {"count": 0},
       "members": {"seeds": 2}}
FACTOR = 1.2


def streak_start(steps: np.ndarray, values: np.ndarray, below: float, k: int) -> int | None:
    for i in range(len(values) - k + 1):
        if all(v < below for v in values[i:i + k]):
            return int(steps[i])
    return None


def curves(run) -> dict[int, dict[str, np.ndarray]]:
    df = run.metrics(wide=True)
    return {m: {c: d[c].to_numpy() for c in ("step", "test/loss", "test/acc")}
            for m, d in ((m, df[df.member == m].sort_values("step")) for m in sorted(df.member.unique()))}


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory):
    return gs.run(CFG, out=tmp_path_factory.mktemp("full"), threads=1)


def test_loss_rule_sets_t_grok_from_the_held_test_loss(full) -> None:
    c = curves(full)
    for e in full.events:
        m = c[e["member"]]
        want = streak_start(m["step"], m["test/loss"], RULE["below"], RULE["k"])
        assert want is not None and want > 10 * RULE["k"], f"the fixture needs a late streak: {want}"
        assert float(m["test/acc"].max()) < 0.9, "the accuracy rule would give a T_grok too"
        assert e["t_grok"] == want and not e["censored"]
        assert e["delay"] == want - e["t_mem"]


def test_events_recomputed_from_metrics_use_the_loss_rule_too(full) -> None:
    from grokscope.api import events_from_metrics

    assert events_from_metrics(full) == [{k: v for k, v in e.items() if k not in ("final", "at_grok")}
                                         for e in full.events]


def test_without_the_loss_rule_the_same_curves_are_censored(full, tmp_path: Path) -> None:
    cfg = copy.deepcopy(CFG)
    cfg["eval"]["loss_rule"] = None
    cfg["train"]["steps"] = 60
    run = gs.run(cfg, out=tmp_path, threads=1)
    assert all(e["censored"] and e["t_grok"] is None for e in run.events)


def test_stop_on_grok_stops_each_member_at_factor_times_its_own_t_grok(full, tmp_path: Path) -> None:
    cfg = copy.deepcopy(CFG)
    cfg["train"]["stop_on_grok"] = FACTOR
    run = gs.run(cfg, out=tmp_path, threads=1)
    # the first eval step at or past FACTOR x the member's own T_grok (a packed member never waits for another),
    # and not before T_grok is known: the loss rule's streak of k evals starting at T_grok must be complete
    known = {e["member"]: e["t_grok"] + 10 * (RULE["k"] - 1) for e in full.events}
    want = {e["member"]: max(10 * math.ceil(FACTOR * e["t_grok"] / 10), known[e["member"]]) for e in full.events}
    assert max(want.values()) < STEPS
    assert run.meta["steps_done"] == max(want.values())
    assert {e["member"]: e["budget"] for e in run.events} == want
    got, ref = run.metrics(), full.metrics()
    key = ["step", "member", "metric"]
    for m, stop in want.items():
        a = got[got.member == m].sort_values(key).reset_index(drop=True)
        b = ref[(ref.member == m) & (ref.step <= stop)].sort_values(key).reset_index(drop=True)
        assert a.equals(b), "a stopped member's metrics are the full run's, cut at its stop"
