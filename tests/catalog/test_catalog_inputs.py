"""What the catalog reads beyond the basic run directory: offline result files and open events.json keys."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from catalog_synth import write_run

from grokscope.store.catalog import Catalog

OFFLINE_SCHEMA = pa.schema([("step", pa.int64()), ("member", pa.int64()), ("metric", pa.string()),
                            ("value", pa.float64())])


def write_offline(run: Path, name: str, metric: str, values: dict[tuple[int, int], float]) -> Path:
    """``<run>/offline/<name>.parquet`` in the long format analyses write."""
    rows = sorted(values.items())
    table = pa.table({"step": [s for (s, _), _ in rows], "member": [m for (_, m), _ in rows],
                      "metric": [metric] * len(rows), "value": [v for _, v in rows]}, schema=OFFLINE_SCHEMA)
    path = run / "offline" / f"{name}.parquet"
    path.parent.mkdir(exist_ok=True)
    pq.write_table(table, path)
    return path


def test_offline_results_join_the_metrics_view_and_the_cache_key(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a")
    write_run(tmp_path, "b")
    first = Catalog(tmp_path)
    n_train = first.query("select count(*) from metrics").rows[0][0]
    assert Catalog(tmp_path).n_read == 0
    ranks = {(100, 0): 3.0, (100, 1): 4.5, (1000, 0): 2.0, (1000, 1): 2.5}
    write_offline(a, "rank", "offline/rank", ranks)
    (a / "offline" / ".half.parquet.x1.tmp").write_bytes(b"an atomic write in progress")
    cat = Catalog(tmp_path)
    assert cat.n_read == 1  # only the run that got an offline file is read again
    assert cat.query("select count(*) from metrics").rows[0][0] == n_train + len(ranks)
    got = cat.query("select run_id, step, member, value from metrics where metric = 'offline/rank' "
                    "order by step, member").rows
    assert got == [("a", s, m, v) for (s, m), v in sorted(ranks.items())]
    # the run's other metrics are still there, and offline values are not training "final_" values
    assert cat.query("select count(*) from metrics where run_id = 'a' and metric = 'test/acc'").rows[0][0] > 0
    assert not [c for c in cat.columns("members") if "rank" in c]
    assert list(cat.metrics(run_ids=["a"], metrics=["offline/rank"]).value) == [v for _, v in sorted(ranks.items())]
    # a second analysis later: noticed again
    write_offline(a, "ac1", "offline/ac1", {(1000, 0): 0.5})
    later = Catalog(tmp_path)
    assert later.n_read == 1
    assert later.query("select count(*) from metrics where metric like 'offline/%'").rows == [(len(ranks) + 1,)]
    assert Catalog(tmp_path).n_read == 0


def add_event_keys(run: Path, extra: dict[int, dict]) -> None:
    path = run / "events.json"
    events = json.loads(path.read_text())
    for e in events:
        e.update(extra.get(e["member"], {}))
    path.write_text(json.dumps(events))


def test_open_event_keys_and_at_grok_become_member_columns(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a", t_grok=[200, None])
    write_run(tmp_path, "b")  # a run from before: none of the new keys -> NULL
    add_event_keys(a, {0: {"alarm/ews_ac1": 1234, "forecast/t_grok": 5012.5, "note": "early",
                           "at_grok": {"test/acc": 0.93, "norm/total": 41.0, "logit/scale": 2.5}},
                       1: {"alarm/ews_ac1": None, "forecast/t_grok": 7000.0, "note": None,
                           "at_grok": {"test/acc": None, "norm/total": None, "logit/scale": None},
                           "status": "bogus", "curve": [1, 2]}})
    for cat in (Catalog(tmp_path), Catalog(tmp_path)):  # read, then served from the cache
        cols = cat.columns("members")
        for c in ("alarm_ews_ac1", "forecast_t_grok", "note", "at_grok_test_acc", "at_grok_norm", "at_grok_logit_scale"):
            assert c in cols
        rows = cat.query("select run_id, member, alarm_ews_ac1, forecast_t_grok, note, at_grok_test_acc, at_grok_norm, "
                         "at_grok_logit_scale, status from members order by run_id, member").rows
        assert rows == [("a", 0, 1234, 5012.5, "early", 0.93, 41.0, 2.5, "complete"),
                        ("a", 1, None, 7000.0, None, None, None, None, "complete"),
                        ("b", 0, None, None, None, None, None, None, "complete"),
                        ("b", 1, None, None, None, None, None, None, "complete")]
        types = dict(cat.query("select column_name, data_type from information_schema.columns "
                               "where table_name = 'members'").rows)
        assert (types["alarm_ews_ac1"], types["forecast_t_grok"], types["at_grok_norm"]) == \
               ("BIGINT", "DOUBLE", "DOUBLE")
        assert "curve" not in cols
    read = Catalog(tmp_path, cache=False)
    assert any("'status'" in w and "taken" in w for w in read.warnings)
    assert any("'curve'" in w and "not a scalar" in w for w in read.warnings)
    assert len([w for w in read.warnings if "'curve'" in w]) == 1  # once per run, not per member


def test_event_columns_whose_types_disagree_across_runs_are_text(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a")
    add_event_keys(a, {0: {"flag": 3}})
    Catalog(tmp_path)
    b = write_run(tmp_path, "b")  # arrives after a is cached
    add_event_keys(b, {1: {"flag": "late"}})
    cat = Catalog(tmp_path)
    assert cat.n_read == 1
    got = dict(((r, m), f) for r, m, f in cat.query("select run_id, member, flag from members").rows)
    assert got == {("a", 0): "3", ("a", 1): None, ("b", 0): None, ("b", 1): "late"}
