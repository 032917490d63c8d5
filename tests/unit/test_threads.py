"""``--threads auto`` and the over-subscription warning (issue 12)."""

from __future__ import annotations

import pytest

from grokscope.config import load_config
from grokscope.errors import UserError
from grokscope.train import threads


def test_auto_gives_small_models_one_thread_and_a_large_step_the_free_cores(monkeypatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 4)
    assert threads.auto_threads(load_config("quick"), free=4.0) == 1  # a small model loses to contention
    nanda = load_config("nanda")
    assert threads.step_flops(nanda) > threads.GAIN_FLOPS
    assert threads.auto_threads(nanda, free=4.0) == 4
    assert threads.auto_threads(nanda, free=2.1) == 2
    assert threads.auto_threads(nanda, free=1.0) == 1  # a busy machine
    assert threads.auto_threads(nanda, device="cuda", free=4.0) == 1


def test_threads_above_the_cores_warn_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 2)
    assert threads.resolve(64, None) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "more than the 2 cores" in err
    assert threads.resolve(2, None) == 2 and capsys.readouterr().err == ""


def test_bad_thread_counts_are_user_errors(monkeypatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 4)
    for bad in ("many", 0, "-1"):
        with pytest.raises(UserError):
            threads.resolve(bad, load_config("quick"))
    assert threads.resolve(None, None, default=1) == 1
    assert threads.resolve("3", None) == 3  # a numeric string is a count
