"""`grokscope runs`, `grokscope query`, `grokscope report` as a user calls them."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from catalog_synth import write_run
from typer.testing import CliRunner

from grokscope import cli

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    """Run through the real entry point (user errors: one line on stderr, exit 2)."""
    old = sys.argv
    sys.argv = ["grokscope", *args]
    try:
        cli.main()
    except SystemExit as e:
        return int(e.code or 0), ""
    finally:
        sys.argv = old
    return 0, ""


def test_runs_json_lists_members(sweep_dir: Path) -> None:
    res = runner.invoke(cli.app, ["runs", str(sweep_dir), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    d = d.get("runs", d) if isinstance(d, dict) else d  # what the acceptance check does
    assert len(d) == 12
    row = d[0]
    for key in ("run_id", "member", "seed", "cell", "wd", "p", "t_mem", "t_grok", "delay", "censored", "budget",
                "final_test_acc"):
        assert key in row
    assert not any("." in k for k in row)  # dotted duplicates stay in SQL, not in the listing
    assert {(r["wd"], r["p"]) for r in d} == {(w, p) for w in (0.3, 1.0, 3.0) for p in (31, 43)}


def test_runs_where_and_columns(sweep_dir: Path) -> None:
    res = runner.invoke(cli.app, ["runs", str(sweep_dir), "--where", "wd > 0.5 and p = 31", "--json",
                                  "--columns", "run_id,member,wd,p,t_grok,censored"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert len(d) == 4
    assert all(r["wd"] > 0.5 and r["p"] == 31 for r in d)
    assert list(d[0]) == ["run_id", "member", "wd", "p", "t_grok", "censored"]
    censored = json.loads(runner.invoke(cli.app, ["runs", str(sweep_dir), "--where", "censored", "--json"]).stdout)
    assert censored and all(r["t_grok"] is None and r["censored"] for r in censored)


def test_runs_table_shows_varying_columns(sweep_dir: Path) -> None:
    res = runner.invoke(cli.app, ["runs", str(sweep_dir)], terminal_width=250)
    assert res.exit_code == 0, res.output
    header = res.stdout.splitlines()[1]
    for col in ("run_id", "member", "wd", "t_mem", "t_grok", "delay", "censored"):
        assert col in header
    assert " lr " not in header  # the same in every row: not shown
    assert "12 members" in res.stdout


def test_query_formats(sweep_dir: Path) -> None:
    sql = "select p, count(*) as n, median(t_grok) as med from members group by p order by p"
    res = runner.invoke(cli.app, ["query", sql, "--root", str(sweep_dir), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [r["p"] for r in json.loads(res.stdout)] == [31, 43]
    res = runner.invoke(cli.app, ["query", sql, "--root", str(sweep_dir), "--format", "csv"])
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["p", "n", "med"] and rows[1][:2] == ["31", "6"]
    res = runner.invoke(cli.app, ["query", sql, "--root", str(sweep_dir)])
    assert res.exit_code == 0 and "med" in res.stdout
    res = runner.invoke(cli.app, ["query", "select count(*) as n from runs", "--root", str(sweep_dir),
                                  "--format", "json"])
    assert json.loads(res.stdout) == [{"n": 6}]


def test_query_default_root_may_be_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./runs here
    res = runner.invoke(cli.app, ["query", "select count(*) as n from runs", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"n": 0}]
    write_run(tmp_path / "runs", "r1")
    res = runner.invoke(cli.app, ["query", "select count(*) as n from members", "--format", "json"])
    assert json.loads(res.stdout) == [{"n": 2}]


@pytest.mark.parametrize("args", [
    ["query", "select * fron runs"],
    ["query", "select nope from members"],
    ["query", "select 1", "--format", "xml"],
    ["runs", "{root}", "--where", "wdd > 1"],
    ["runs", "{root}", "--columns", "run_id,nope"],
    ["runs", "{root}/does-not-exist"],
    ["report", "{root}/does-not-exist"],
])
def test_user_errors_are_one_line_exit_2(args: list[str], sweep_dir: Path, capfd: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sweep_dir)
    code, _ = invoke(*[a.format(root=sweep_dir) for a in args])
    err = capfd.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err


def test_report_for_a_sweep(sweep_dir: Path) -> None:
    res = runner.invoke(cli.app, ["report", str(sweep_dir)])
    assert res.exit_code == 0, res.output
    out = sweep_dir / "report"
    html = (out / "report.html").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["acc_cells.png", "acc_overlay.png", "events_vs_p.png", "events_vs_wd.png", "heatmap_tgrok.png",
                    "tgrok_vs_p.png", "tgrok_vs_wd.png"]
    assert html.count("data:image/png;base64,") == len(pngs)
    assert "<img" in html and 'src="acc' not in html  # self-contained: nothing referenced by file name
    assert "Cells" in html and "censored" in html
    # the cell table: 6 cells (wd x p), seeds pooled
    assert html.count('<tr class="cens">') + html.count("<tr><td>") >= 6


def test_report_for_one_run(tmp_path: Path) -> None:
    run = write_run(tmp_path, "solo", t_grok=[200, None])
    res = runner.invoke(cli.app, ["report", str(run), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "rep" / "report.html").read_text()
    assert (tmp_path / "rep" / "curves.png").is_file()
    assert html.count("data:image/png;base64,") == len(list((tmp_path / "rep").glob("*.png"))) >= 1
    assert "solo" in html
    assert not (run / "catalog.parquet").exists()  # a run dir is never written into by the catalog


def test_report_for_a_real_packed_run(real_runs: Path, tmp_path: Path) -> None:
    res = runner.invoke(cli.app, ["report", str(real_runs), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    names = {p.name for p in (tmp_path / "rep").glob("*.png")}
    assert {"acc_cells.png", "tgrok_vs_wd.png", "tgrok_vs_p.png"} <= names
    assert (tmp_path / "rep" / "report.html").stat().st_size > 10_000


def test_long_tables_print_as_plain_text(sweep_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from grokscope import cli_catalog

    monkeypatch.setattr(cli_catalog, "RICH_MAX_ROWS", 3)
    res = runner.invoke(cli.app, ["runs", str(sweep_dir)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[1].split()[:3] == ["run_id", "member", "seed"]
    assert len(lines) == 3 + 12
