"""The catalog against the run directories it reads: counts, effective member values, events, metrics, caching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from catalog_synth import bump, write_run

from grokscope.errors import UserError
from grokscope.store.catalog import CACHE_MEMBERS_NAME, CACHE_NAME, Catalog, short_names


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("config.json") if not any(s.startswith(".") for s in p.parts))


def test_real_runs_match_run_dirs(real_runs: Path) -> None:
    cat = Catalog(real_runs)
    dirs = run_dirs(real_runs)
    assert len(dirs) == 2
    assert cat.query("select count(*) from runs").rows == [(2,)]
    n_members = sum(len(json.loads((d / "members.json").read_text())) for d in dirs)
    assert cat.query("select count(*) from members").rows == [(n_members,)]
    for d in dirs:
        cfg = json.loads((d / "config.json").read_text())
        meta = json.loads((d / "meta.json").read_text())
        run = cat.query("select status, steps_done, p, \"task.p\", lr from runs where run_id = ?", [d.name]).rows
        assert run == [(meta["status"], meta["steps_done"], cfg["task"]["p"], cfg["task"]["p"], cfg["optim"]["lr"])]
        members = json.loads((d / "members.json").read_text())
        events = {e["member"]: e for e in json.loads((d / "events.json").read_text())}
        rows = cat.query("select member, seed, wd, \"optim.wd\", p, init_seed, t_mem, t_grok, delay, censored, budget "
                         "from members where run_id = ? order by member", [d.name]).dicts()
        assert [r["member"] for r in rows] == [m["member"] for m in members]
        for r, m in zip(rows, members):
            want_wd = m.get("optim.wd", cfg["optim"]["wd"])  # the member's own value, else the run's
            assert r["wd"] == r["optim.wd"] == want_wd
            assert (r["seed"], r["init_seed"], r["p"]) == (m["seed"], m["init_seed"], cfg["task"]["p"])
            e = events[m["member"]]
            assert {k: r[k] for k in ("t_mem", "t_grok", "delay", "censored", "budget")} == \
                   {k: e[k] for k in ("t_mem", "t_grok", "delay", "censored", "budget")}
        n_rows = pq.read_metadata(d / "metrics.parquet").num_rows
        assert cat.query("select count(*) from metrics where run_id = ?", [d.name]).rows == [(n_rows,)]
        # final values are the last step's
        table = pq.read_table(d / "metrics.parquet").to_pandas()
        last = table[(table.metric == "test/acc") & (table.step == table.step.max())].sort_values("member")
        got = cat.query("select final_test_acc from members where run_id = ? order by member", [d.name]).rows
        assert [g[0] for g in got] == pytest.approx(last.value.tolist())
    # the packed run: its vary values, and NULL for the varied key at run level
    packed = cat.query("select run_id, wd from runs where n_members = 4").rows
    assert len(packed) == 1 and packed[0][1] is None
    wds = cat.query("select wd, count(*) from members where run_id = ? group by wd order by wd", [packed[0][0]]).rows
    assert wds == [(0.1, 2), (2.0, 2)]


def test_effective_values_and_cells(sweep_dir: Path) -> None:
    cat = Catalog(sweep_dir)
    assert cat.query("select count(*) from runs").rows == [(6,)]
    assert cat.query("select count(*), count(cell), count(distinct cell) from members").rows == [(12, 12, 12)]
    doc = json.loads((sweep_dir / "sweep.json").read_text())
    for c in doc["cells"]:
        row = cat.query("select cell, wd, p, seed from members where run_id = ? and member = ?",
                        [c["run_id"], c["member"]]).rows
        v = c["values"]
        assert row == [(c["cell"], v["optim.wd"], v["task.p"], v["seed"])]
    assert cat.query("select distinct sweep from members").rows == [(str(sweep_dir.absolute()),)]
    # the runs/ dir of a sweep finds its sweep.json one level up
    sub = Catalog(sweep_dir / "runs")
    assert sub.query("select count(cell) from members").rows == [(12,)]


def test_packed_vary_values(tmp_path: Path) -> None:
    write_run(tmp_path, "packed", {"optim.lr": 0.003}, vary={"optim.wd": [0.1, 1.0, 10.0], "loss.tau": [1, 2, 4]},
              seeds=2, t_grok=[None, 100, 200, 300, 400, None])
    cat = Catalog(tmp_path)
    rows = cat.query("select member, seed, wd, tau, lr, t_grok, censored, grokked from members order by member").rows
    assert rows == [(0, 0, 0.1, 1, 0.003, None, True, False), (1, 1, 0.1, 1, 0.003, 100, False, True),
                    (2, 0, 1.0, 2, 0.003, 200, False, True), (3, 1, 1.0, 2, 0.003, 300, False, True),
                    (4, 0, 10.0, 4, 0.003, 400, False, True), (5, 1, 10.0, 4, 0.003, None, True, False)]
    assert cat.query("select wd, tau, lr, n_members, n_grokked from runs").rows == [(None, None, 0.003, 6, 4)]


def test_running_run_parts_and_events_from_metrics(tmp_path: Path) -> None:
    from grokscope.store.run_dir import RunDir

    write_run(tmp_path, "live", t_grok=[50, None], complete=False)
    writer = RunDir(tmp_path / "live")
    writer.lock()  # a live writer holds the lock (without one, a "running" run reads as interrupted)
    cat = Catalog(tmp_path)
    writer.unlock()
    assert cat.query("select status from runs").rows == [("running",)]
    n = sum(pq.read_metadata(f).num_rows for f in (tmp_path / "live" / "metrics").glob("part-*.parquet"))
    assert cat.query("select count(*) from metrics").rows == [(n,)]
    rows = cat.query("select member, t_mem, t_grok, censored, budget from members order by member").rows
    assert rows == [(0, 20, 50, False, 1000), (1, 20, None, None, 1000)]  # unfinished: not (yet) censored


def test_short_names_rule() -> None:
    names = short_names(["task.name", "model.name", "optim.wd", "optim.grokfast.window", "task.split_seed",
                         "intervene.langevin_T", "x.langevin_t", "a.b_c", "b.c"],
                        taken={"split_seed", "name"}, reserved={"window"})
    assert names["task.name"] == "task_name" and names["model.name"] == "model_name"
    assert names["optim.wd"] == "wd"
    assert names["optim.grokfast.window"] == "grokfast_window"  # reserved SQL keyword
    assert names["task.split_seed"] == "task_split_seed"  # a fixed column
    assert names["intervene.langevin_T"] == "intervene_langevin_T"  # clash is case-insensitive
    assert names["x.langevin_t"] == "x_langevin_t"
    assert len({n.lower() for n in names.values()}) == len(names)


def test_cache_written_reused_and_invalidated(tmp_path: Path) -> None:
    for i in range(3):
        write_run(tmp_path, f"r{i}", {"optim.wd": 0.1 * (i + 1)})
    cat = Catalog(tmp_path)
    assert cat.n_read == 3
    assert (tmp_path / CACHE_NAME).is_file() and (tmp_path / CACHE_MEMBERS_NAME).is_file()
    again = Catalog(tmp_path)
    assert again.n_read == 0
    assert again.query("select * from members order by run_id, member").rows == \
           cat.query("select * from members order by run_id, member").rows
    # a run changes: its events are rewritten, its meta.json touched -> only it is read again
    ev = tmp_path / "r1" / "events.json"
    events = json.loads(ev.read_text())
    events[0].update(t_grok=None, delay=None, censored=True)
    ev.write_text(json.dumps(events))
    bump(ev)
    bump(tmp_path / "r1" / "meta.json")
    changed = Catalog(tmp_path)
    assert changed.n_read == 1
    assert changed.query("select t_grok, censored from members where run_id = 'r1' and member = 0").rows == \
           [(None, True)]
    assert changed.query("select n_grokked from runs where run_id = 'r1'").rows == [(1,)]
    # a run appears, another disappears
    shutil.rmtree(tmp_path / "r0")
    write_run(tmp_path, "r9", {"optim.wd": 9.0})
    later = Catalog(tmp_path)
    assert later.n_read == 1
    assert [r[0] for r in later.query("select run_id from runs order by run_id").rows] == ["r1", "r2", "r9"]
    assert later.query("select count(*) from metrics where run_id = 'r0'").rows == [(0,)]
    # a damaged index is rebuilt, not trusted
    (tmp_path / CACHE_NAME).write_bytes(b"not parquet")
    rebuilt = Catalog(tmp_path)
    assert rebuilt.n_read == 3
    assert rebuilt.query("select count(*) from members").rows == [(6,)]
    # cache=False neither reads nor needs the index
    assert Catalog(tmp_path, cache=False).n_read == 3


def test_scan_skips_temp_dirs_and_names_duplicates(tmp_path: Path) -> None:
    write_run(tmp_path / "a", "same")
    write_run(tmp_path / "b", "same")
    write_run(tmp_path, ".same.tmp123")  # a run being created (api._create_run_dir's temp dir)
    cat = Catalog(tmp_path)
    assert sorted(r[0] for r in cat.query("select run_id from runs").rows) == ["a/same", "b/same"]
    assert cat.query("select count(*) from metrics where run_id = 'a/same'").rows[0][0] > 0


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        Catalog(tmp_path / "nope")
    empty = Catalog(tmp_path / "nope", missing_ok=True)
    assert empty.query("select count(*) from runs").rows == [(0,)]
    assert empty.query("select count(*) from members").rows == [(0,)]
    assert empty.query("select count(*) from metrics").rows == [(0,)]


def test_bad_sql_is_one_line_user_error(tmp_path: Path) -> None:
    write_run(tmp_path, "r")
    cat = Catalog(tmp_path)
    for sql in ("select * fron runs", "select nope from members", "select * from nowhere"):
        with pytest.raises(UserError) as e:
            cat.query(sql)
        assert "\n" not in str(e.value)


def test_mixed_families_and_types_across_cache_batches(tmp_path: Path) -> None:
    write_run(tmp_path, "mlp", {"model.bias": True})
    first = Catalog(tmp_path)
    assert first.query("select bias from runs").rows == [(True,)]
    # a transformer run arrives later: its own fields, a string where the cached column is boolean
    write_run(tmp_path, "tf", {"model": {"name": "transformer", "n_layers": 1, "d_model": 16, "bias": "frozen"}})
    both = Catalog(tmp_path)
    assert both.n_read == 1
    rows = dict(both.query("select run_id, cast(bias as varchar) from runs").rows)
    assert rows["tf"] == "frozen" and rows["mlp"].lower() == "true"
    assert both.query("select run_id, n_layers, d_hidden from runs order by run_id").rows == \
           [("mlp", None, 128), ("tf", 1, None)]
    assert both.query("select model, count(*) from members group by model order by model").rows == \
           [("mlp", 2), ("transformer", 2)]
    assert both.query("select p, median(t_grok) from members group by p").rows == [(31, 250.0)]

def test_packed_none_value_is_the_members_own(tmp_path):
    """A packed control arm (clamp rho = None) shows None, not the run's clamp value."""
    from grokscope import api

    cfg = {"name": "c", "task": {"name": "modular", "p": 11, "frac": 0.5},
           "model": {"name": "mlp", "d_embed": 8, "d_hidden": 16}, "train": {"steps": 20}, "eval": {"points": 4},
           "checkpoint": {"count": 0}, "intervene": {"clamp": {"rho": 1.0, "w_c": 20.0}},
           "members": {"seeds": 1, "vary": {"intervene.clamp.rho": [None, 1.1]}}}
    api.run(cfg, out=tmp_path / "runs", threads=1)
    rows = Catalog(tmp_path, cache=False).con.execute(
        'select member, rho, "intervene.clamp.rho" from members order by member').fetchall()
    assert rows == [(0, None, None), (1, 1.1, 1.1)]
