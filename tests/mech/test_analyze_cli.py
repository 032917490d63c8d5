"""``grokscope analyze fourier|progress`` and ``reproduce dlc --scale tiny`` through the real CLI.

Runs are tiny (one thread, tens to a few thousand steps of the quick preset's MLP at p = 13 … 43)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grokscope.experiments.claims import VERDICTS

SRC = str(Path(__file__).resolve().parents[2] / "src")


def grokscope(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "grokscope.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _run(tmp: Path, *sets: str, preset: str = "quick") -> Path:
    args = ["run", preset, "--threads", "1", "-q", "--out", str(tmp / "runs")]
    for s in sets:
        args += ["--set", s]
    p = grokscope(*args, cwd=tmp)
    assert p.returncode == 0, p.stderr
    runs = sorted((tmp / "runs").iterdir())
    return runs[-1]


@pytest.fixture(scope="module")
def ungrokked(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ungrokked")
    return _run(tmp, "task.p=13", "task.op=mul", "task.exclude_zero=true", "model.d_hidden=32", "train.steps=40",
                "members.seeds=1", "checkpoint.count=4")


def test_fourier_on_a_run_that_did_not_grok(ungrokked):
    p = grokscope("analyze", "fourier", ungrokked, "--threads", "1")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "did not grok" in out
    assert "multiplicative" in out and "additive" in out and "clean neurons" in out
    assert (ungrokked / "mech" / "spectrum.png").is_file()
    j = json.loads(grokscope("analyze", "fourier", ungrokked, "--json", "--basis", "multiplicative").stdout)
    assert list(j["bases"]) == ["multiplicative"] and j["members"][0]["grokked"] is False
    assert len(j["bases"]["multiplicative"]["members"][0]["embed"]["norms"]) == 6  # q = 12: k = 1 … 6


def test_progress_on_a_run_that_did_not_grok(ungrokked):
    p = grokscope("analyze", "progress", ungrokked, "--json", "--keys", "1,3")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["basis"] == "multiplicative" and j["key_frequencies"] == [[1, 3]]
    assert [r["step"] for r in j["rows"]] == sorted(r["step"] for r in j["rows"]) and len(j["rows"]) >= 3
    assert all(r["excluded_loss"] > 0 and r["restricted_loss"] > 0 for r in j["rows"])
    assert (ungrokked / "mech" / "progress.png").is_file()


def test_user_mistakes_are_one_line(ungrokked, tmp_path):
    for args in (["fourier", ungrokked, "--step", "7"], ["fourier", ungrokked, "--basis", "wavelet"],
                 ["progress", ungrokked, "--keys", "a,b"], ["fourier", tmp_path / "nope"]):
        p = grokscope("analyze", *args)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_parity_run_has_no_fourier_structure(tmp_path):
    run = _run(tmp_path, "train.steps=5", "members.seeds=1", "task.m=50", "task.n_test=50", preset="parity")
    p = grokscope("analyze", "fourier", run)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Fourier structure" in lines[0], p.stderr


@pytest.mark.slow
def test_reproduce_dlc_tiny_end_to_end(tmp_path):
    """The whole pipeline (stage, analysis, claim table) on a run that groks in ~1,000 steps; the character basis
    must come out the sparse one (this can fail: it is the paper's claim, measured)."""
    p = grokscope("reproduce", "dlc", "--scale", "tiny", "--out", tmp_path / "out", "--json", "-q", "--workers", "1",
                  timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = {r["claim"]: r for r in doc["rows"]}
    assert all(r["verdict"] in VERDICTS for r in rows.values())
    gini = [r for c, r in rows.items() if c.startswith("W_E Gini in the")]
    assert len(gini) == 2
    assert gini[0]["measured"]["value"] > 2 * gini[1]["measured"]["value"]  # multiplicative ≫ additive
    clean = [r for c, r in rows.items() if c.startswith("clean-neuron fraction in the additive")]
    assert clean and clean[0]["verdict"] == "reproduced"
    assert any("framework check" in n for n in doc["scale_notes"])
    assert (tmp_path / "out" / "dlc" / "claims.md").is_file()
