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
