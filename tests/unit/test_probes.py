"""Probe API v2: a probe declares its hooks, needs, label use, cadence and state; only that is computed."""

from __future__ import annotations

import math

import numpy as np
import torch

from grokscope.api import run
from grokscope.probes import PROBES, EvalContext, probe

SEEN: dict[str, list] = {"keys": [], "grad": []}


@probe("test_mlp_activity", hooks=["blocks.0.mlp.hook_post"], cost="forward", uses_labels=False)
def _mlp_activity(ctx: EvalContext) -> dict[str, torch.Tensor]:
    """Mean MLP activation over all examples and positions, per member (reads one hook)."""
    SEEN["keys"].append(sorted(ctx.cache))
    return {"test/mlp_activity": ctx.cache["blocks.0.mlp.hook_post"].double().flatten(1).mean(1)}


@probe("test_grad_norm", needs=["grad"], every=2, uses_labels=True, cost="heavy")
def _grad_norm(ctx: EvalContext) -> dict[str, torch.Tensor]:
    assert ctx.grad is not None
    SEEN["grad"].append(ctx.step)
    return {"grad/norm": torch.stack([g.double().flatten(1).pow(2).sum(1) for g in ctx.grad.values()]).sum(0).sqrt()}


@probe("test_update_count", uses_labels=False)
class _UpdateCount:
    """Stateful: counts updates seen by its step hook and sums |delta|; an event: first step with >= 3 updates."""

    def __init__(self) -> None:
        self.n = 0
        self.total = None
        self.first3: list | None = None

    def after_step(self, t, params, grads, delta) -> None:
        self.n += 1
        d = torch.stack([v.double().abs().flatten(1).sum(1) for v in delta.values()]).sum(0)
        self.total = d if self.total is None else self.total + d
        if self.first3 is None and self.n >= 3:
            self.first3 = [t] * len(d)

    def __call__(self, ctx: EvalContext) -> dict[str, torch.Tensor]:
        M = ctx.logits.shape[0]
        total = self.total if self.total is not None else torch.zeros(M, dtype=torch.float64)
        return {"upd/count": torch.full((M,), float(self.n), dtype=torch.float64), "upd/abs_sum": total}

    def events(self) -> dict[str, list]:
        return {"upd/first3": self.first3 or [None] * 2}

    def state_dict(self) -> dict:
        return {"n": self.n, "total": self.total, "first3": self.first3}

    def load_state_dict(self, sd: dict) -> None:
        self.n, self.total, self.first3 = sd["n"], sd["total"], sd["first3"]


@probe("test_history", needs=["history", "task"], uses_labels=False)
def _history(ctx: EvalContext) -> dict[str, torch.Tensor]:
    """How many earlier evaluations of train/acc the probe sees, and whether it saw the step grid and the task."""
    M = ctx.logits.shape[0]
    past = ctx.history.get("train/acc", np.zeros((0, M)))
    assert ctx.history_steps is not None and len(ctx.history_steps) == len(past)
    assert ctx.task["p"] == 37 and ctx.task["input_positions"] == [0, 1]
    return {"hist/n_evals": torch.full((M,), float(len(past)), dtype=torch.float64),
            "hist/last_acc": torch.as_tensor(past[-1] if len(past) else np.full(M, -1.0), dtype=torch.float64)}


CFG = {"name": "probe", "task": {"name": "modular", "op": "add", "p": 37, "frac": 0.5},  # 1,369 > one eval chunk
       "model": {"name": "transformer", "n_layers": 1, "d_model": 16, "n_heads": 2, "d_mlp": 24},
       "train": {"steps": 6, "dtype": "float64"}, "eval": {"points": 7, "grid": "linear", "every": 1,
                                                           "probes": ["accuracy", "test_mlp_activity"]},
       "members": {"seeds": 2}, "checkpoint": {"count": 2}}


def with_probes(*names: str) -> dict:
    cfg = {**CFG, "eval": {**CFG["eval"], "probes": ["accuracy", *names]}}
    return cfg


def test_hook_probe_reads_only_its_hook_over_the_shared_pass(tmp_path):
    SEEN["keys"].clear()
    r = run(CFG, out=tmp_path, threads=1, device="cpu")
    df = r.metrics(wide=True)
    assert {"test/mlp_activity", "test/acc"} <= set(df.columns)
    assert SEEN["keys"] and all(k == ["blocks.0.mlp.hook_post"] for k in SEEN["keys"])  # nothing else kept
    # recompute from the last checkpoint with the rebuilt model: the same number over all (chunked) examples
    last = r.checkpoint_steps()[-1]
    model = r.model(last)
    cache: dict = {}
    with torch.no_grad():
        model(torch.as_tensor(r.data().x)[None], cache)
    want = cache["blocks.0.mlp.hook_post"].flatten(1).mean(1)
    got = df[df.step == last].sort_values("member")["test/mlp_activity"].tolist()
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), want, rtol=1e-12, atol=1e-12)
    assert r.meta["label_free"]["test/mlp_activity"] is True
    assert r.meta["label_free"]["test/acc"] is False


