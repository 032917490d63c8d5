"""End to end: build the tiny pool, score it and report it through the CLI (minutes on a loaded CPU: long)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from grokscope.cli import main; main()"]


@pytest.mark.long
def test_tiny_pool_builds_scores_resumes_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "pool"
    r = subprocess.run([*CLI, "bench-predictors", "--pool", "tiny", "--workers", "1", "--out", str(out), "--json",
                        "-q"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = {x["predictor"]: x for x in doc["rows"]}
    assert {"step", "train_loss", "test_loss", "weight_norm", "lar", "fiedler", "dmd_residual"} <= set(rows)
    assert doc["summary"]["members"] == 16
    assert (out / "bench" / "leaderboard.json").is_file()
    again = subprocess.run([*CLI, "bench-predictors", "--pool", str(out), "--json", "-q"], capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["timing"]["build_seconds"] is None  # nothing trained: a directory is scored
    rep = subprocess.run([*CLI, "report", str(out)], capture_output=True, text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr
    assert "Leaderboard" in (out / "report" / "report.html").read_text()
