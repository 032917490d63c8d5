"""`reproduce hef` and `reproduce two-field` end to end at their ``tiny`` scales (``long``: ~1.5 min CPU each on a
2-core machine, over the default suite's budget); the kernels are tested in ``test_kernels.py``/``test_portrait.py``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from grokscope.experiments import base
from grokscope.experiments.run import run_experiment

VERDICTS = ("reproduced", "shape reproduced", "not reproduced", "contradicted")


def test_both_experiments_are_registered_with_a_tiny_scale() -> None:
    reg = base.load_all()
    for name in ("hef", "two-field"):
        exp = reg.get(name)
        assert {"quick", "paper", "tiny"} <= set(exp.scales)
    q = reg.get("hef").params("quick")
    grid = len(q["init_scales"]) * len(q["wds"]) * len(q["fracs"]) * q["seeds"]
    assert grid + q["arch_seeds"] == 111


@pytest.mark.long
def test_tiny_hef_writes_the_paper_rows_with_verdicts(tmp_path: Path) -> None:
    run_experiment(base.load_all().get("hef"), "tiny", tmp_path, workers=1)
    table = json.loads((tmp_path / "hef" / "claims.json").read_text())
    claims = " ".join(r["claim"] for r in table["rows"])
    for key in ("peaks before T_grok", "tanh kink", "final test accuracy", "ANOVA", "Jaccard", "CKA",
                "critical energy"):
        assert key in claims, key
    assert all(r["verdict"] in VERDICTS for r in table["rows"])
    rate = next(r for r in table["rows"] if "peaks before" in r["claim"])
    assert 0.0 <= float(rate["measured"]["value"]) <= 1.0


@pytest.mark.long
def test_tiny_two_field_writes_rows_and_figures(tmp_path: Path) -> None:
    run_experiment(base.load_all().get("two-field"), "tiny", tmp_path, workers=1)
    out = tmp_path / "two-field"
    table = json.loads((out / "claims.json").read_text())
    assert len(table["rows"]) == 4 and all(r["verdict"] in VERDICTS for r in table["rows"])
    assert (out / "figures" / "sigma-across-runs.png").is_file()
    assert list((out / "figures").glob("portrait-*.png"))
    balance = table["rows"][3]["measured"]["value"]
    assert balance == "nan" or 0.0 <= float(balance) <= 1.0 or math.isnan(float(balance))
