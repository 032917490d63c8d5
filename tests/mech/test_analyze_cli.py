"""``grokscope analyze fourier|progress`` (in-process CLI) and ``reproduce dlc --scale tiny`` (run_experiment).

Runs are tiny (one thread; tens of steps, or ~1,300 steps of the quick preset's MLP at p = 43 for the reproduction).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import grokscope as gs
from grokscope.experiments.claims import VERDICTS


def cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    """Run ``grokscope ARGS`` in this process: (exit code, stdout, stderr)."""
    from grokscope.cli import main

    old, sys.argv = sys.argv, ["grokscope", *map(str, args)]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def ungrokked(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ungrokked")
    r = gs.run("quick", ["task.p=13", "task.op=mul", "task.exclude_zero=true", "model.d_hidden=32",
                         "train.steps=40", "members.seeds=1", "checkpoint.count=4",
                         "eval.probes=[accuracy, norms, logits, fourier]"], out=tmp, threads=1)
    return r.path


def test_fourier_probe_in_a_run(ungrokked):
    df = gs.load_run(ungrokked).metrics(wide=True)
    assert {"fourier/gini_add", "fourier/gini_mul", "fourier/ipr_mul", "fourier/top5_add_unembed"} <= set(df.columns)
    assert df["fourier/gini_mul"].between(0, 1).all() and len(df) > 5
    assert gs.load_run(ungrokked).meta["label_free"]["fourier/gini_mul"] is True


def test_fourier_on_a_run_that_did_not_grok(ungrokked, capsys):
    code, out, err = cli(capsys, "analyze", "fourier", ungrokked)
    assert code == 0, err
    assert "did not grok" in out
    assert "multiplicative" in out and "additive" in out and "clean neurons" in out
    assert (ungrokked / "mech" / "spectrum.png").is_file()
    code, out, _ = cli(capsys, "analyze", "fourier", ungrokked, "--json", "--basis", "multiplicative")
    j = json.loads(out)
    assert list(j["bases"]) == ["multiplicative"] and j["members"][0]["grokked"] is False
    assert len(j["bases"]["multiplicative"]["members"][0]["embed"]["norms"]) == 6  # q = 12: k = 1 … 6


def test_progress_on_a_run_that_did_not_grok(ungrokked, capsys):
    code, out, err = cli(capsys, "analyze", "progress", ungrokked, "--json", "--keys", "1,3")
    assert code == 0, err
    j = json.loads(out)
    assert j["basis"] == "multiplicative" and j["key_frequencies"] == [[1, 3]]
    steps = [r["step"] for r in j["rows"]]
    assert steps == sorted(steps) and len(steps) >= 3
    assert all(r["excluded_loss"] > 0 and r["restricted_loss"] > 0 for r in j["rows"])
    assert (ungrokked / "mech" / "progress.png").is_file()


def test_user_mistakes_are_one_line(ungrokked, tmp_path, capsys):
    for args in (["fourier", ungrokked, "--step", "7"], ["fourier", ungrokked, "--basis", "wavelet"],
                 ["progress", ungrokked, "--keys", "a,b"], ["fourier", tmp_path / "nope"]):
        code, _, err = cli(capsys, "analyze", *args)
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_parity_run_has_no_fourier_structure(tmp_path, capsys):
    r = gs.run("parity", ["train.steps=5", "members.seeds=1", "task.m=50", "task.n_test=50"], out=tmp_path, threads=1)
    code, out, err = cli(capsys, "analyze", "fourier", r.path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no Fourier structure" in lines[0], err


@pytest.mark.slow
def test_reproduce_dlc_tiny_end_to_end(tmp_path):
    """The whole pipeline (stage, analysis, claim table) on a run that groks in ~1,000 steps; the character basis
    must come out the sparse one (this can fail: it is the paper's claim, measured on a small MLP)."""
    from grokscope.experiments import load_all
    from grokscope.experiments.run import run_experiment

    doc = run_experiment(load_all().get("dlc"), "tiny", tmp_path, workers=1).to_json()
    rows = {r["claim"]: r for r in doc["rows"]}
    assert all(r["verdict"] in VERDICTS for r in rows.values())
    gini = [r for c, r in rows.items() if c.startswith("W_E Gini in the")]
    assert len(gini) == 2
    assert gini[0]["measured"]["value"] > 2 * gini[1]["measured"]["value"]  # multiplicative ≫ additive
    clean = [r for c, r in rows.items() if c.startswith("clean-neuron fraction in the additive")]
    assert clean and clean[0]["verdict"] == "reproduced"
    assert any("framework check" in n for n in doc["scale_notes"])
    assert (tmp_path / "dlc" / "claims.md").is_file()


@pytest.mark.long
def test_reproduce_dlc_quick(tmp_path):
    """The acceptance run: p = 113, paper 2's model at lr 3e-3, stopped at 2 x T_grok (~6 min on 2 idle cores)."""
    from grokscope.experiments import load_all
    from grokscope.experiments.run import run_experiment

    doc = run_experiment(load_all().get("dlc"), "quick", tmp_path).to_json()
    by = {r["claim"]: r["verdict"] for r in doc["rows"]}
    for key in ("W_E Gini in the multiplicative", "W_E Gini in the additive", "clean-neuron fraction (",
                "clean-neuron fraction in the additive", "restricted loss", "excluded loss"):
        hit = [v for c, v in by.items() if c.startswith(key)]
        assert hit == ["reproduced"], (key, by)
