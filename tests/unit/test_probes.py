"""The probe interface: a new diagnostic is one registered function over the shared evaluation pass."""

from __future__ import annotations

import torch

from grokscope.api import run
from grokscope.models import MODELS, TaskShape
from grokscope.probes import PROBES, EvalContext, probe
from grokscope.tasks import TASKS


@probe("test_mlp_activity", needs_cache=True, cost="forward")
def _mlp_activity(ctx: EvalContext) -> dict[str, torch.Tensor]:
    """Mean MLP activation over all examples at the readout position, per member (reads a hook)."""
    return {"test/mlp_activity": ctx.cache["blocks.0.mlp.hook_post"].double().flatten(1).mean(1)}


CFG = {"name": "probe", "task": {"name": "modular", "op": "add", "p": 37, "frac": 0.5},  # 1,369 > one eval chunk
       "model": {"name": "transformer", "n_layers": 1, "d_model": 16, "n_heads": 2, "d_mlp": 24},
       "train": {"steps": 6, "dtype": "float64"}, "eval": {"points": 3, "probes": ["accuracy", "test_mlp_activity"]},
       "members": {"seeds": 2}, "checkpoint": {"count": 2}}


def test_registered_probe_reads_hooks_of_the_shared_pass(tmp_path):
    assert PROBES.get("test_mlp_activity").needs_cache
    r = run(CFG, out=tmp_path, threads=1, device="cpu")
    df = r.metrics(wide=True)
    assert {"test/mlp_activity", "test/acc"} <= set(df.columns)
    # recompute from the last checkpoint: the cached hook over all (chunked) examples gives the same number
    last = r.checkpoint_steps()[-1]
    cfg = r.config
    data = TASKS.get("modular")(cfg.task, [m["split_seed"] for m in r.members])
    shape = TaskShape(data.vocab_size, data.n_classes, data.seq_len, data.input_positions)
    model = MODELS.get("transformer")(cfg.model, shape, 2, torch.float64)
    model.load_state_dict(r.load_checkpoint(last)["params"])
    cache: dict = {}
    with torch.no_grad():
        model(torch.as_tensor(data.x)[None], cache)
    want = cache["blocks.0.mlp.hook_post"].flatten(1).mean(1)
    got = df[df.step == last].sort_values("member")["test/mlp_activity"].tolist()
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), want, rtol=1e-12, atol=1e-12)
