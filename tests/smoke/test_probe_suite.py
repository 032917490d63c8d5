"""The probe suite end to end: a run with every probe stores each probe's metrics under its namespace;
``grokscope analyze probes`` on its checkpoints gives the online values at those steps; ``grokscope probes``
lists every registered probe; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from grokscope import cli
from grokscope.api import load_run, run
from grokscope.probes import PROBES


def grokscope(*args: str | Path, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """The real entry point in-process (user errors: one line on stderr, exit 2): (exit code, stdout, stderr)."""
    import sys

    capsys.readouterr()
    old, sys.argv = sys.argv, ["grokscope", *map(str, args)]
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err

EVERY = ["default", "lar", "gmm", "gmm_fixed", "attention", "graph", "logprob_quantiles", "update_gram",
         "two_field", "spectra", "repulsion"]
NAMESPACES = {"lar": "lar", "gmm": "gmm", "gmm_fixed": "gmm_fixed", "graph": "graph", "spectra": "spectra",
              "logprob_quantiles": "logprob_quantiles", "update_gram": "update_gram", "two_field": "two_field",
              "accuracy": "test", "norms": "norm", "logits": "logit", "attention": "attention"}
# stateless probes: offline values must equal the online ones exactly (stateful ones see fewer evaluations)
STATELESS = ["lar", "graph", "spectra", "logprob_quantiles", "logits", "accuracy", "two_field"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("probes")
    r = run("quick", ["task.p=13", "model.d_hidden=32", "train.steps=150", "eval.points=40",
                      f"eval.probes={json.dumps(EVERY)}", "checkpoint.count=3"], out=out, threads=1)
    return r.path


def _namespaces(df: pd.DataFrame) -> set[str]:
    return {m.split("/")[0] for m in df.metric.unique()}


@pytest.mark.slow
def test_quick_run_with_every_probe_stores_each_namespace(quick_run: Path):
    df = load_run(quick_run).metrics()
    got = _namespaces(df)
    for probe, ns in NAMESPACES.items():
        if probe != "attention":  # an MLP: skipped with a warning
            assert ns in got, probe
    assert "attention" not in got
    assert df[df.metric == "logprob_quantiles/q31"].value.notna().all()
    assert df[df.metric == "repulsion/sign_match"].value.between(0, 1).all()
    spectra_steps = sorted(df[df.metric == "spectra/erank"].step.unique())
    all_steps = sorted(df.step.unique())
    assert spectra_steps == all_steps[::4]  # cadence: every 4th evaluation


def test_transformer_run_stores_attention_metrics(tmp_path: Path):
    r = run("nanda", ["task.p=11", "model.d_model=16", "model.d_mlp=32", "train.steps=20", "eval.points=5",
                      'eval.probes=["default","attention","graph"]'], out=tmp_path, threads=1)
    df = r.metrics()
    assert {"attention", "graph", "logprob_quantiles", "spectra"} <= _namespaces(df)
    sim = df[df.metric == "attention/mean_similarity"].value
    assert sim.between(0, 1 + 1e-9).all() and len(sim) > 0


def test_analyze_probes_equals_online_values(quick_run: Path, tmp_path: Path, capsys):
    import shutil

    dst = tmp_path / quick_run.name
    shutil.copytree(quick_run, dst)
    code, out, err = grokscope("analyze", "probes", dst, "--probes", ",".join(STATELESS), "--json", capsys=capsys)
    assert code == 0, err
    summary = json.loads(out)
    r = load_run(dst)
    assert summary["steps"] == r.checkpoint_steps() and len(summary["steps"]) >= 2
    off = pd.read_parquet(summary["path"])
    on = r.dir.read_metrics().to_pandas()
    both = off.merge(on, on=["step", "member", "metric"], suffixes=("_off", "_on"))
    # every offline value has its online twin at that step, except spectra off its cadence (every 4th eval)
    twins = set(zip(both.step, both.member, both.metric))
    alone = [k for k in zip(off.step, off.member, off.metric) if k not in twins]
    assert alone and all(m.startswith("spectra/") for _, _, m in alone)
    assert {m.split("/")[0] for m in both.metric} >= {"lar", "graph", "spectra", "logprob_quantiles", "two_field"}
    both = both[both.metric != "two_field/sigma_hat"]  # Σ̂ is stateful: its trajectory offline has 3 points
    assert ((both.value_off - both.value_on).abs() <= 1e-9 * (1 + both.value_on.abs())).all()
    code, _, err = grokscope("analyze", "probes", dst, "--probes", ",".join(STATELESS), capsys=capsys)
    assert code == 2 and "exists" in err and err.count("\n") == 1, err
    code, _, err = grokscope("analyze", "probes", dst, "--probes", "lar,nope", "--name", "x", capsys=capsys)
    assert code == 2 and "'nope'" in err and err.count("\n") == 1, err


def test_probes_command_lists_every_registered_probe(capsys):
    code, out, err = grokscope("probes", "--json", capsys=capsys)
    assert code == 0, err
    rows = {r["probe"]: r for r in json.loads(out)}
    builtin = {p.name for _, p in PROBES.items() if p.make.__module__.startswith("grokscope.")}
    assert builtin <= set(rows)
    for name in ("lar", "gmm", "attention", "graph", "logprob_quantiles", "update_gram", "two_field", "spectra"):
        assert rows[name]["metrics"], name
    assert "lar/lar" in rows["lar"]["metrics"] and rows["lar"]["label_free"] == "yes"
    assert rows["gmm"]["label_free"] == "partly" and rows["gmm"]["label_metrics"] == ["gmm/nc1"]
    assert "default" in rows["spectra"]["sets"] and "default" not in rows["lar"]["sets"]


def test_unknown_probe_is_one_line_exit_2(tmp_path: Path, capsys):
    code, _, err = grokscope("run", "quick", "--threads", "1", "-q", "--set", 'eval.probes=["default","larr"]',
                             "--out", tmp_path, capsys=capsys)
    assert code == 2 and err.count("\n") == 1 and "larr" in err, err
    assert not any(tmp_path.iterdir())  # nothing written
