"""Damaged inputs: each gives a warning (or a one-line UserError when queried) and the rest of the catalog loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from catalog_synth import write_run

from grokscope.errors import UserError
from grokscope.store.catalog import CACHE_MEMBERS_NAME, CACHE_NAME, Catalog


def two_runs(root: Path, complete: bool = True) -> Path:
    write_run(root, "good", t_grok=[200, 500])
    return write_run(root, "bad", t_grok=[200, None], complete=complete)


def good_is_whole(cat: Catalog) -> None:
    assert cat.query("select member, t_grok, final_test_acc from members where run_id = 'good' order by member").rows \
           == [(0, 200, 0.95), (1, 500, 0.95)]
    assert cat.query("select status, n_members, n_grokked from runs where run_id = 'good'").rows == \
           [("complete", 2, 2)]


def warned(cat: Catalog, *parts: str) -> bool:
    return any(all(p in w for p in parts) for w in cat.warnings)


@pytest.mark.parametrize("content", ['[{"member": 0, "t_grok": 2', '{"member": 0}', '[1, 2]'],
                         ids=["truncated", "not-a-list", "not-entries"])
def test_bad_events_json_recomputes_events_from_metrics(tmp_path: Path, content: str) -> None:
    bad = two_runs(tmp_path)
    (bad / "events.json").write_text(content)
    cat = Catalog(tmp_path)
    assert warned(cat, str(bad), "events.json")
    good_is_whole(cat)
    assert cat.query("select member, t_mem, t_grok, censored, budget from members where run_id = 'bad' "
                     "order by member").rows == [(0, 20, 200, False, 1000), (1, 20, None, True, 1000)]


@pytest.mark.parametrize("content", ['[{"member": 0, "se', '{"member": 0}', '[{"member": "zero"}]'],
                         ids=["truncated", "not-a-list", "member-not-int"])
def test_bad_members_json_falls_back_to_the_config(tmp_path: Path, content: str) -> None:
    bad = two_runs(tmp_path)
    (bad / "members.json").write_text(content)
    cat = Catalog(tmp_path)
    assert warned(cat, str(bad), "members.json")
    good_is_whole(cat)
    assert cat.query("select member, seed, init_seed, t_grok from members where run_id = 'bad' order by member").rows \
           == [(0, 0, None, 200), (1, 1, None, None)]


@pytest.mark.parametrize("doc", ["config.json", "meta.json"])
def test_truncated_config_or_meta_skips_the_run(tmp_path: Path, doc: str) -> None:
    bad = two_runs(tmp_path)
    (bad / doc).write_text('{"task": {"name": "mod')
    cat = Catalog(tmp_path)
    assert warned(cat, str(bad), f"cannot read {doc}") and warned(cat, str(bad), "skipped")
    assert cat.query("select run_id from runs").rows == [("good",)]
    good_is_whole(cat)


@pytest.mark.parametrize("change", [{"task": "modular"}, {"eval": ["x"]}, {"members": 3}],
                         ids=["task-string", "eval-list", "members-int"])
def test_config_of_the_wrong_shape_skips_the_run(tmp_path: Path, change: dict) -> None:
    bad = two_runs(tmp_path)
    cfg = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**cfg, **change}))
    (bad / "members.json").unlink()  # the config is then the only source of the members
    cat = Catalog(tmp_path)
    assert warned(cat, str(bad), "malformed")
    assert cat.query("select run_id from runs").rows == [("good",)]
    good_is_whole(cat)


def test_corrupt_metrics_chunk_of_a_running_run(tmp_path: Path) -> None:
    bad = two_runs(tmp_path, complete=False)
    part = bad / "metrics" / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[:100])  # a torn file
    cat = Catalog(tmp_path)
    assert warned(cat, str(part), "unreadable metrics")
    good_is_whole(cat)
    assert cat.query("select count(*) from members where run_id = 'bad'").rows == [(2,)]
    with pytest.raises(UserError) as e:  # the view reads every file: the torn one is named in one line
        cat.query("select count(*) from metrics")
    assert "\n" not in str(e.value) and "part-00001" in str(e.value)
    assert len(cat.metrics(run_ids=["good"])) > 0  # the other runs' metrics stay readable


def test_corrupt_metrics_parquet_of_a_complete_run(tmp_path: Path) -> None:
    bad = two_runs(tmp_path)
    (bad / "metrics.parquet").write_bytes(b"PAR1 garbage")
    cat = Catalog(tmp_path)
    assert warned(cat, str(bad / "metrics.parquet"), "unreadable metrics")
    good_is_whole(cat)
    # the events come from events.json; the last values are unknown
    assert cat.query("select t_grok, final_test_acc from members where run_id = 'bad' order by member").rows == \
           [(200, None), (None, None)]
    # the view could not be made over it (its footer is read then): left out, with a warning
    assert warned(cat, str(bad / "metrics.parquet"), "left out of the metrics view"), cat.warnings
    assert cat.query("select distinct run_id from metrics").rows == [("good",)]


@pytest.mark.parametrize("name", [CACHE_NAME, CACHE_MEMBERS_NAME])
def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, name: str) -> None:
    two_runs(tmp_path)
    want = Catalog(tmp_path).query("select * from members order by run_id, member").rows
    (tmp_path / name).write_bytes((tmp_path / name).read_bytes()[:50])
    rebuilt = Catalog(tmp_path)
    assert rebuilt.n_read == 2
    assert rebuilt.query("select * from members order by run_id, member").rows == want
    again = Catalog(tmp_path)  # the rewritten cache is good again
    assert again.n_read == 0
    assert again.query("select * from members order by run_id, member").rows == want


def test_unlistable_directories_are_skipped_with_a_warning(tmp_path: Path, monkeypatch) -> None:
    write_run(tmp_path / "ok", "good", t_grok=[200, 500])
    write_run(tmp_path / "locked", "hidden")
    live = write_run(tmp_path, "live", complete=False)
    real = os.scandir
    blocked = {str(tmp_path / "locked"), str(live / "metrics")}

    def scandir(path: str = ".") -> os.ScandirIterator:  # tests run as root, where chmod 000 blocks nothing
        if str(path) in blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    cat = Catalog(tmp_path, cache=False)
    assert warned(cat, str(tmp_path / "locked"), "Permission denied")
    assert warned(cat, str(live / "metrics"), "Permission denied")
    assert sorted(r for (r,) in cat.query("select run_id from runs").rows) == ["good", "live"]
    good_is_whole(cat)
    assert cat.query("select count(*) from metrics where run_id = 'live'").rows == [(0,)]


def test_unreadable_sweep_json_is_a_warning(tmp_path: Path) -> None:
    write_run(tmp_path / "runs", "good", t_grok=[200, 500])
    (tmp_path / "sweep.json").write_text('{"axes": ')
    cat = Catalog(tmp_path)
    assert warned(cat, "sweep.json")
    good_is_whole(cat)
    assert cat.query("select sweep, cell from members").rows == [(None, None), (None, None)]
