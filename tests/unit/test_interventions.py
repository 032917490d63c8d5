"""Interventions between optimizer steps: norm clamps, rescale, weight-decay switches, norm freezing,
label noise, Langevin noise; none of them touches the optimizer state."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from grokscope.config import load_config
from grokscope.train.interventions import member_sq_norm
from grokscope.train.loop import update
from grokscope.train.setup import build

CPU = torch.device("cpu")
MLP = {"name": "mlp", "d_embed": 8, "d_hidden": 16, "act": "gelu"}


def cfg_dict(dtype="float64", seeds=2, **sections):
    cfg = {"task": {"name": "modular", "op": "add", "p": 11, "frac": 0.5},
           "model": copy.deepcopy(MLP),
           "optim": {"lr": 3e-2, "wd": 1.0},
           "train": {"steps": 40, "dtype": dtype},
           "eval": {"points": 5},
           "members": {"seeds": seeds},
           "checkpoint": {"count": 0}}
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict) and k != "model":
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


def trainer(d):
    return build(load_config(d), CPU)


def norm(tr, names=None):
    names = names if names is not None else tr.model.weight_names
    return torch.stack([tr.model.P[n].detach().double().pow(2).flatten(1).sum(1) for n in names]).sum(0).sqrt()


def snapshot(tr):
    return {n: p.detach().clone() for n, p in tr.model.P.items()}


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-6)])
@pytest.mark.parametrize("mode", ["target", "rho"])
def test_clamp_holds_norm_exactly(dtype, tol, mode):
    from_step = 6
    clamp = {"target": 3.0} if mode == "target" else {"rho": 0.75, "w_c": 4.0}
    want = 3.0
    tr = trainer(cfg_dict(dtype, intervene={"clamp": {**clamp, "from_step": from_step}}))
    control = trainer(cfg_dict(dtype))
    assert abs(float(norm(tr)[0]) - want) > 0.1  # the init norm is not already at the target
    for t in range(20):
        update(tr, t)
        update(control, t)
        n = norm(tr)
        if t + 1 >= from_step:
            for m in range(2):
                assert abs(float(n[m]) - want) <= tol * want, (t, float(n[m]))
        else:  # free before from_step: exactly the control trajectory
            for name, p in tr.model.P.items():
                assert torch.equal(p, control.model.P[name])
    assert not torch.allclose(norm(control), torch.full((2,), want, dtype=torch.float64), rtol=1e-3)


def test_clamp_from_step_zero_applies_after_first_update():
    tr = trainer(cfg_dict(intervene={"clamp": {"target": 2.0}}))
    update(tr, 0)
    torch.testing.assert_close(norm(tr), torch.full((2,), 2.0, dtype=torch.float64), rtol=1e-12, atol=0)


def test_clamp_exact_for_small_norms():
    """Relative exactness must not depend on the scale of the weights (no additive epsilon in the ratio)."""
    tr = trainer(cfg_dict(optim={"lr": 1e-7}, intervene={"clamp": {"target": 1e-4}}))
    for t in range(3):
        update(tr, t)
        torch.testing.assert_close(norm(tr), torch.full((2,), 1e-4, dtype=torch.float64), rtol=1e-12, atol=0)


def test_per_member_clamp_targets_via_vary():
    d = cfg_dict(seeds=[0], intervene={"clamp": {"rho": 1.0, "w_c": 4.0, "from_step": 2}},
                 members={"seeds": [0], "vary": {"intervene.clamp.rho": [None, 0.5, 1.5]}})
    tr = trainer(d)
    control = trainer(cfg_dict(seeds=[0]))
    assert tr.M == 3
    for t in range(10):
        update(tr, t)
        update(control, t)
    n = norm(tr)
    assert abs(float(n[1]) - 2.0) < 1e-12 * 2.0
    assert abs(float(n[2]) - 6.0) < 1e-12 * 6.0
    # member 0 has no clamp: it follows the free control trajectory exactly
    for name, p in tr.params.items():
        torch.testing.assert_close(p[0], control.params[name][0], rtol=1e-12, atol=1e-12)
    assert abs(float(n[0]) - float(norm(control)[0])) < 1e-10


def test_per_member_absolute_targets_via_vary():
    d = cfg_dict(seeds=[0], intervene={"clamp": {"target": 1.0}},
                 members={"seeds": [0], "vary": {"intervene.clamp.target": [2.5, 7.0]}})
    tr = trainer(d)
    for t in range(5):
        update(tr, t)
    torch.testing.assert_close(norm(tr), torch.tensor([2.5, 7.0], dtype=torch.float64), rtol=1e-12, atol=0)


def test_per_group_clamp():
    targets = {"embed": 1.5, "hidden": 2.0, "unembed": 0.7}
    tr = trainer(cfg_dict(intervene={"clamp": {"per_group": targets, "from_step": 0}}))
    for t in range(8):
        update(tr, t)
        for g, target in targets.items():
            torch.testing.assert_close(norm(tr, tr.model.groups[g]), torch.full((2,), target, dtype=torch.float64),
                                       rtol=1e-12, atol=0)


def test_clamp_on_selected_groups_only():
    tr = trainer(cfg_dict(intervene={"clamp": {"target": 1.25, "groups": ["unembed"]}}))
    control = trainer(cfg_dict())
    for t in range(6):
        update(tr, t)
        update(control, t)
    torch.testing.assert_close(norm(tr, ["W_U"]), torch.full((2,), 1.25, dtype=torch.float64), rtol=1e-12, atol=0)
    assert not torch.allclose(norm(tr, ["W_E", "W_in"]), torch.full((2,), 1.25, dtype=torch.float64), rtol=1e-3)
    # the first update's other groups are untouched by the clamp
    tr1, c1 = trainer(cfg_dict(intervene={"clamp": {"target": 1.25, "groups": ["unembed"]}})), trainer(cfg_dict())
    update(tr1, 0)
    update(c1, 0)
    assert torch.equal(tr1.params["W_in"], c1.params["W_in"]) and torch.equal(tr1.params["W_E"], c1.params["W_E"])
    torch.testing.assert_close(tr1.params["W_U"], c1.params["W_U"] * (1.25 / norm(c1, ["W_U"])).view(-1, 1, 1),
                               rtol=1e-12, atol=1e-14)


def test_unknown_clamp_group_rejected():
    with pytest.raises(ValueError, match="unknown group"):
        trainer(cfg_dict(intervene={"clamp": {"target": 1.0, "groups": ["attn"]}}))
    with pytest.raises(ValueError, match="unknown group"):
        trainer(cfg_dict(intervene={"clamp": {"per_group": {"nope": 1.0}}}))


@pytest.mark.parametrize("group", [None, "hidden"])
def test_one_shot_rescale(group):
    k, factor = 4, 2.5
    tr = trainer(cfg_dict(intervene={"rescale": {"step": k, "factor": factor, "group": group}}))
    control = trainer(cfg_dict())
    scaled = set(tr.model.groups[group]) if group else set(tr.model.weight_names)
    for t in range(k):
        update(tr, t)
        update(control, t)
        if t + 1 < k:
            for n, p in tr.model.P.items():
                assert torch.equal(p, control.model.P[n])
    for n, p in tr.model.P.items():  # right after update k: exactly factor × the control, only where asked
        if n in scaled:
            torch.testing.assert_close(p, control.model.P[n] * factor, rtol=1e-15, atol=0)
        else:
            assert torch.equal(p, control.model.P[n])
    before = snapshot(tr)
    update(tr, k)  # one-shot: the next update does not rescale again
    ratio = norm(tr) / norm(control)
    assert float(ratio.max()) < factor * 1.05
    assert any(not torch.equal(before[n], tr.model.P[n]) for n in scaled)


def test_wd_off_step():
    S = 5
    tr = trainer(cfg_dict(intervene={"wd_off_step": S}))
    ref = trainer(cfg_dict())
    for t in range(15):
        if t == S:
            ref.wd.zero_()  # from update S+1 on: the wd=0 trajectory
        update(tr, t)
        update(ref, t)
    for n, p in tr.params.items():
        torch.testing.assert_close(p, ref.params[n], rtol=1e-13, atol=1e-15)
    decayed = trainer(cfg_dict())
    for t in range(15):
        update(decayed, t)
    assert not torch.allclose(decayed.params["W_in"], tr.params["W_in"])


def test_wd_off_from_start_equals_wd_zero_run():
    tr = trainer(cfg_dict(intervene={"wd_off_step": 0}))
    zero = trainer(cfg_dict(optim={"lr": 3e-2, "wd": 0.0}))
    for t in range(10):
        update(tr, t)
        update(zero, t)
    for n, p in tr.params.items():
        torch.testing.assert_close(p, zero.params[n], rtol=1e-13, atol=1e-15)


def test_wd_off_at_t_mem_per_member():
    tr = trainer(cfg_dict(intervene={"wd_off_at_t_mem": True}))
    ref = trainer(cfg_dict())
    for t in range(3):
        update(tr, t)
        update(ref, t)
    tr.iv.on_eval(3, torch.tensor([1.0, 0.2]), 0.99)  # member 0 memorised at step 3
    assert tr.iv.t_mem_seen.tolist() == [3, -1]
    assert tr.iv.wd_mask(3).tolist() == [0.0, 1.0]
    ref.wd[0] = 0.0
    for t in range(3, 10):
        update(tr, t)
        update(ref, t)
    for n, p in tr.params.items():
        torch.testing.assert_close(p, ref.params[n], rtol=1e-13, atol=1e-15)


def test_freeze_norm_at_t_mem():
    tr = trainer(cfg_dict(intervene={"freeze_norm_at_t_mem": True}))
    control = trainer(cfg_dict())
    for t in range(4):
        update(tr, t)
        update(control, t)
    for n, p in tr.params.items():  # nothing frozen yet: free trajectory
        assert torch.equal(p, control.params[n])
    frozen = float(norm(tr)[0])
    tr.iv.on_eval(4, torch.tensor([0.995, 0.5]), 0.99)  # member 0 memorised at step 4, member 1 not
    tr.iv.on_eval(5, torch.tensor([0.2, 0.5]), 0.99)  # later evals do not move T_mem
    assert tr.iv.t_mem_seen.tolist() == [4, -1]
    free_norms = []
    for t in range(4, 12):
        update(tr, t)
        n = norm(tr)
        assert abs(float(n[0]) - frozen) <= 1e-12 * frozen
        free_norms.append(float(n[1]))
    assert max(free_norms) - min(free_norms) > 1e-6  # member 1 is free


def test_intervention_state_round_trip():
    tr = trainer(cfg_dict(intervene={"freeze_norm_at_t_mem": True}))
    tr.iv.on_eval(2, torch.tensor([1.0, 0.0]), 0.99)
    sd = tr.iv.state_dict()
    assert not sd["frozen_norm"].requires_grad  # resume state carries no autograd graph
    other = trainer(cfg_dict(intervene={"freeze_norm_at_t_mem": True}))
    other.iv.load_state_dict(sd)
    assert torch.equal(other.iv.t_mem_seen, tr.iv.t_mem_seen)
    assert torch.equal(torch.isnan(other.iv.frozen_norm), torch.isnan(tr.iv.frozen_norm))
    assert float(other.iv.frozen_norm[0]) == float(tr.iv.frozen_norm[0])


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5])
def test_label_noise(frac):
    tr = trainer(cfg_dict(seeds=[0], members={"seeds": [0, 1], "vary": {"intervene.label_noise": [0.0, frac]}}))
    clean = tr.y_all.gather(1, tr.train_idx)
    n_train = tr.train_idx.shape[1]
    flipped = tr.y_train != clean
    assert int(flipped[0].sum()) == 0 and int(flipped[1].sum()) == 0  # label_noise 0 for seeds 0, 1
    assert int(flipped[2].sum()) == round(frac * n_train)
    assert int(flipped[3].sum()) == round(frac * n_train)
    assert not torch.equal(flipped[2], flipped[3])  # each member draws its own flips
    assert int(tr.y_train.min()) >= 0 and int(tr.y_train.max()) < tr.data.n_classes
    again = trainer(cfg_dict(seeds=[0], members={"seeds": [0, 1], "vary": {"intervene.label_noise": [0.0, frac]}}))
    assert torch.equal(again.y_train, tr.y_train)  # reproducible
    # test labels stay clean
    assert torch.equal(tr.y_all[2], tr.y_all[0])


def test_langevin_noise_changes_params_and_is_reproducible():
    d = cfg_dict(intervene={"langevin_T": 1e-3})
    a, b, control = trainer(d), trainer(d), trainer(cfg_dict())
    for t in range(5):
        update(a, t)
        update(b, t)
        update(control, t)
    for n, p in a.params.items():
        assert torch.equal(p, b.params[n])
    assert not torch.allclose(a.params["W_in"], control.params["W_in"])
    if "b_in" in a.params:  # biases get no noise: after 1 step they equal the control (same grads at step 0)
        a1, c1 = trainer(d), trainer(cfg_dict())
        update(a1, 0)
        update(c1, 0)
        assert torch.equal(a1.params["b_in"], c1.params["b_in"])
        assert not torch.equal(a1.params["W_in"], c1.params["W_in"])


def test_langevin_noise_scale():
    T, lr = 0.02, torch.tensor([0.5, 2.0], dtype=torch.float64)
    tr = trainer(cfg_dict(intervene={"langevin_T": T}))
    before = snapshot(tr)
    gens = [torch.Generator().manual_seed(7 + m) for m in range(2)]
    replay = [torch.Generator().manual_seed(7 + m) for m in range(2)]
    tr.iv.after_step(1, lr, gens)
    for n in tr.model.weight_names:  # member m draws its own stream, parameter by parameter
        for m in range(2):
            xi = torch.randn(before[n].shape[1:], generator=replay[m], dtype=torch.float64)
            want = before[n][m] + xi * torch.sqrt(2 * lr[m] * T)
            torch.testing.assert_close(tr.model.P[n][m], want, rtol=1e-14, atol=1e-15)
    for n in tr.model.P:
        if n not in tr.model.weight_names:
            assert torch.equal(tr.model.P[n], before[n])
    d = (tr.model.P["W_in"] - before["W_in"]).flatten(1).std(1)
    torch.testing.assert_close(d, torch.sqrt(2 * lr * T), rtol=0.15, atol=0)


def test_langevin_packed_equals_single():
    """Each member has its own noise stream: packed members match single runs under Langevin noise."""
    packed = trainer(cfg_dict(intervene={"langevin_T": 1e-3}, seeds=[0, 1]))
    singles = [trainer(cfg_dict(intervene={"langevin_T": 1e-3}, seeds=[s])) for s in (0, 1)]
    for t in range(5):
        update(packed, t)
        for s in singles:
            update(s, t)
    for m, s in enumerate(singles):
        for n in s.model.weight_names:
            torch.testing.assert_close(packed.model.P[n][m], s.model.P[n][0], rtol=1e-12, atol=1e-12)


# -- optimizer state is never touched by interventions -----------------------------------------------------------
ALL_INTERVENTIONS = {"clamp": {"target": 2.0}, "rescale": {"step": 2, "factor": 3.0}, "langevin_T": 1e-3,
                     "freeze_norm_at_t_mem": True}


def _opt_state_copy(opt):
    return {k: {n: v.clone() for n, v in d.items()} for k, d in opt.state.items()}, opt.t


def test_after_step_leaves_optimizer_state_untouched():
    tr = trainer(cfg_dict(intervene=ALL_INTERVENTIONS, optim={"grokfast": {"kind": "ema"}}))
    tr.iv.on_eval(0, torch.tensor([1.0, 1.0]), 0.99)
    for t in range(3):
        update(tr, t)
    state, t_before = _opt_state_copy(tr.opt)
    params_before = snapshot(tr)
    tr.iv.after_step(2, tr.lr, tr.noise_gens)
    assert any(not torch.equal(params_before[n], p) for n, p in tr.model.P.items())  # it did act
    assert tr.opt.t == t_before
    for kind, d in state.items():
        for n, v in d.items():
            assert torch.equal(tr.opt.state[kind][n], v), (kind, n)


def test_moments_equal_unclamped_for_same_gradients():
    """AdamW moments depend on the gradients only: with a clamp in between they equal the free run's."""
    a = trainer(cfg_dict(intervene={"clamp": {"target": 2.0}}))
    b = trainer(cfg_dict())
    g = torch.Generator().manual_seed(3)
    for t in range(6):
        grads = {n: torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in a.params.items()}
        for tr in (a, b):
            tr.opt.step(tr.params, grads, tr.lr, tr.wd)
            tr.iv.after_step(t + 1, tr.lr, tr.noise_gens)
    assert abs(float(norm(a)[0]) - 2.0) < 1e-12 and abs(float(norm(b)[0]) - 2.0) > 1e-3
    assert a.opt.t == b.opt.t == 6
    for kind in ("m", "v"):
        for n in a.params:
            assert torch.equal(a.opt.state[kind][n], b.opt.state[kind][n])


