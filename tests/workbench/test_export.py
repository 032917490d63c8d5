"""grokscope export: each target read back with the tool's own reader equals the run's metrics.

tensorboard and mlflow-skinny are in the `test` extra: a missing one fails here (never a silent skip); wandb is
large, so its case is `long` (run with --run-long, where a missing wandb fails)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tests.hardening.cli_inproc import cli


def _rows(run) -> pd.DataFrame:
    df = run.metrics()
    df = df[[math.isfinite(v) for v in df.value]]
    return df.sort_values(["member", "metric", "step"]).reset_index(drop=True)


def test_csv_reads_back_exactly(capsys, tiny_run, tmp_path):
    res = cli(capsys, "export", tiny_run.path, "--to", "csv", "--out", tmp_path)
    assert res.code == 0, res.err
    got = pd.read_csv(tmp_path / tiny_run.path.name / "metrics.csv")
    ref = tiny_run.metrics().sort_values(["step", "member", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False, check_exact=True)
    ev = pd.read_csv(tmp_path / tiny_run.path.name / "events.csv")
    assert list(ev.member) == [e["member"] for e in tiny_run.events]


def test_tensorboard_reads_back_with_its_event_accumulator(capsys, tiny_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    res = cli(capsys, "export", tiny_run.path, "--to", "tensorboard", "--out", tmp_path)
    assert res.code == 0, res.err
    ref = _rows(tiny_run)
    n = 0
    for m, sub in ref.groupby("member"):
        acc = EventAccumulator(str(tmp_path / tiny_run.path.name / f"m{m}"), size_guidance={"scalars": 0})
        acc.Reload()
        assert set(acc.Tags()["scalars"]) == set(sub.metric)
        for metric, g in sub.groupby("metric"):
            ev = acc.Scalars(metric)
            assert [e.step for e in ev] == list(g.step)
            np.testing.assert_array_equal(np.array([e.value for e in ev], dtype=np.float32),
                                          g.value.to_numpy().astype(np.float32))  # TensorBoard stores float32
            n += len(ev)
    assert n == len(ref)
    again = cli(capsys, "export", tiny_run.path, "--to", "tensorboard", "--out", tmp_path)
    assert again.code == 2 and "exists" in again.err  # never appended twice


def test_mlflow_reads_back_through_its_client(capsys, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3: the file store is opt-in
    from mlflow.tracking import MlflowClient

    res = cli(capsys, "export", tiny_run.path, "--to", "mlflow", "--out", tmp_path)
    assert res.code == 0, res.err
    client = MlflowClient(tracking_uri=tmp_path.resolve().as_uri())
    exp = client.get_experiment_by_name("grokscope")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == len(tiny_run.events)
    ref = _rows(tiny_run)
    for r in runs:
        m = int(r.data.tags["grokscope.member"])
        assert r.data.params["optim.lr"] == str(tiny_run.config.optim.lr)
        sub = ref[ref.member == m]
        for metric, g in sub.groupby("metric"):
            hist = sorted(client.get_metric_history(r.info.run_id, metric), key=lambda x: x.step)
            assert [h.step for h in hist] == list(g.step)
            assert [h.value for h in hist] == list(g.value)  # MLflow keeps float64
    again = cli(capsys, "export", tiny_run.path, "--to", "mlflow", "--out", tmp_path)
    assert again.code == 2 and "already holds" in again.err


def test_unknown_target_is_one_line(capsys, tiny_run, tmp_path):
    res = cli(capsys, "export", tiny_run.path, "--to", "parquet", "--out", tmp_path)
    assert res.code == 2 and "csv, tensorboard, mlflow, wandb-offline" in res.err


def test_a_missing_extra_is_one_line(capsys, tiny_run, tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_wandb(name, *a, **k):
        if name == "wandb":
            raise ImportError("no wandb")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    modules = __import__("sys").modules
    for name in [m for m in modules if m == "wandb" or m.startswith("wandb.")]:  # all restored afterwards: a
        monkeypatch.delitem(modules, name)  # half-imported wandb left behind would break a later real import
    try:
        res = cli(capsys, "export", tiny_run.path, "--to", "wandb-offline", "--out", tmp_path)
    finally:  # a blocked import leaves wandb's already-imported submodules behind: drop them too
        for name in [m for m in modules if m == "wandb" or m.startswith("wandb.")]:
            del modules[name]
    assert res.code == 2 and "pip install" in res.err and len(res.err.strip().splitlines()) == 1


@pytest.mark.long
def test_wandb_offline_writes_a_local_run(capsys, tiny_run, tmp_path):
    """Long (wandb is large: not in the lean test extra); fails loudly with --run-long when wandb is missing."""
    import wandb  # noqa: F401 - must be installed for --run-long

    res = cli(capsys, "export", tiny_run.path, "--to", "wandb-offline", "--out", tmp_path)
    assert res.code == 0, res.err
    assert list((tmp_path / "wandb").glob("offline-run-*"))
