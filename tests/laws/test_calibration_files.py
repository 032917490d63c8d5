"""A user's own calibration: measured on a cell, saved with ``forecast --save-calibration``, then used by the online
``first_passage`` probe through ``eval.probe_options`` (and by a later ``forecast --calibration FILE``)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.errors import UserError
from grokscope.laws.forecast import Calibration, load_calibration, save_calibration
from grokscope.laws.importer import import_published
from grokscope.probes import PROBES, ProbeSet
from grokscope.probes.first_passage import FirstPassageForecast

from .test_forecast import KAPPA, V_STAR, _law_cell


def test_saved_calibration_round_trips_and_drives_a_later_forecast(tmp_path):
    for lam in (1.0, 2.0):
        _law_cell(tmp_path / "src" / f"wd{lam:g}.npz", lam)
    import_published(tmp_path / "src", tmp_path / "runs")
    cal_file = tmp_path / "my-cal.json"
    r = CliRunner().invoke(app, ["forecast", str(tmp_path / "runs" / "wd2"), "--calibration",
                                 str(tmp_path / "runs" / "wd1"), "--save-calibration", str(cal_file), "--json"])
    assert r.exit_code == 0, r.output
    cal = load_calibration(cal_file)
    assert cal.kappa == pytest.approx(KAPPA, rel=0.01) and cal.v_star == pytest.approx(V_STAR, rel=0.02)
    again = CliRunner().invoke(app, ["forecast", str(tmp_path / "runs" / "wd2"), "--calibration", str(cal_file),
                                     "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["mape_pct"] == pytest.approx(json.loads(r.output)["mape_pct"])


@pytest.mark.parametrize("text", ["{not json", '{"calibration": {"name": "x"}}',
                                  '{"calibration": {"name": "x", "kappa": -1, "v_star": 5, "source": "s"}}'])
def test_bad_calibration_file_is_one_user_error(tmp_path, text):
    f = tmp_path / "c.json"
    f.write_text(text)
    with pytest.raises(UserError):
        load_calibration(f)


def _ctx(acc_ok: bool, v: float):
    """A minimal evaluation context: 1 member, 2 training points (both right when ``acc_ok``), ‖W‖² = v."""
    from grokscope.probes.base import EvalContext

    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])
    y = torch.tensor([[0, 1]]) if acc_ok else torch.tensor([[1, 0]])
    w = torch.full((1, 1), math.sqrt(v))
    return EvalContext(params={"W": w}, groups={"all": ["W"]}, logits=logits, y=y, y_train=y,
                       train_idx=torch.tensor([[0, 1]]), test_idx=torch.tensor([[0, 1]]), loss_name="ce", step=0,
                       lr=torch.tensor([1e-3]), wd=torch.tensor([1.0]))


def test_probe_options_reach_the_probe_and_its_events(tmp_path):
    f = save_calibration(Calibration("mine", 0.5, 100.0, "test"), tmp_path / "c.json")
    ps = ProbeSet([PROBES.get("first_passage")], {"first_passage": {"calibration": str(f)}})
    probe = ps.instances[0]
    ctx = _ctx(True, 400.0)
    ctx.step = 10
    out = probe(ctx)
    assert out["forecast/t_grok"].item() == pytest.approx(10 + math.log(4.0) / (2 * 0.5 * 1e-3))
    ev = probe.events()
    assert ev["forecast/kappa"] == [0.5] and ev["forecast/v_star"] == [100.0]
    assert FirstPassageForecast(kappa=0.3).kappa == 0.3  # an explicit κ overrides the shipped calibration


@pytest.mark.parametrize("options, says", [({"first_passage": {"kapa": 1}}, "kapa"),
                                           ({"lar": {}}, "no such probe"),
                                           ({"first_passage": {"calibration": "nope"}}, "not a shipped one"),
                                           ({"first_passage": {"kappa": -1.0}}, "> 0")])
def test_bad_probe_options_are_one_line(options, says):
    with pytest.raises(UserError, match=says):
        ProbeSet([PROBES.get("first_passage")], options)


def test_probe_options_are_a_config_field_and_a_wrong_shape_is_refused():
    import copy

    from grokscope.config import validate
    from grokscope.presets import PRESETS

    data = copy.deepcopy(PRESETS["quick"].config)
    data.setdefault("eval", {})["probe_options"] = {"first_passage": {"calibration": "x.json"}}
    assert validate(data).eval.probe_options == {"first_passage": {"calibration": "x.json"}}
    data["eval"]["probe_options"] = {"first_passage": 3}
    with pytest.raises(UserError):
        validate(data)
