"""A query that meets a metrics chunk removed by a compaction (issue 11) re-lists the run's files and answers."""

from __future__ import annotations

import shutil

from grokscope.store.catalog import Catalog
from grokscope.store.run_dir import RunDir


def test_query_during_compaction_sees_a_consistent_snapshot(tiny_run, tmp_path):
    run = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, run)
    rd = RunDir(run)
    table = rd.read_metrics()
    n = table.num_rows
    (run / "metrics.parquet").unlink()
    (run / ".metrics.parquet.sha256").unlink()
    half = n // 2
    rows = table.to_pydict()
    rd.write_part(0, {k: v[:half] for k, v in rows.items()})
    rd.write_part(1, {k: v[half:] for k, v in rows.items()})
    with Catalog(tmp_path, cache=False) as cat:  # lists the two chunks
        rd.compact()  # the chunks vanish, metrics.parquet appears: what a finishing run does under a reader
        assert cat.query("select count(*) from metrics").rows[0][0] == n
        assert len(cat.df("select * from metrics")) == n


def test_catalog_shows_a_dead_writer_as_interrupted(tiny_run, tmp_path):
    import json

    run = tmp_path / tiny_run.name
    shutil.copytree(tiny_run, run)
    meta = json.loads((run / "meta.json").read_text())
    RunDir(run).write_json("meta.json", {**meta, "status": "running"})
    with Catalog(tmp_path, cache=False) as cat:
        assert cat.query("select status from runs").rows == [("interrupted",)]
    rd = RunDir(run)
    rd.lock()
    try:
        with Catalog(tmp_path, cache=False) as cat:
            assert cat.query("select status from runs").rows == [("running",)]
    finally:
        rd.unlock()


def test_an_unfinished_run_has_no_censored_members(tmp_path):
    """A run cut before grokking (its writer gone, no events.json): censored is unknown (NULL), not true."""
    import pytest

    import grokscope as gs

    class Stop(Exception):
        pass

    def stop(step, values):
        if step >= 20:
            raise Stop

    with pytest.raises(Stop):
        gs.run("quick", overrides=["train.steps=400", "task.p=11", "model.d_hidden=16", "members.seeds=2",
                                   "checkpoint.flush_seconds=0.01"], out=tmp_path, threads=1, on_eval=stop)
    with Catalog(tmp_path, cache=False) as cat:
        assert cat.query("select status from runs").rows == [("interrupted",)]
        rows = cat.query("select member, t_grok, censored from members order by member").rows
    assert rows == [(0, None, None), (1, None, None)]


def test_catalog_skips_a_run_whose_metrics_fail_their_checksum(tiny_run, tmp_path):
    """A flipped byte in metrics.parquet (caught by the checksum even where Parquet would still decode it): the
    run is left out with a warning naming the file, the others answer; with the cache too."""
    import os

    for name in ("a", "b"):
        shutil.copytree(tiny_run, tmp_path / name)
    with Catalog(tmp_path) as cat:  # writes the cache with both runs
        assert cat.query("select count(*) from runs").rows == [(2,)]
    f = tmp_path / "b" / "metrics.parquet"
    data = bytearray(f.read_bytes())
    data[len(data) // 3] ^= 0x01
    st = f.stat()
    f.write_bytes(data)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a changed file has a new signature
    for cache in (True, False):
        with Catalog(tmp_path, cache=cache) as cat:
            assert cat.query("select count(*) from runs").rows == [(1,)]
            assert any("metrics.parquet is damaged" in w and str(tmp_path / "b") in w for w in cat.warnings)
            assert all(r[0].startswith(str(tmp_path / "a")) for r in cat.query("select path from runs").rows)