def test_clamp_config_validation():
    from grokscope.errors import UserError

    for clamp in ({"target": 1.0, "rho": 1.0, "w_c": 2.0}, {"rho": 1.0}, {}):
        with pytest.raises(UserError):
            load_config(cfg_dict(intervene={"clamp": clamp}))
    assert math.isclose(load_config(cfg_dict(intervene={"clamp": {"rho": 0.5, "w_c": 4.0}})).intervene.clamp.rho, 0.5)


def test_frozen_biases_stay_zero_under_interventions():
    model = {"name": "transformer", "n_layers": 1, "d_model": 8, "n_heads": 2, "d_mlp": 8, "bias": "frozen"}
    tr = trainer(cfg_dict(model=model, intervene={"clamp": {"target": 3.0, "from_step": 2}, "langevin_T": 1e-3,
                                                  "rescale": {"step": 3, "factor": 2.0}}))
    biases = [s.name for s in tr.model.specs if s.kind == "bias"]
    assert biases and not set(biases) & set(tr.params)
    for t in range(5):
        update(tr, t)
    for n in biases:
        assert torch.count_nonzero(tr.model.P[n]) == 0
    torch.testing.assert_close(norm(tr), torch.full((2,), 3.0, dtype=torch.float64), rtol=1e-12, atol=0)


