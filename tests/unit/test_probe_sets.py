"""Probe sets in ``eval.probes`` and probes a model cannot serve (probes/sets.py, probes/base.py ``resolve``)."""

from __future__ import annotations

import pytest

from grokscope.errors import UserError
from grokscope.models.base import ModelRoles
from grokscope.probes import PROBES, resolve
from grokscope.probes.sets import PROBE_SETS, expand

MLP_ROLES = ModelRoles(embed="W_E", unembed="W_U", unembed_in="hook_unembed_in", layers=("W_in", "W_U"),
                       hidden=("mlp.hook_post",))


def test_sets_expand_in_place_without_duplicates():
    assert expand(["default", "lar", "gmm", "norms"]) == [*PROBE_SETS["default"], "lar", "gmm"]
    assert expand(["gmm", "default"])[0] == "gmm"
    assert all(name in PROBES for name in PROBE_SETS["default"])


def test_default_set_keeps_the_core_metrics():
    assert {"accuracy", "norms", "logits"} <= set(PROBE_SETS["default"])


def test_unknown_probe_is_one_user_error_line():
    with pytest.raises(UserError) as e:
        resolve(["default", "larr"])
    assert "\n" not in str(e.value) and "'larr'" in str(e.value) and "lar" in str(e.value)


def test_a_probe_the_model_cannot_serve_is_skipped_with_one_warning():
    lines: list[str] = []
    probes = resolve(["default", "attention", "graph"], MLP_ROLES, warn=lines.append)
    names = [p.name for p in probes]
    assert "attention" not in names and "graph" in names
    assert lines == ["warning: probe 'attention' skipped: the model has no attention layers"]
    assert [p.name for p in resolve(["attention"], None)] == ["attention"]  # roles unknown: nothing skipped
