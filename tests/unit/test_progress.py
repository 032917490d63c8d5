"""The progress line (issue 12, stumble 5) and the plain lines of a redirected run (stumble 1)."""

from __future__ import annotations

import io

from grokscope.cli_progress import PlainLines, time_label
from grokscope.progress import ProgressState, clock, finished_note


def _state(now: float = 100.0) -> ProgressState:
    s = ProgressState(total=100_000, members=4, grok_threshold=0.9)
    s.update(0, {"test/acc": [0.0] * 4, "train/acc": [0.1] * 4, "norm/total": [40.0] * 4}, now=now)
    s.update(25_000, {"test/acc": [0.95, 0.2, 0.3, 0.91], "train/acc": [1.0] * 4, "norm/total": [30.5, 31, 32, 33]},
             now=now + 50.0)
    return s


def test_line_at_80_columns_keeps_total_time_rate_and_grokked() -> None:
    s = _state()
    line = s.line(80, now=150.0)
    assert len(line) <= 80
    assert "step 25000/100000" in line
    assert "0:50<2:30" in line  # 500 steps/s, 75000 left
    assert "500.0 steps/s" in line
    assert "2/4 grokked" in line
    assert "|" in line  # a bar, when there is room for one


def test_line_drops_details_before_the_total_and_time() -> None:
    s = _state()
    narrow = s.line(40, now=150.0)
    assert len(narrow) <= 40 and "25000/100000" in narrow and "0:50<2:30" in narrow
    wide = s.line(200, now=150.0)
    assert "test 0.20-0.95" in wide and "train 1.00" in wide and "|W| 30.5-33.0" in wide


def test_grokked_counts_members_that_ever_reached_the_threshold() -> None:
    s = _state()
    s.update(30_000, {"test/acc": [0.5, 0.2, 0.3, 0.95]}, now=200.0)  # member 0 fell back: still grokked once
    assert sum(s.grokked) == 2


def test_stop_on_grok_bar_ends_full_and_says_stopped_early() -> None:
    s = _state()
    note = finished_note(25_000, s.total)
    assert "stopped early at 25000" in note
    line = s.line(80, done=note)
    assert "stopped early" in line and ".|" not in line and "#|" in line  # the bar is full
    assert finished_note(100_000, 100_000) == "done"


def test_plain_lines_first_eval_then_by_time_then_at_the_end(monkeypatch) -> None:
    import grokscope.cli_progress as cp

    t = [0.0]
    monkeypatch.setattr(cp.time, "monotonic", lambda: t[0])
    out = io.StringIO()
    p = PlainLines(ProgressState(total=2000, members=1), every=10.0, out=out)
    for step in range(0, 1500, 100):  # an evaluation every second of fake time
        p.state.update(step, {"test/acc": [0.1], "train/acc": [1.0]}, now=t[0])
        p(step, {"test/acc": [0.1], "train/acc": [1.0]})
        t[0] += 1.0
    p.finish(2000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + 1  # step 0, step 1000-ish after 10 s, and the end
    assert lines[0].startswith("step 0/2000") and lines[1].startswith("step 1000/2000") and "done" in lines[-1]


def test_summary_labels_a_resumed_part_as_such() -> None:
    meta = {"train_seconds": 12.0, "steps_per_second": 80.0, "last_part": {"from": 4000, "to": 5000, "seconds": 12.0}}
    assert time_label(meta).startswith("resumed part 4000..5000: 12.0 s, 80.0 steps/s")
    assert time_label({**meta, "last_part": {"from": 0, "to": 5000}}) == "12.0 s, 80.0 steps/s"
    assert not time_label(meta, forked_at=4000).startswith("resumed")  # a branch's time is its own


def test_clock() -> None:
    assert clock(59) == "0:59" and clock(3725) == "1:02:05" and clock(None) == "-:--"


def test_notebook_bar_falls_back_to_rich_without_tqdm(monkeypatch, capsys) -> None:
    from grokscope import progress_bar
    from grokscope.config import load_config

    monkeypatch.setattr(progress_bar, "_tqdm", lambda: None)
    seen = []
    cfg = load_config("quick", ["train.steps=1000"])
    with progress_bar.notebook_progress(cfg, False, lambda t, v: seen.append(t)) as cb:
        cb(0, {"test/acc": [0.0] * 4})
        cb(500, {"test/acc": [0.95, 0.1, 0.1, 0.1]})
    err = capsys.readouterr().err
    assert "500/1000" in err and "1/4 grokked" in err and seen == [0, 500]