# -- clamp structure comes from the member configs ---------------------------------------------------------------------
def test_vary_clamp_target_without_base_clamp():
    """Regression: a clamp given only through members.vary used to leave every member unclamped."""
    d = cfg_dict(seeds=[0], members={"seeds": [0], "vary": {"intervene.clamp.target": [5.0, 8.0]}})
    assert load_config(d).intervene.clamp is None
    tr = trainer(d)
    for t in range(4):
        update(tr, t)
        torch.testing.assert_close(norm(tr), torch.tensor([5.0, 8.0], dtype=torch.float64), rtol=1e-12, atol=0)


def test_vary_clamp_none_member_stays_free():
    d = cfg_dict(seeds=[0], members={"seeds": [0], "vary": {"intervene.clamp.target": [None, 6.0]}})
    tr, control = trainer(d), trainer(cfg_dict(seeds=[0]))
    assert math.isnan(float(tr.iv.clamp_target[0])) and float(tr.iv.clamp_target[1]) == 6.0
    for t in range(5):
        update(tr, t)
        update(control, t)
    for n, p in tr.params.items():
        assert torch.equal(p[0], control.params[n][0])
    assert abs(float(norm(tr)[1]) - 6.0) <= 1e-12 * 6.0


@pytest.mark.parametrize("field,clamps", [
    ("from_step", ({"target": 3.0}, {"target": 3.0, "from_step": 5})),
    ("groups", ({"target": 3.0}, {"target": 3.0, "groups": ["unembed"]})),
    ("per_group", ({"per_group": {"hidden": 1.0}}, {"per_group": {"hidden": 2.0}})),
    ("mode", ({"target": 3.0}, {"rho": 1.0, "w_c": 3.0}))])
