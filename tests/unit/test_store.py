"""Run store: metric chunks, compaction, checkpoints, atomic writes, and a tiny end-to-end run through the API."""

from __future__ import annotations

import copy
import json

import numpy as np
import pyarrow as pa
import pytest
import torch

from grokscope.api import Run, load_run, run
from grokscope.config import load_config
from grokscope.errors import UserError
from grokscope.store import checkpoint
from grokscope.store.atomic import write_atomic, write_json
from grokscope.store.run_dir import RunDir, open_run


def rows(step0, n=3, members=2):
    out = {"step": [], "member": [], "metric": [], "value": []}
    for s in range(step0, step0 + n):
        for m in range(members):
            for metric in ("train/acc", "test/loss"):
                out["step"].append(s)
                out["member"].append(m)
                out["metric"].append(metric)
                out["value"].append(s * 0.1 + m + (0.5 if metric == "test/loss" else 0.0))
    return out


def as_rows(table: pa.Table) -> list[tuple]:
    d = table.to_pydict()
    return list(zip(d["step"], d["member"], d["metric"], d["value"], strict=True))


def concat(*parts):
    return [r for p in parts for r in zip(p["step"], p["member"], p["metric"], p["value"], strict=True)]


def no_temp_files(path):
    return [p for p in path.rglob("*") if p.name.endswith(".tmp")] == []


# -- metrics chunks ------------------------------------------------------------------------------------------------
def test_parts_compact_round_trip(tmp_path):
    rd = RunDir(tmp_path / "r")
    a, b, c = rows(0), rows(3), rows(6)
    rd.write_part(0, a)
    rd.write_part(1, b)
    assert [f.name for f in rd.part_files()] == ["part-00000.parquet", "part-00001.parquet"]
    assert as_rows(rd.read_metrics()) == concat(a, b)  # readable before compaction
    rd.compact()
    assert rd.part_files() == [] and rd.metrics_file.is_file()
    got = rd.read_metrics()
    assert as_rows(got) == concat(a, b)
    assert got.schema.field("step").type == pa.int64() and got.schema.field("value").type == pa.float64()
    # a run never writes chunks after its compaction; chunks beside metrics.parquet are leftovers of a compaction
    # killed after its write, already inside it (see test_compaction_cut_short_after_the_write_leaves_no_duplicates)
    rd.write_part(2, c)
    assert as_rows(rd.read_metrics()) == concat(a, b)
    assert no_temp_files(tmp_path)


def test_drop_parts_from(tmp_path):
    rd = RunDir(tmp_path / "r")
    parts = [rows(3 * i) for i in range(4)]
    for i, p in enumerate(parts):
        rd.write_part(i, p)
    rd.drop_parts_from(2)
    assert [f.name for f in rd.part_files()] == ["part-00000.parquet", "part-00001.parquet"]
    assert as_rows(rd.read_metrics()) == concat(parts[0], parts[1])
    rd.drop_parts_from(0)
    assert rd.part_files() == [] and rd.read_metrics().num_rows == 0


def test_empty_metrics(tmp_path):
    rd = RunDir(tmp_path / "r")
    assert rd.read_metrics().num_rows == 0
    rd.compact()
    assert rd.read_metrics().num_rows == 0


def test_open_run_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        open_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a grokscope run"):
        open_run(tmp_path / "empty")


