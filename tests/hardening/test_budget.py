"""Resource estimates before allocation (issue 11): oversized configs are one line with the estimate, nothing
is written, and no preset is refused."""

from __future__ import annotations

import pytest

from grokscope.config import load_config
from grokscope.presets import PRESETS
from grokscope.train import budget

from .cli_inproc import assert_one_line, cli


@pytest.mark.parametrize("bad, expect", [
    ("task.p=2000", "GiB of memory"), ("model.d_hidden=1e8", "GiB of memory"),
    ("eval.points=1000000000", "evaluation points"), ("checkpoint.count=1000000000", "checkpoints"),
    ("members.seeds=1000000", "members"),
])
def test_oversized_config_refused_before_allocation(bad, expect, capsys, tmp_path):
    o = cli(capsys, "run", "quick", "--out", tmp_path / "o", "-q", "--set", "train.steps=1", "--set", bad)
    assert_one_line(o, "error:", expect)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_fit(name):
    budget.check(load_config(name), "cpu")  # raises if refused


def test_estimate_grows_with_the_config():
    small, big = load_config("quick"), load_config("quick", ["task.p=97"])
    assert budget.estimate_bytes(big) > budget.estimate_bytes(small) > 0
