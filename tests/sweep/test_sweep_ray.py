"""The Ray executor gives the same results as the local one (a local Ray instance started here).

CI installs the ``ray`` extra, so there this test must run; elsewhere it is skipped only when Ray is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from sweep_helpers import tiny_spec

from grokscope import api
from grokscope.errors import UserError
from grokscope.sweep import load_spec, run_sweep

try:
    import ray
except ImportError:  # pragma: no cover - CI has ray
    ray = None

needs_ray = pytest.mark.skipif(ray is None and not os.environ.get("CI"),
                               reason="ray not installed (pip install grokscope[ray]); CI runs this test")


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.fail("CI must install the ray extra: pip install -e '.[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error", log_to_driver=False)
    yield ray
    ray.shutdown()


PLUGIN = str(Path(__file__).resolve().parents[1] / "plugins" / "stateful_probes.py")  # a user's probe file


@needs_ray
def test_ray_matches_local(tmp_path, local_ray):
    """Local (spawn) workers and Ray tasks give the same runs, a user's plug-in probe included (eval.plugins)."""
    probes = {"probes": ["accuracy", "norms", "test_update_path"], "plugins": [PLUGIN]}
    spec = tiny_spec(grid={"optim.wd": [0.5, 2.0]}, seeds=1, pack=False, base={"eval": probes})  # 2 cells, 2 runs
    local = run_sweep(spec, out=tmp_path / "local", workers=2)
    remote = run_sweep(spec, out=tmp_path / "ray", executor="ray", threads_per_worker=1)
    assert local.ok and remote.ok, [c.error for c in remote.failed]
    assert remote.runs_trained == 2
    assert [(c.values, c.run_id, c.member) for c in remote.cells] == [(c.values, c.run_id, c.member) for c in local.cells]
    assert [(c.t_mem, c.t_grok, c.censored) for c in remote.cells] == [(c.t_mem, c.t_grok, c.censored) for c in local.cells]
    for run in load_spec(spec).runs:
        a = pq.read_table(tmp_path / "local" / "runs" / run.run_id / "metrics.parquet").to_pandas()
        b = pq.read_table(tmp_path / "ray" / "runs" / run.run_id / "metrics.parquet").to_pandas()
        a, b = (d.sort_values(["step", "member", "metric"]).reset_index(drop=True) for d in (a, b))
        assert {"path/length", "path/loss_ema"} <= set(b.metric) and (b[b.metric == "path/length"].value > 0).any()
        assert a[["step", "member", "metric"]].equals(b[["step", "member", "metric"]])
        np.testing.assert_array_equal(a.value.to_numpy(), b.value.to_numpy())
        r = api.Run(tmp_path / "ray" / "runs" / run.run_id)
        assert r.complete and r.checkpoint_steps() == api.Run(tmp_path / "local" / "runs" / run.run_id).checkpoint_steps()
    assert not [p for p in (tmp_path / "ray" / "runs").iterdir() if p.name.startswith(".")]  # no temp dirs left
    again = run_sweep(spec, out=tmp_path / "ray", executor="ray")
    assert again.runs_trained == 0 and again.runs_skipped == 2


def test_missing_ray_is_one_line(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UserError, match=r"pip install grokscope\[ray\]"):
        run_sweep(tiny_spec(), out=tmp_path / "sw", executor="ray")
    assert not (tmp_path / "sw").exists()