def test_corrupt_json_is_user_error(tmp_path):
    rd = RunDir(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        rd.read_json("meta.json")


# -- checkpoints ---------------------------------------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path):
    g = torch.Generator().manual_seed(0)
    obj = {"step": 42, "params": {"W_E": torch.randn(2, 5, 3, generator=g, dtype=torch.float64),
                                  "W_U": torch.randn(2, 3, 4, generator=g)},
           "opt": {"t": 7, "state": {"m": {"W_E": torch.zeros(2, 5, 3)}}},
           "rng": torch.Generator().manual_seed(3).get_state(), "names": ["a", "b"], "x": 1.5}
    path = checkpoint.ckpt_path(tmp_path / "ckpt", 42)
    assert path.name == "step_00000042.pt"
    checkpoint.save(path, obj)
    back = checkpoint.load(path)
    assert back["step"] == 42 and back["names"] == ["a", "b"] and back["x"] == 1.5 and back["opt"]["t"] == 7
    for k, v in obj["params"].items():
        assert torch.equal(back["params"][k], v) and back["params"][k].dtype == v.dtype
    assert torch.equal(back["rng"], obj["rng"])
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("content", [b"", b"garbage, not a checkpoint", b"PK\x03\x04truncated zip"])
def test_corrupt_checkpoint_is_one_line_user_error(tmp_path, content):
    path = tmp_path / "step_00000001.pt"
    path.write_bytes(content)
    with pytest.raises(UserError) as e:
        checkpoint.load(path)
    msg = str(e.value)
    assert "corrupt checkpoint" in msg and "\n" not in msg and str(path) in msg


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(path, {"w": torch.randn(50, 50)})
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(UserError, match="corrupt checkpoint"):
        checkpoint.load(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(UserError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "nope.pt")


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_never_executes_pickled_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"x": _Evil(str(marker))}, path)
    with pytest.raises(UserError, match="corrupt checkpoint"):
        checkpoint.load(path)
    assert not marker.exists()