def test_members_disagreeing_on_clamp_structure_rejected(field, clamps):
    from grokscope.train.interventions import Interventions

    a, b = (load_config(cfg_dict(seeds=1, intervene={"clamp": c})) for c in clamps)
    free = load_config(cfg_dict(seeds=1))
    tr = trainer(cfg_dict())
    with pytest.raises(ValueError, match=f"intervene.clamp.{field} differs between members"):
        Interventions(free, [a, b], tr.params, tr.model.groups, CPU)
    Interventions(free, [a, free], tr.params, tr.model.groups, CPU)  # an unclamped member is fine


def test_clamp_set_field_is_the_one_rule():
    from grokscope.config import ClampConfig, member_config

    assert ClampConfig.set_field(None, "target", 2.0) == {"target": 2.0, "rho": None, "relative": None,
                                                          "per_group": None}
    base = {"rho": 1.0, "w_c": 4.0, "from_step": 3}
    assert ClampConfig.set_field(base, "target", 2.0) == {"target": 2.0, "rho": None, "relative": None,
                                                         "per_group": None, "w_c": 4.0, "from_step": 3}
    assert ClampConfig.set_field(base, "rho", None) is None
    assert ClampConfig.set_field(base, "from_step", 7)["rho"] == 1.0  # a non-mode field clears nothing
    assert base == {"rho": 1.0, "w_c": 4.0, "from_step": 3}  # the input is not modified
    cfg = load_config(cfg_dict(intervene={"clamp": base}))
    mc = member_config(cfg, {"intervene.clamp.target": 2.0}).intervene.clamp
    assert (mc.mode, mc.target, mc.rho, mc.w_c, mc.from_step) == ("target", 2.0, None, 4.0, 3)
    assert member_config(cfg, {"intervene.clamp.rho": None}).intervene.clamp is None


