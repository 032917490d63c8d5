"""First-passage forecast: calibrated on one cell, it predicts a held-out cell (other λ) of synthetic runs that
follow the law, and reports its error; the shipped calibration is shown with the forecast."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.laws.importer import import_published

KAPPA, V_STAR, LR, T_MEM = 0.3, 2500.0, 1e-3, 200


def _law_cell(path: Path, lam: float, v_mems=(3500.0, 4000.0, 4500.0, 5000.0)) -> None:
    """Per-seed ‖W‖ curves contracting at 2κηλ after T_mem; T_grok = the first passage of V below V★."""
    steps = np.arange(0, 40001, 25, dtype=np.float64)
    v = np.array([np.where(steps < T_MEM, vm, vm * np.exp(-2 * KAPPA * LR * lam * (steps - T_MEM))) for vm in v_mems])
    t_grok = [int(steps[np.argmax(row < V_STAR)]) for row in v]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, p=np.int64(59), lr=np.float64(LR), lam=np.float64(lam), max_steps=np.int64(40001),
             T_mem_per_seed=np.full(len(v_mems), T_MEM), T_grok_per_seed=np.array(t_grok), steps=steps,
             weight_norm=np.sqrt(v), test_acc=np.zeros_like(v))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp")
    for lam in (1.0, 0.5, 2.0):
        _law_cell(root / "src" / f"wd{lam:g}.npz", lam)
    import_published(root / "src", root / "runs")
    return root / "runs"


def test_forecast_calibrated_on_one_cell_predicts_held_out_lambda(store):
    r = CliRunner().invoke(app, ["forecast", str(store), "--where", "wd <> 1.0", "--calibration", str(store / "wd1"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    cal = doc["calibration"]
    assert cal["kappa"] == pytest.approx(KAPPA, rel=0.01)
    assert cal["v_star"] == pytest.approx(V_STAR, rel=0.02)  # T_grok is the first *logged* step below V★
    assert cal["kappa_r2_median"] > 0.99 and cal["loo_v_star_pct"] < 1.0
    assert doc["n_scored"] == 8 and doc["mape_pct"] < 2.0  # only the 25-step logging resolution is left
    for e in doc["members"]:
        assert abs(e["error_steps"]) <= 50


def test_forecast_with_shipped_calibration_shows_its_constants(store):
    r = CliRunner().invoke(app, ["forecast", str(store / "wd2")])
    assert r.exit_code == 0, r.output
    assert "κ = 0.252" in r.output and "V★ = 2501" in r.output and "MAPE" in r.output
    v_mem = 3500.0
    want = T_MEM + math.log(v_mem / 2501.0) / (2 * 0.252 * LR * 2.0)
    assert f"forecast T_grok {want:.0f}" in r.output


def test_forecast_bad_calibration_is_one_line(store):
    r = CliRunner().invoke(app, ["forecast", str(store), "--calibration", "nope"])
    assert r.exit_code != 0 and "not a shipped one" in str(r.exception or r.output)


def test_fit_contraction_cli_recovers_kappa(store):
    r = CliRunner().invoke(app, ["fit", "contraction", "--runs", str(store), "--by", "wd", "--json"])
    assert r.exit_code == 0, r.output
    fits = json.loads(r.output)["fits"]
    assert len(fits) == 3
    for f in fits:
        assert f["kappa_median"] == pytest.approx(KAPPA, rel=1e-3) and f["r2_median"] > 0.999


def test_fit_logistic_cli_recovers_lambda_c(tmp_path):
    """Members grok with probability σ(k(log10 λ − log10 λ_c)); the CLI's λ_c CI contains the true one."""
    rng = np.random.default_rng(0)
    lam_c, k = 0.1, 3.0
    src = tmp_path / "src"
    for lam in np.logspace(-2.5, 0.5, 9):
        prob = 1 / (1 + np.exp(-k * (np.log10(lam) - np.log10(lam_c))))
        t = np.where(rng.uniform(size=24) < prob, 500, -1)
        _cell_times(src / f"wd{lam:.4f}.npz", lam, t)
    import_published(src, tmp_path / "runs")
    r = CliRunner().invoke(app, ["fit", "logistic", "--runs", str(tmp_path / "runs"), "--x", "wd", "--json",
                                 "--n-boot", "200"])
    assert r.exit_code == 0, r.output
    f = json.loads(r.output)["fits"][0]
    assert f["ci95"][0] <= lam_c <= f["ci95"][1] and f["n_members"] == 9 * 24


def _cell_times(path: Path, lam: float, t_grok: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, p=np.int64(59), lr=np.float64(LR), lam=np.float64(lam), max_steps=np.int64(10_000),
             T_mem_per_seed=np.full(len(t_grok), T_MEM), T_grok_per_seed=np.asarray(t_grok))
