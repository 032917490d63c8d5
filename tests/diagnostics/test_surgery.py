"""Weight surgery (``train.surgery``): head re-init re-draws only the chosen heads; matched clipping hits its norm."""

from __future__ import annotations

import pytest
import torch

from grokscope.config import RunConfig
from grokscope.config_phases import hash_view
from grokscope.train import surgery
from grokscope.train.interventions import member_sq_norm
from grokscope.train.setup import build


def _params(M: int = 3, d: int = 8, H: int = 4) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    P = {f"blocks.0.attn.{w}": torch.randn(M, d, d, generator=g) for w in ("W_Q", "W_K", "W_V", "W_O")}
    P["blocks.0.attn.b_Q"] = torch.randn(M, d, generator=g)
    P["blocks.0.mlp.W_in"] = torch.randn(M, d, 2 * d, generator=g)
    P["blocks.1.attn.W_Q"] = torch.randn(M, d, d, generator=g)
    return P


def test_reinit_changes_only_the_chosen_heads_of_the_chosen_members():
    P = _params()
    before = {k: v.clone() for k, v in P.items()}
    stds = {k: 0.5 for k in P} | {"blocks.0.attn.b_Q": 0.0}
    surgery.reinit_heads(P, stds, 0, [1, 3], 4, [2], [torch.Generator().manual_seed(5)])
    cols = surgery.head_columns([1, 3], 2, 4)
    other = torch.tensor([i for i in range(8) if i not in cols.tolist()])
    for name in ("W_Q", "W_K", "W_V"):
        p, b = P[f"blocks.0.attn.{name}"], before[f"blocks.0.attn.{name}"]
        assert torch.equal(p[:2], b[:2])  # other members bit-identical
        assert torch.equal(p[2][:, other], b[2][:, other])  # other heads' columns bit-identical
        assert not torch.isclose(p[2][:, cols], b[2][:, cols]).any()  # the chosen heads re-drawn
    W_O, b_O = P["blocks.0.attn.W_O"], before["blocks.0.attn.W_O"]
    assert torch.equal(W_O[2][other], b_O[2][other]) and not torch.isclose(W_O[2][cols], b_O[2][cols]).any()
    assert torch.equal(P["blocks.0.attn.b_Q"][2][cols], torch.zeros(4))  # zero-init bias back to 0
    for name in ("blocks.0.mlp.W_in", "blocks.1.attn.W_Q"):  # other layers and blocks untouched
        assert torch.equal(P[name], before[name])
    # the draw: N(0, std²), reproducible from the generator
    Q = {k: v.clone() for k, v in before.items()}
    surgery.reinit_heads(Q, stds, 0, [1, 3], 4, [2], [torch.Generator().manual_seed(5)])
    assert torch.equal(Q["blocks.0.attn.W_K"], P["blocks.0.attn.W_K"])
    with pytest.raises(ValueError, match="heads"):
        surgery.reinit_heads(P, stds, 0, [4], 4, [0], [torch.Generator()])


def test_clip_hits_the_target_and_the_matched_target_is_the_reinit_norm():
    P = {k: v.double() for k, v in _params().items()}
    names = list(P)
    stds = {k: 0.1 for k in P}
    gens = lambda: [torch.Generator().manual_seed(9)]  # noqa: E731
    want = surgery.norm_after_reinit(P, names, stds, 0, [0], 4, [1], gens())
    assert torch.isnan(want[0]) and torch.isnan(want[2])
    R = {k: v.clone() for k, v in P.items()}
    surgery.reinit_heads(R, stds, 0, [0], 4, [1], gens())
    assert float(want[1]) == pytest.approx(float(member_sq_norm(R, names).sqrt()[1]), rel=1e-12)
    before = {k: v.clone() for k, v in P.items()}
    surgery.clip_to_norm(P, names, want)
    got = member_sq_norm(P, names).sqrt()
    assert float(got[1]) == pytest.approx(float(want[1]), rel=1e-12)
    assert all(torch.equal(P[k][[0, 2]], before[k][[0, 2]]) for k in names)  # NaN target: untouched
    # one common scalar: every tensor of member 1 scaled by the same factor (directions kept)
    ratios = [float(P[k][1].norm() / before[k][1].norm()) for k in names]
    assert max(ratios) - min(ratios) < 1e-12


