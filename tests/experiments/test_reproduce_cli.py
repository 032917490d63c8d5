"""``grokscope reproduce`` end to end through the real CLI: stages -> sweeps -> catalog -> claim rows -> files.

The toy experiment's quick scale trains 2 small packed runs (~10-20 s of training on one thread); the rerun must
reuse them (no retraining: meta.json untouched) and give the same table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grokscope.experiments.claims import VERDICTS

SRC = str(Path(__file__).resolve().parents[2] / "src")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "grokscope.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    p = cli("reproduce", "toy-norm-clamp", "--scale", "quick", "--out", "out", "--json", "--workers", "1", cwd=root)
    assert p.returncode == 0, p.stderr
    return root, json.loads(p.stdout)


def _metas(root: Path) -> dict[str, tuple[int, str]]:
    return {str(f): (f.stat().st_mtime_ns, f.read_text()) for f in sorted(root.glob("out/*/*/runs/*/meta.json"))}


def test_first_run_trains_both_stages_and_writes_the_table(first):
    root, doc = first
    exp = root / "out" / "toy-norm-clamp"
    assert doc["experiment"] == "toy-norm-clamp" and doc["scale"] == "quick"
    assert {s: (v["runs_trained"], v["runs_skipped"]) for s, v in doc["stages"].items()} == {"control": (1, 0),
                                                                                            "clamp": (1, 0)}
    assert (exp / "control" / "sweep.json").is_file() and (exp / "clamp" / "sweep.json").is_file()
    assert [f.name for f in sorted(exp.glob("claims.*"))] == ["claims.html", "claims.json", "claims.md"]
    assert json.loads((exp / "claims.json").read_text())["rows"] == doc["rows"]
    assert len(doc["rows"]) == 3 and all(r["verdict"] in VERDICTS and r["rule"] for r in doc["rows"])
    assert any("p: 59 → 23" in n for n in doc["scale_notes"])  # reductions declared by the experiment
    # stage 2 was built from stage 1's measurement: its clamp arms carry the measured W_c
    sweep = json.loads((exp / "clamp" / "sweep.json").read_text())
    w_c = {arm["intervene.clamp.w_c"] for arm in sweep["spec"]["arms"].values()}
    assert len(w_c) == 1 and 5.0 < w_c.pop() < 100.0


def test_rerun_reuses_every_run(first):
    root, doc = first
    before = _metas(root)
    assert len(before) == 2
    p = cli("reproduce", "toy-norm-clamp", "--out", "out", "--workers", "1", cwd=root)
    assert p.returncode == 0, p.stderr
    assert _metas(root) == before  # not retrained, not even resumed
    assert p.stderr.count("1 runs already complete, 0 to train") == 2  # both stages
    assert "toy-norm-clamp (quick)" in p.stdout and "verdict" in p.stdout
    again = json.loads((root / "out" / "toy-norm-clamp" / "claims.json").read_text())
    assert again["rows"] == doc["rows"]
    assert {s: v["runs_trained"] for s, v in again["stages"].items()} == {"control": 0, "clamp": 0}


def test_list(tmp_path):
    p = cli("reproduce", "--list", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "toy-norm-clamp" in p.stdout and "quick, paper" in p.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("reproduce", "toy-norm-clam"), "error: unknown experiment 'toy-norm-clam'; did you mean 'toy-norm-clamp'?"),
    (("reproduce", "toy-norm-clamp", "--scale", "huge"), "error: experiment 'toy-norm-clamp' has no scale 'huge'"),
    (("reproduce",), "error: give an experiment name, or --list to see them"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    p = cli(*args, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith(message) and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "reproductions").exists()