# -- stopped members: after_step(active=...) -------------------------------------------------------------------------
STOP_IV = {"clamp": {"target": 2.0}, "rescale": {"step": 1, "factor": 1.7}, "langevin_T": 1e-3,
           "freeze_norm_at_t_mem": True}


@pytest.mark.parametrize("intervene", [STOP_IV, {"clamp": {"per_group": {"hidden": 1.5, "embed": 0.8}}},
                                       {"langevin_T": 1e-2}, {"rescale": {"step": 1, "factor": 0.5}}])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inactive_member_untouched_by_interventions(intervene, dtype):
    tr = trainer(cfg_dict(dtype, intervene=intervene))
    if intervene.get("freeze_norm_at_t_mem"):
        tr.iv.on_eval(0, torch.tensor([1.0, 1.0]), 0.99)
    before = snapshot(tr)
    active = torch.tensor([True, False])
    tr.iv.after_step(1, tr.lr, tr.noise_gens, active=active)
    bits = torch.int64 if dtype == "float64" else torch.int32
    for n, p in tr.model.P.items():
        assert torch.equal(p[1].view(bits), before[n][1].view(bits)), n
    assert any(not torch.equal(p[0], before[n][0]) for n, p in tr.model.P.items())  # member 0 was acted on
    # all-active equals the default path exactly
    a, b = trainer(cfg_dict(dtype, intervene=intervene)), trainer(cfg_dict(dtype, intervene=intervene))
    a.iv.after_step(1, a.lr, a.noise_gens, active=torch.tensor([True, True]))
    b.iv.after_step(1, b.lr, b.noise_gens)
    for n, p in a.model.P.items():
        assert torch.equal(p, b.model.P[n]), n