def test_scheduled_arms_share_the_draw_and_the_clip_matches_the_reinit():
    base = {"task": {"name": "modular", "p": 11, "frac": 0.5},
            "model": {"name": "transformer", "d_model": 16, "n_heads": 4, "d_mlp": 32}, "train": {"steps": 3}}
    arms = {"reinit": {"reinit_heads": {"step": 2, "heads": [1]}},
            "clip": {"clip_norm": {"step": 2, "match_heads": [1]}}}
    norms = {}
    for arm, iv in arms.items():
        s = build(RunConfig.model_validate({**base, "intervene": iv}), torch.device("cpu"))
        ws = s.iv.weights
        s.iv.after_step(1, torch.ones(1))  # not the step: nothing happens
        w0 = {k: v.detach().clone() for k, v in s.params.items()}
        s.iv.after_step(2, torch.ones(1))
        norms[arm] = float(member_sq_norm(s.params, ws).sqrt()[0].detach())
        changed = {k for k in w0 if not torch.equal(w0[k], s.params[k].detach())}
        if arm == "reinit":
            assert changed == {"blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.0.attn.W_V", "blocks.0.attn.W_O"}
        else:
            assert changed == set(ws)
    assert norms["clip"] == pytest.approx(norms["reinit"], rel=1e-6)
    view = hash_view(RunConfig().model_dump(mode="json"))["intervene"]
    assert "reinit_heads" not in view and "clip_norm" not in view  # unset: out of the run id's hash


def test_rule_actions_reinit_and_matched_clip_share_the_draw():
    """The on-alarm actions ``reinit_heads`` / ``clip_norm`` (train/actions.py) call the same kernels: only the
    chosen heads change, and a matched clip at the same draw count hits the re-initialised norm."""
    from grokscope.train.actions import ACTIONS

    rule = {"name": "r", "metric": "train/loss", "op": "<", "threshold": 0.0,
            "actions": [{"action": "reinit_heads", "heads": [1]}]}
    cfg = {"task": {"name": "modular", "p": 11, "frac": 0.5}, "members": {"seeds": 2},
           "model": {"name": "transformer", "d_model": 16, "n_heads": 4, "d_mlp": 32}, "train": {"steps": 3},
           "intervene": {"on_alarm": [rule]}}
    norms = {}
    for arm in ("reinit", "clip"):
        s = build(RunConfig.model_validate(cfg), torch.device("cpu"))
        w0 = {k: v.detach().clone() for k, v in s.params.items()}
        if arm == "reinit":
            text = ACTIONS["reinit_heads"](s, 1, heads=[1])
            changed = {k for k in w0 if not torch.equal(w0[k][1], s.params[k][1].detach())}
            assert changed == {"blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.0.attn.W_V", "blocks.0.attn.W_O"}
            assert "heads [1]" in text
        else:
            ACTIONS["clip_norm"](s, 1, match_heads=[1])
        assert all(torch.equal(w0[k][0], s.params[k][0].detach()) for k in w0)  # member 0 untouched
        assert s.controls.draws.tolist() == [0, 1]
        norms[arm] = float(member_sq_norm(s.params, s.iv.weights).sqrt()[1].detach())
    assert norms["clip"] == pytest.approx(norms["reinit"], rel=1e-6)
    ACTIONS["clip_norm"](s, 0, factor=0.5)
    assert float(member_sq_norm(s.params, s.iv.weights).sqrt()[0]) == pytest.approx(
        0.5 * float(member_sq_norm(w0, s.iv.weights).sqrt()[0]), rel=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        ACTIONS["clip_norm"](s, 0, target=1.0, factor=2.0)