# -- atomic writes ---------------------------------------------------------------------------------------------------
def test_atomic_write_json(tmp_path):
    target = tmp_path / "sub" / "a.json"
    write_json(target, {"x": 1, "y": [1, 2]})
    assert json.loads(target.read_text()) == {"x": 1, "y": [1, 2]}
    write_json(target, {"x": 2})
    assert json.loads(target.read_text()) == {"x": 2}
    assert sorted(p.name for p in target.parent.iterdir()) == [".a.json.sha256", "a.json"]  # + its checksum


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"ok": True})

    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, boom)
    assert json.loads(target.read_text()) == {"ok": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.json.sha256", "a.json"]


# -- a tiny run through the API ---------------------------------------------------------------------------------------
TINY = {"name": "tiny",
        "task": {"name": "modular", "op": "add", "p": 7, "frac": 0.5},
        "model": {"name": "mlp", "d_embed": 8, "d_hidden": 16, "act": "gelu"},
        "optim": {"lr": 1e-2, "wd": 1.0},
        "train": {"steps": 30},
        "eval": {"points": 8},
        "members": {"seeds": 2},
        "checkpoint": {"count": 3}}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    calls = []
    r = run(copy.deepcopy(TINY), out=out, threads=1, device="cpu", on_eval=lambda t, v: calls.append(t))
    return r, out, calls


def test_tiny_run_files(tiny_run):
    r, out, calls = tiny_run
    assert isinstance(r, Run) and r.complete
    cfg = load_config(copy.deepcopy(TINY))
    assert r.path == out / f"tiny-{cfg.run_id()}"
    for name in ("config.json", "meta.json", "members.json", "metrics.parquet", "events.json", "curves.png"):
        assert (r.path / name).is_file(), name
        assert (r.path / name).stat().st_size > 0
    assert not (r.path / "state.pt").exists()
    assert RunDir(r.path).part_files() == []  # compacted
    assert no_temp_files(r.path)
    assert r.config == cfg
    meta = r.meta
    assert meta["status"] == "complete" and meta["steps_done"] == 30 and meta["threads"] == 1
    members = r.members
    assert [m["seed"] for m in members] == [0, 1] and [m["member"] for m in members] == [0, 1]
    assert {"init_seed", "split_seed"} <= set(members[0])
    assert calls[0] == 0 and calls[-1] == 30 and calls == sorted(set(calls))


def test_tiny_run_metrics(tiny_run):
    r, _, calls = tiny_run
    df = r.metrics(wide=True)
    for col in ("train/acc", "test/acc", "norm/total", "logit/scale", "logit/sc_frac", "train/loss", "test/loss"):
        assert col in df.columns, col
    assert sorted(df.step.unique().tolist()) == calls
    assert set(df.member.unique().tolist()) == {0, 1}
    assert len(df) == 2 * len(calls)
    assert df["train/acc"].between(0, 1).all() and df["test/acc"].between(0, 1).all()
    assert df["logit/sc_frac"].between(0, 1).all() and (df["logit/scale"] > 0).all()
    long = r.metrics()
    assert list(long.columns) == ["step", "member", "metric", "value"]
    # training moved the loss down
    first, last = df[df.step == 0], df[df.step == 30]
    assert (last["train/loss"].to_numpy() < first["train/loss"].to_numpy()).all()


def test_tiny_run_checkpoints_match_metrics(tiny_run):
    r, _, calls = tiny_run
    steps = r.checkpoint_steps()
    assert steps and steps[-1] == 30 and set(steps) <= set(calls)
    ck = r.load_checkpoint(30)
    assert ck["step"] == 30
    W = [ck["params"][n] for n in ("W_E", "W_in", "W_U")]
    assert W[0].shape[0] == 2
    norm = torch.stack([w.double().pow(2).flatten(1).sum(1) for w in W]).sum(0).sqrt()
    df = r.metrics(wide=True)
    logged = df[df.step == 30].sort_values("member")["norm/total"].to_numpy()
    np.testing.assert_allclose(norm.numpy(), logged, rtol=1e-6)


def test_tiny_run_events(tiny_run):
    r, _, _ = tiny_run
    ev = r.events
    assert len(ev) == 2
    df = r.metrics()
    last = df[df.step == df.step.max()]
    for m, e in enumerate(ev):
        assert set(e) == {"member", "seed", "t_mem", "t_grok", "delay", "censored", "budget", "at_grok", "final"}
        assert e["member"] == m and e["budget"] == 30
        assert e["censored"] == (e["t_grok"] is None)
        mine = last[last.member == m]
        # the last evaluation, as in metrics.parquet (a NaN there, e.g. norm/angle_mem before T_mem, is JSON null)
        assert e["final"] == {k: (None if v != v else v) for k, v in zip(mine.metric, mine.value)}
    from grokscope.api import events_from_metrics

    # events.json agrees with the metrics
    assert events_from_metrics(r) == [{k: v for k, v in e.items() if k not in ("final", "at_grok")} for e in ev]


def test_rerun_returns_complete_run_without_training(tiny_run):
    r, out, _ = tiny_run
    before = (r.path / "metrics.parquet").stat().st_mtime_ns, r.meta
    calls = []
    again = run(copy.deepcopy(TINY), out=out, threads=1, device="cpu", on_eval=lambda t, v: calls.append(t))
    assert again.path == r.path and calls == []
    assert (r.path / "metrics.parquet").stat().st_mtime_ns == before[0] and again.meta == before[1]
    assert load_run(r.path).complete
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 1


def test_run_id_stable_and_sensitive():
    a = load_config(copy.deepcopy(TINY))
    b = load_config(json.loads(json.dumps(TINY)))
    assert a.run_id() == b.run_id() and len(a.run_id()) == 12
    assert load_config(copy.deepcopy(TINY), ["optim.lr=0.02"]).run_id() != a.run_id()
    assert load_config(copy.deepcopy(TINY), ["members.seeds=3"]).run_id() != a.run_id()
    assert load_config(copy.deepcopy(TINY), ["task.frac=0.6"]).run_id() != a.run_id()
    # the same values written differently are the same run
    explicit = copy.deepcopy(TINY)
    explicit["optim"]["wd"] = 1
    explicit["loss"] = {"name": "ce"}
    assert load_config(explicit).run_id() == a.run_id()


def test_invalid_run_writes_nothing(tmp_path):
    bad = copy.deepcopy(TINY)
    bad["intervene"] = {"clamp": {"target": 1.0, "groups": ["attn"]}}  # the mlp has no attn group
    with pytest.raises(UserError, match="unknown group"):
        run(bad, out=tmp_path, threads=1, device="cpu")
    assert list(tmp_path.iterdir()) == []


def test_compaction_cut_short_after_the_write_leaves_no_duplicates(tmp_path):
    """A kill between writing metrics.parquet and removing the chunks: readers and a second compact ignore them."""
    rd = RunDir(tmp_path / "r")
    rows = {"step": [0, 1], "member": [0, 0], "metric": ["test/acc"] * 2, "value": [0.1, 0.2]}
    rd.write_part(0, rows)
    rd.write_part(1, {**rows, "step": [2, 3]})
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in rd.part_files()]
    import pyarrow as pa

    pq.write_table(pa.concat_tables(tables), rd.metrics_file)  # the compaction wrote, then was killed
    assert rd.read_metrics().num_rows == 4
    rd.compact()
    assert rd.read_metrics().num_rows == 4 and rd.part_files() == [] and not rd.parts_dir.exists()