# -- GPU readiness: no host reads of device values in the per-step hooks --------------------------------------------
@pytest.mark.parametrize("intervene", [STOP_IV, {"clamp": {"per_group": {"hidden": 1.5}}},
                                       {"wd_off_step": 2, "wd_off_at_t_mem": True}, {}])
def test_per_step_hooks_never_read_device_values(intervene, monkeypatch):
    tr = trainer(cfg_dict(intervene=intervene))
    tr.iv.on_eval(0, torch.tensor([1.0, 0.0]), 0.99)  # evaluations may read values; the steps may not
    tr.iv.wd_mask(0)  # built once (a host-built mask copied to the device)
    with monkeypatch.context() as mp:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "numpy"):
            mp.setattr(torch.Tensor, name, lambda *_a, **_k: pytest.fail("host read of a tensor in a per-step hook"))
        for step in (1, 2, 3):
            tr.iv.wd_mask(step - 1)
            tr.iv.after_step(step, tr.lr, tr.noise_gens, active=torch.tensor([True, False]))


def test_wd_mask_cached_on_device():
    tr = trainer(cfg_dict(intervene={"wd_off_step": 3, "wd_off_at_t_mem": True}))
    m0 = tr.iv.wd_mask(0)
    assert tr.iv.wd_mask(1) is m0 and tr.iv.wd_mask(2) is m0  # no new tensor (and no copy) per step
    assert m0.tolist() == [1.0, 1.0]
    tr.iv.on_eval(2, torch.tensor([1.0, 0.0]), 0.99)
    m1 = tr.iv.wd_mask(2)
    assert m1 is not m0 and m1.tolist() == [0.0, 1.0]  # T_mem of member 0 seen
    assert tr.iv.wd_mask(3).tolist() == [0.0, 0.0] and tr.iv.wd_mask(4) is tr.iv.wd_mask(3)
    other = trainer(cfg_dict(intervene={"wd_off_step": 3, "wd_off_at_t_mem": True}))
    other.iv.wd_mask(0)
    other.iv.load_state_dict(tr.iv.state_dict())  # resume invalidates the cache
    assert other.iv.wd_mask(2).tolist() == [0.0, 1.0]


