"""``grokscope analyze barrier``: JSON with the barrier, the plot, bad input."""

from __future__ import annotations

import json

import pytest
from tests.hardening.cli_inproc import assert_one_line, cli

from grokscope.escape import modes


def test_barrier_json(capsys, tmp_path):
    o = cli(capsys, "analyze", "barrier", "--depth", "3", "--s", "1.0", "--gamma", "0.2", "--json",
            "--plot", tmp_path / "b.png")
    assert o.code == 0, o.err
    j = json.loads(o.out)
    assert j["barrier"] == pytest.approx(modes.barrier(3, 1.0, 0.2)) and j["barrier_grid"] == pytest.approx(j["barrier"])
    assert j["gamma_c"] == pytest.approx(modes.critical(3, 1.0)) and "reconstructed" in j
    assert j["hysteresis"]["down_sweep_returns_on_at"] is None
    assert (tmp_path / "b.png").stat().st_size > 1000


@pytest.mark.parametrize("args,msg", [(("--s", "-1"), "s must be > 0"), (("--depth", "0"), "depth"),
                                      (("--gamma", "-0.1"), "gamma must be >= 0")])
def test_barrier_bad_input(capsys, args, msg):
    assert msg in assert_one_line(cli(capsys, "analyze", "barrier", *args))