def test_grad_need_and_cadence(tmp_path):
    SEEN["grad"].clear()
    r = run(with_probes("test_grad_norm"), out=tmp_path, threads=1, device="cpu")
    df = r.metrics()
    steps = sorted(df[df.metric == "grad/norm"].step.unique().tolist())
    all_steps = sorted(df.step.unique().tolist())
    assert steps == all_steps[::2]  # every 2nd evaluation
    assert SEEN["grad"] == steps
    # the full-batch gradient at step 0 equals autograd of the mean training loss at init
    s = r.setup()
    from grokscope.train.loop import full_batch_grad

    g = full_batch_grad(s)
    want = torch.stack([v.double().flatten(1).pow(2).sum(1) for v in g.values()]).sum(0).sqrt()
    got = df[(df.metric == "grad/norm") & (df.step == 0)].sort_values("member").value.to_numpy()
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)


def test_stateful_probe_with_step_hook_and_events(tmp_path):
    r = run(with_probes("test_update_count"), out=tmp_path, threads=1, device="cpu")
    df = r.metrics(wide=True)
    counts = df[df.member == 0].sort_values("step")
    assert counts["upd/count"].tolist() == counts.step.astype(float).tolist()  # one step hook call per update
    assert counts["upd/abs_sum"].iloc[-1] > 0
    assert [e["upd/first3"] for e in r.events] == [3, 3]
    from grokscope.store.catalog import Catalog

    with Catalog(tmp_path) as cat:  # a detector's event keys become members columns
        assert cat.query("select member, upd_first3 from members order by member").rows == [(0, 3), (1, 3)]


def test_events_snapshot_at_grok_and_final(tmp_path):
    r = run(CFG, out=tmp_path, threads=1, device="cpu")
    for e in r.events:
        assert e["final"]["train/acc"] == r.metrics(wide=True).query(f"member == {e['member']}").sort_values(
            "step")["train/acc"].iloc[-1]
        assert (e["at_grok"] is None) == (e["t_grok"] is None)


def test_unknown_need_is_rejected():
    try:
        probe("bad_need", needs=["hessian"])(lambda ctx: {})
    except ValueError as e:
        assert "hessian" in str(e)
    else:
        raise AssertionError("an unknown need must be rejected")
    assert "bad_need" not in PROBES


def test_plugin_file_registers_a_probe(tmp_path):
    plugin = tmp_path / "my_probes.py"
    plugin.write_text(
        "import torch\n"
        "from grokscope.probes import probe\n"
        "@probe('plugin_mean_logit', uses_labels=False)\n"
        "def f(ctx):\n"
        "    return {'plugin/mean_logit': ctx.logits.double().mean((1, 2))}\n")
    cfg = {**with_probes("plugin_mean_logit"), "eval": {**with_probes("plugin_mean_logit")["eval"],
                                                        "plugins": [str(plugin)]}}
    r = run(cfg, out=tmp_path / "runs", threads=1, device="cpu")
    v = r.metrics(wide=True)["plugin/mean_logit"]
    assert len(v) > 0 and all(math.isfinite(x) for x in v)


def test_the_readme_example_plugin_runs(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "my_probes.py"
    cfg = {"preset": "quick", "train": {"steps": 8}, "members": {"seeds": 2},
           "eval": {"grid": "linear", "every": 1, "plugins": [str(example)],
                    "probes": ["accuracy", "mlp_dead_frac", "update_path"]}}
    df = run(cfg, out=tmp_path, threads=1, device="cpu").metrics(wide=True)
    dead = df.dropna(subset=["mlp/dead_frac"])
    assert sorted(dead.step.unique()) == list(range(0, 9, 2))  # every 2nd evaluation
    assert ((dead["mlp/dead_frac"] > 0) & (dead["mlp/dead_frac"] < 1)).all()
    path = df[df.member == 0].sort_values("step")["path/length"].to_numpy()
    assert path[0] == 0 and (np.diff(path) > 0).all()  # grows with every update


def test_history_need_sees_every_earlier_evaluation(tmp_path):
    df = run(with_probes("test_history"), out=tmp_path, threads=1, device="cpu").metrics(wide=True)
    d = df[df.member == 1].sort_values("step").reset_index(drop=True)
    assert d["hist/n_evals"].tolist() == list(map(float, range(len(d))))
    assert d["hist/last_acc"].iloc[1:].tolist() == d["train/acc"].iloc[:-1].tolist()  # the previous eval's value
