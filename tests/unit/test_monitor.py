"""monitor/: the Monitor on a user's own model writes a run that show / runs / report read; bad input is one line."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from grokscope import Monitor
from grokscope.api import Run
from grokscope.errors import UserError


class Tiny(nn.Module):
    def __init__(self, V=50, d=32):
        super().__init__()
        self.emb, self.ln_f, self.lm_head = nn.Embedding(V, d), nn.LayerNorm(d), nn.Linear(d, V)

    def forward(self, x):
        return self.lm_head(self.ln_f(self.emb(x).mean(1)))


def _train(mon, model, steps=41, labels=False):
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), 1e-2, weight_decay=0.5)
    x = torch.randint(0, 50, (128, 4))
    y = x.sum(1) % 50
    for step in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(step, optimizer=opt, inputs=x[:32], labels=y[:32] if labels else None)
    mon.close()
    return x, y


@pytest.fixture(scope="module")
def mon_run(tmp_path_factory):
    torch.manual_seed(0)
    model = Tiny()
    out = tmp_path_factory.mktemp("mon") / "mine"
    mon = Monitor(model, unembed="lm_head", hidden="ln_f", probes=["norms", "logits"], out=out, every=2,
                  detector={"window": 5, "calibrate": 5})
    _train(mon, model)
    return out, mon, model


def test_monitor_run_is_a_grokscope_run(mon_run):
    out, mon, model = mon_run
    r = Run(out)
    assert r.complete and r.meta["source"] == "monitor"
    df = r.metrics(wide=True)
    assert sorted(df.step) == list(range(0, 41, 2))  # every=2; the last measured step is the last update
    w = model.lm_head.weight.detach()
    sq = w.square().sum() + model.emb.weight.detach().square().sum()
    assert df["norm/total"].iloc[-1] == pytest.approx(sq.sqrt().item(), rel=1e-5)  # final weights, biases excluded
    assert "logit/sc_frac" not in df.columns  # reads labels: none were given
    ev = r.events[0]
    assert ev["censored"] is None and "alarm/ews_norm.total" in ev
    assert r.meta["label_free"]["norm/total"] is True


@pytest.mark.slow  # the report draws figures (matplotlib)
def test_show_runs_and_report_read_it(mon_run, tmp_path):
    out, _, _ = mon_run
    from typer.testing import CliRunner

    from grokscope.cli import app

    p = CliRunner().invoke(app, ["show", str(out), "--json"])
    assert p.exit_code == 0, p.output
    doc = json.loads(p.stdout)
    assert doc["status"] == "complete" and doc["members"][0]["final"]["norm/total"] > 0
    from grokscope.report.html import write_report
    from grokscope.store.catalog import Catalog

    cat = Catalog(out.parent)
    rows = cat.df("select member, alarm_ews_norm_total from members")
    assert len(rows) == 1
    cat.close()
    html = write_report(out.parent, tmp_path / "rep").read_text()
    assert "mine" in html


def test_labels_unlock_label_reading_metrics(tmp_path):
    model = Tiny()
    mon = Monitor(model, probes=["logits"], out=tmp_path / "lab", every=5)
    _train(mon, model, steps=10, labels=True)
    assert "logit/sc_frac" in Run(tmp_path / "lab").metrics(wide=True).columns


def test_bad_input_is_one_line(tmp_path):
    model = Tiny()
    with pytest.raises(UserError, match="no module 'head'"):
        Monitor(model, unembed="head", out=tmp_path / "a")
    with pytest.raises(UserError, match="unknown probe"):
        Monitor(model, probes=["nope"], out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    mon = Monitor(model, probes=["accuracy"], out=tmp_path / "c")
    with pytest.raises(UserError, match="reads labels"):
        mon.step(0, inputs=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(UserError, match="exists"):
        Monitor(model, out=tmp_path / "c")


def test_lazy_export():
    import grokscope

    assert grokscope.Monitor is Monitor
