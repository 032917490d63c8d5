"""Issue 12 (part 1), end to end: a redirected run prints progress before it ends, --version, config keys,
--dry-run writes nothing, show --config, the thread warning, gs.run's progress switch, dir(grokscope)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from hardening.cli_inproc import cli  # the real entry point in-process

from .helpers import popen

FAST = ["--set", "task.p=23", "--set", "task.frac=0.5", "--set", "model.d_hidden=64", "--set", "optim.lr=2e-2"]


@pytest.mark.slow
def test_a_redirected_run_prints_its_directory_and_progress_before_it_ends(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = popen("run", "gromov", *FAST, "--set", "train.steps=1000000", "--threads", "1", "--out", out,
                 log_dir=tmp_path / "log")
    log = tmp_path / "log" / "stdout.txt"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(log.read_text().splitlines()) < 2:
            time.sleep(0.5)
        lines = log.read_text().splitlines()
        assert proc.poll() is None, "the run ended before it was checked"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert len(lines) >= 2, lines
    assert lines[0].startswith("run directory: ") and str(out) in lines[0]
    assert lines[1].startswith("step 0/1000000") and "steps/s" in lines[1] and "grokked" in lines[1]


@pytest.mark.slow
def test_a_finished_redirected_run_ends_with_a_done_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    o = cli(capsys, "run", "gromov", *FAST, "--set", "train.steps=200", "--threads", "1", "--out", tmp_path)
    assert o.code == 0, o.err
    lines = [line for line in o.out.splitlines() if line.startswith("step ")]
    assert lines[0].startswith("step 0/200") and lines[-1].startswith("step 200/200") and "done" in lines[-1]
    assert "gromov-p=23-d_hidden=64-" in o.out  # named by what differs from the preset


def test_version_and_config_keys(capsys: pytest.CaptureFixture) -> None:
    from grokscope import __version__

    o = cli(capsys, "--version")
    assert o.code == 0 and o.out.strip() == f"grokscope {__version__}"
    o = cli(capsys, "config", "keys")
    keys = {line.split()[0] for line in o.out.splitlines()}
    assert {"optim.lr", "task.p", "model.d_mlp", "members.vary", "optim.grokfast.alpha"} <= keys
    assert "optim.lr  " in cli(capsys, "config", "keys", "optim").out
    o = cli(capsys, "config", "keys", "optimizer")
    assert o.code == 2 and len(o.err_lines()) == 1 and "unknown config section" in o.err


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "dry"
    o = cli(capsys, "run", "nanda", "--dry-run", "--out", out, "--set", "task.name=modular")
    assert o.code == 0, o.err
    assert not out.exists()
    assert "lr: 0.001" in o.out and "members: 1" in o.out and "estimated memory:" in o.out
    assert "steps: 25000" in o.out and "threads:" in o.out
    assert "reset the other task fields" in o.out and "task.p (113 -> 97)" in o.out


def test_show_config_and_threads_warning(smoke_run: Path, capsys: pytest.CaptureFixture) -> None:
    o = cli(capsys, "show", smoke_run, "--config")
    assert o.code == 0 and "p: 13" in o.out and "d_hidden: 32" in o.out
    import yaml

    assert yaml.safe_load(o.out)["train"]["steps"] == 300


def test_threads_above_the_cores_warn(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from grokscope.train.threads import cores

    o = cli(capsys, "run", "quick", "--dry-run", "--threads", str(cores() * 32), "--out", tmp_path / "x")
    warnings = [line for line in o.err.splitlines() if line.startswith("warning:")]
    assert o.code == 0 and len(warnings) == 1 and f"more than the {cores()} cores" in warnings[0]


@pytest.mark.slow
def test_gs_run_progress_switch(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import grokscope as gs

    assert {"run", "resume", "load_run", "load_config", "Run"} <= set(dir(gs))
    overrides = [s for s in FAST if s != "--set"] + ["train.steps=100", "checkpoint.count=0"]
    seen: list[int] = []
    gs.run("gromov", overrides, out=tmp_path / "a", threads=1, quiet=False, on_eval=lambda t, v: seen.append(t))
    err = capsys.readouterr().err
    assert "100/100" in err and seen and seen[-1] == 100  # a bar, and on_eval still called
    from grokscope.config import load_config
    from grokscope.progress_bar import notebook_progress

    def cb(t: int, v: dict) -> None:
        pass

    with notebook_progress(load_config("quick"), True, cb) as quiet_cb:
        assert quiet_cb is cb  # quiet: no bar, the callback untouched
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_resume_prints_progress_and_labels_the_resumed_part(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import grokscope as gs
    from grokscope.train.status import RunInterrupted

    overrides = [s for s in FAST if s != "--set"] + ["train.steps=300", "checkpoint.count=0",
                                                     "checkpoint.flush_seconds=0.01"]

    def stop(t: int, v: dict) -> None:
        if t >= 150:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        gs.run("gromov", overrides, out=tmp_path, threads=1, quiet=True, on_eval=stop)
    (path,) = [d for d in tmp_path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    o = cli(capsys, "resume", path, "--threads", "1")
    assert o.code == 0, o.err
    assert o.out.startswith(f"run directory: {path}")
    assert "resumed part " in o.out and "steps/s" in o.out  # the summary's time is the resumed part's
    assert [line for line in o.out.splitlines() if line.startswith("step 300/300")]
    meta = gs.load_run(path).meta
    assert 0 < meta["last_part"]["from"] < 300 and meta["last_part"]["to"] == 300