def test_member_sq_norm(monkeypatch):
    """float64 accumulation, equal to the sum of float64 squares, also when reduced in chunks."""
    import grokscope.train.interventions as ivm

    g = torch.Generator().manual_seed(1)
    P = {"a": torch.randn(3, 40, 30, generator=g) * 1e3, "b": torch.randn(3, 7, generator=g) * 1e-3}
    want = torch.stack([p.double().pow(2).flatten(1).sum(1) for p in P.values()]).sum(0)
    torch.testing.assert_close(member_sq_norm(P, ["a", "b"]), want, rtol=1e-12, atol=0)
    monkeypatch.setattr(ivm, "NORM_CHUNK", 50)  # many chunks per tensor
    torch.testing.assert_close(member_sq_norm(P, ["a", "b"]), want, rtol=1e-12, atol=0)
    P64 = {n: p.double() for n, p in P.items()}
    torch.testing.assert_close(member_sq_norm(P64, ["a", "b"]), want, rtol=1e-12, atol=0)


def test_relative_clamp_holds_each_member_at_its_own_starting_norm():
    """clamp.relative: target = relative × the member's norm when the clamp first applies (after step from_step)."""
    from_step = 5
    tr = trainer(cfg_dict(intervene={"clamp": {"relative": 1.2, "from_step": from_step}}))
    control = trainer(cfg_dict())
    for t in range(from_step):  # update t completes step t + 1: the clamp first applies after update from_step - 1
        update(tr, t)
        update(control, t)
    start = norm(control)  # the free norm at step from_step: what the clamp starts from
    assert abs(float(start[0] - start[1])) > 1e-6  # members start from different norms
    for t in range(from_step, 15):
        torch.testing.assert_close(norm(tr), 1.2 * start, rtol=1e-12, atol=0)
        update(tr, t)


def test_relative_clamp_target_survives_a_state_round_trip():
    tr = trainer(cfg_dict(intervene={"clamp": {"relative": 0.8, "from_step": 2}}))
    for t in range(6):
        update(tr, t)
    sd = tr.iv.state_dict()
    fresh = trainer(cfg_dict(intervene={"clamp": {"relative": 0.8, "from_step": 2}}))
    fresh.iv.load_state_dict(sd)
    torch.testing.assert_close(fresh.iv.clamp_target, tr.iv.clamp_target, rtol=0, atol=0)
    assert not fresh.iv._relative_pending


def test_rescale_to_norm_sets_each_member_to_the_norm_once():
    k = 3
    tr = trainer(cfg_dict(intervene={"rescale": {"step": k, "to_norm": 2.5}}))
    for t in range(k):
        update(tr, t)
    torch.testing.assert_close(norm(tr), torch.full((2,), 2.5, dtype=torch.float64), rtol=1e-12, atol=0)
    update(tr, k)  # released: the next update moves it freely
    assert (norm(tr) - 2.5).abs().max() > 1e-6


@pytest.mark.parametrize("bad", [{"step": 2}, {"step": 2, "factor": 2.0, "to_norm": 1.0}])
def test_rescale_needs_one_of_factor_or_to_norm(bad):
    from grokscope.errors import UserError

    with pytest.raises((UserError, ValueError), match="exactly one of factor, to_norm"):
        load_config(cfg_dict(intervene={"rescale": bad}))
