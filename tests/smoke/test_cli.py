"""Smoke tests of the ``grokscope`` command: presets, help, run, show, plot, idempotent re-run, real grokking."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grokscope.presets import PRESETS

from .helpers import SMOKE_ARGS, grokscope, ok, run_dirs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_help_is_quick() -> None:
    t0 = time.monotonic()
    p = ok(grokscope("--help", timeout=30))
    assert time.monotonic() - t0 < 10  # no torch import for --help (about 0.3 s when idle)
    for command in ("presets", "run", "resume", "show", "plot"):
        assert command in p.stdout
    assert not p.stderr


def test_presets_lists_every_preset() -> None:
    p = ok(grokscope("presets", timeout=60))
    names = {line.split("│")[1].strip() for line in p.stdout.splitlines() if line.count("│") >= 3}
    assert set(PRESETS) <= names, names
    assert not p.stderr


def test_run_writes_a_complete_run_dir(smoke_run: Path) -> None:
    out = smoke_run.parent
    assert run_dirs(out) == [smoke_run]
    assert [d.name for d in out.iterdir()] == [smoke_run.name], "temp dirs or stray files left next to the run"
    for name in ("config.json", "meta.json", "members.json", "metrics.parquet", "events.json", "curves.png"):
        assert (smoke_run / name).is_file(), name
    meta = json.loads((smoke_run / "meta.json").read_text())
    assert meta["status"] == "complete"
    assert meta["steps_done"] == 300
    assert meta["run_id"] == smoke_run.name
    assert meta["threads"] == 1
    config = json.loads((smoke_run / "config.json").read_text())
    assert config["train"]["steps"] == 300 and config["task"]["p"] == 13
    members = json.loads((smoke_run / "members.json").read_text())
    assert [m["member"] for m in members] == [0, 1, 2, 3]  # the quick preset packs 4 seeds
    events = json.loads((smoke_run / "events.json").read_text())
    assert [e["member"] for e in events] == [0, 1, 2, 3]
    assert (smoke_run / "curves.png").read_bytes()[:8] == PNG_MAGIC
    assert not (smoke_run / "state.pt").exists(), "resume state must be removed when the run completes"
    assert not list((smoke_run / "metrics").glob("*.parquet")), "chunks must be compacted into metrics.parquet"


def test_show_json(smoke_run: Path) -> None:
    p = ok(grokscope("show", smoke_run, "--json", timeout=60))
    doc = json.loads(p.stdout)
    assert doc["run_id"] == smoke_run.name
    assert doc["status"] == "complete"
    assert doc["config"]["train"]["steps"] == 300
    assert len(doc["members"]) == 4
    for m in doc["members"]:
        assert {"member", "seed", "t_mem", "t_grok", "delay", "censored", "budget", "final"} <= set(m), m
        assert m["budget"] == 300
        assert 0.0 <= m["final"]["train/acc"] <= 1.0


def test_show_prints_a_table(smoke_run: Path) -> None:
    p = ok(grokscope("show", smoke_run, timeout=60))
    assert smoke_run.name in p.stdout
    for column in ("member", "seed", "T_mem", "T_grok", "delay"):
        assert column in p.stdout, column
    assert "complete" in p.stdout
    rows = [line for line in p.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 4, p.stdout


def test_plot_writes_a_png(smoke_run: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    p = ok(grokscope("plot", smoke_run, "--out", target, timeout=60))
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert "x.png" in p.stdout


def test_rerun_returns_the_finished_run_without_training(smoke_run: Path) -> None:
    out = smoke_run.parent
    before = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in smoke_run.iterdir() if f.is_file()}
    t0 = time.monotonic()
    p = ok(grokscope(*SMOKE_ARGS, "--out", out, timeout=60))
    elapsed = time.monotonic() - t0
    after = {f.name: (f.read_bytes(), f.stat().st_mtime_ns) for f in smoke_run.iterdir() if f.is_file()}
    assert after == before, "a finished run must not be touched by a re-run"
    assert run_dirs(out) == [smoke_run]
    assert smoke_run.name in p.stdout
    assert elapsed < 30, elapsed  # startup only; the 300 training steps are not redone


@pytest.mark.slow
def test_quick_preset_groks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    ok(grokscope("run", "quick", "--out", out, "--threads", "1", "-q", timeout=300))
    (run,) = run_dirs(out)
    p = ok(grokscope("show", run, "--json", timeout=60))
    members = json.loads(p.stdout)["members"]
    assert len(members) == 4
    for m in members:
        assert isinstance(m["t_mem"], int), m
        assert isinstance(m["t_grok"], int) and not m["censored"], m
        assert m["t_grok"] > m["t_mem"], m
        assert m["delay"] == m["t_grok"] - m["t_mem"]
