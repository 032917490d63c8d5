"""Run names from overrides (issue 12, stumble 4), reset notes (stumble 7), YAML line/column (stumble 6)."""

from __future__ import annotations

import re

import pytest

from grokscope.config import NAME_RE, load_config
from grokscope.config_names import derived_name
from grokscope.errors import UserError


def test_a_changed_task_names_the_run_by_what_differs() -> None:
    cfg = load_config("quick", ["task.op=x2xyy2", "task.p=31"])
    assert cfg.name == "quick-op=x2xyy2-p=31"
    assert re.fullmatch(NAME_RE, cfg.name)


def test_name_given_wins_and_non_task_overrides_keep_the_preset_name() -> None:
    assert load_config("quick", ["task.p=31", "name=mine"]).name == "mine"
    assert load_config("quick", ["optim.lr=3e-3"]).name == "quick"
    assert load_config({"preset": "quick", "name": "x", "task": {"p": 31}}).name == "x"  # sweeps name their runs


def test_a_file_starting_from_a_preset_is_named_too(tmp_path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('preset = "quick"\n[model]\nd_hidden = 64\n')
    assert load_config(f).name == "quick-d_hidden=64"


def test_derived_names_stay_one_bounded_path_component() -> None:
    name = derived_name("clevix-mlp", [f"k{i}=value{i}" for i in range(40)])
    assert len(name) <= 100 and re.fullmatch(NAME_RE, name)
    cfg = load_config("quick", ["task.op=x2xyy2", "task.p=31", "model.d_hidden=512", "model.act=gelu"])
    assert re.fullmatch(NAME_RE, cfg.name) and "/" not in cfg.name


def test_a_hostile_name_is_still_refused() -> None:
    with pytest.raises(UserError):
        load_config("quick", ["name=../escape"])


def test_switching_task_name_says_which_fields_it_reset() -> None:
    notes: list[str] = []
    load_config("quick", ["task.name=modular", "task.p=43"], notes)
    assert len(notes) == 1 and "task.frac (0.4 -> 0.3)" in notes[0] and "task.p" not in notes[0]
    notes.clear()
    load_config("quick", ["optim.lr=1e-3"], notes)
    assert notes == []


def test_yaml_parse_errors_keep_line_and_column(tmp_path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("task:\n  p: 31\n  op: [add\nmodel: {}\n")
    with pytest.raises(UserError) as e:
        load_config(f)
    msg = str(e.value)
    assert "\n" not in msg and re.search(r"line 4, column \d+", msg), msg
