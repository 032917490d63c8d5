"""grokscope plot: the format the suffix names, any stored metric, one line for an unknown metric or suffix."""

from __future__ import annotations

import pytest
from tests.hardening.cli_inproc import cli

MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_plot_writes_the_format_its_suffix_names(capsys, tiny_run, tmp_path, suffix):
    out = tmp_path / f"x{suffix}"
    res = cli(capsys, "plot", tiny_run.path, "--out", out)
    assert res.code == 0, res.err
    assert out.read_bytes().startswith(MAGIC[suffix])
    if suffix == ".svg":
        assert b"<svg" in out.read_bytes()[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no checksum sidecar beside a user's file


def test_plot_any_stored_metric_per_member_or_mean(capsys, tiny_run, tmp_path):
    for flags, name in ((["--members", "--log"], "a.svg"), (["--mean", "--linear-steps"], "b.pdf")):
        out = tmp_path / name
        res = cli(capsys, "plot", tiny_run.path, "--metric", "logit/scale", "--metric", "norm/total", *flags,
                  "--out", out)
        assert res.code == 0, res.err
        assert out.stat().st_size > 1000


def test_mean_and_range_are_over_the_members_measured_at_each_step(tiny_run):
    import numpy as np

    from grokscope.report.metric_plot import mean_range, series

    df = tiny_run.metrics()
    per = series(df, "norm/total")
    assert sorted(per) == [0, 1]
    steps, mean, lo, hi = mean_range(per)
    wide = df[df.metric == "norm/total"].pivot(index="step", columns="member", values="value").loc[steps]
    np.testing.assert_allclose(mean, wide.mean(axis=1).to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(lo, wide.min(axis=1).to_numpy())
    np.testing.assert_array_equal(hi, wide.max(axis=1).to_numpy())
    assert (lo < hi).any()  # two different seeds: a real range


@pytest.mark.parametrize("args, words", [
    (["--metric", "norm/totl"], ["no metric 'norm/totl'", "norm/total"]),
    (["--out", "x.jpg"], [".png, .pdf or .svg"]),
])
def test_plot_mistakes_are_one_line(capsys, tiny_run, tmp_path, args, words):
    res = cli(capsys, "plot", tiny_run.path, *[tmp_path / a if a.endswith(".jpg") else a for a in args])
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err
    for w in words:
        assert w in res.err
    assert not list(tmp_path.iterdir())  # nothing written
