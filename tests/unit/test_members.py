"""Member-axis training equals separate single runs (float64); seeds are shared by control and intervention arms."""

from __future__ import annotations

import copy

import pytest
import torch

from grokscope.config import load_config
from grokscope.train.loop import update
from grokscope.train.setup import build

CPU = torch.device("cpu")
STEPS = 30

MLP = {"name": "mlp", "d_embed": 8, "d_hidden": 16, "act": "gelu"}
TRANSFORMER = {"name": "transformer", "n_layers": 1, "d_model": 8, "n_heads": 2, "d_mlp": 16, "bias": "on"}


def base(model=MLP, **sections):
    cfg = {"task": {"name": "modular", "op": "add", "p": 11, "frac": 0.5},
           "model": copy.deepcopy(model),
           "optim": {"lr": 1e-2, "wd": 1.0},
           "train": {"steps": STEPS, "dtype": "float64"},
           "eval": {"points": 5},
           "checkpoint": {"count": 0}}
    for k, v in sections.items():
        cfg.setdefault(k, {}).update(v)
    return cfg


def train(cfg_dict, steps=STEPS):
    trainer = build(load_config(cfg_dict), CPU)
    for t in range(steps):
        update(trainer, t)
    return trainer


def test_member_table_order():
    cfg = load_config(base(members={"seeds": [0, 1], "vary": {"optim.lr": [1e-2, 3e-2], "optim.wd": [0.5, 2.0]}}))
    table = cfg.member_table()
    assert table == [{"seed": 0, "optim.lr": 1e-2, "optim.wd": 0.5}, {"seed": 1, "optim.lr": 1e-2, "optim.wd": 0.5},
                     {"seed": 0, "optim.lr": 3e-2, "optim.wd": 2.0}, {"seed": 1, "optim.lr": 3e-2, "optim.wd": 2.0}]
    assert load_config(base(members={"seeds": 3})).member_table() == [{"seed": 0}, {"seed": 1}, {"seed": 2}]


CASES = [
    pytest.param(MLP, {}, {"optim.lr": [1e-2, 3e-2], "optim.wd": [0.5, 2.0]}, id="mlp-adamw"),
    pytest.param(TRANSFORMER, {"train": {"batch_size": 16}, "optim": {"warmup_steps": 5}},
                 {"optim.lr": [1e-2, 3e-3], "optim.wd": [0.1, 1.0]}, id="transformer-minibatch-warmup"),
    pytest.param(MLP, {"optim": {"name": "sgd", "momentum": 0.9}},
                 {"optim.lr": [1e-1, 3e-1], "loss.tau": [1.0, 0.5]}, id="mlp-sgd-tau"),
    pytest.param(MLP, {"optim": {"grokfast": {"kind": "ema", "alpha": 0.9, "lamb": 2.0}}},
                 {"intervene.init_scale": [1.0, 2.0], "intervene.label_noise": [0.0, 0.2]}, id="mlp-grokfast-init"),
]


@pytest.mark.parametrize("model,extra,vary", CASES)
def test_packed_members_equal_single_runs(model, extra, vary):
    packed = train(base(model, members={"seeds": [0, 1], "vary": vary}, **extra))
    table = packed.cfg.member_table()
    assert packed.M == len(table) == 4
    singles = {}
    for m, row in enumerate(table):
        single = base(model, members={"seeds": [row["seed"]]}, **extra)
        for key, value in row.items():
            if key == "seed":
                continue
            section, *rest = key.split(".")
            node = single.setdefault(section, {})
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            node[rest[-1]] = value
        key = tuple(sorted(row.items()))
        singles[key] = solo = train(single)
        assert solo.init_seeds[0] == packed.init_seeds[m] and solo.split_seeds[0] == packed.split_seeds[m]
        assert torch.equal(solo.train_idx[0], packed.train_idx[m])
        assert torch.equal(solo.y_train[0], packed.y_train[m])
        for name, p in packed.params.items():
            torch.testing.assert_close(p[m], solo.params[name][0], rtol=1e-10, atol=1e-10, msg=f"member {m} {name}")
    # the members genuinely differ (different seeds and different hyper-parameters)
    W = packed.params["W_U"]
    assert not torch.allclose(W[0], W[1]) and not torch.allclose(W[0], W[2])


def test_seeds_independent_of_optimizer_and_interventions():
    control = load_config(base(members={"seeds": [0, 1]}))
    arms = [
        base(members={"seeds": [0, 1]}, optim={"lr": 3e-3, "wd": 0.1, "name": "adam"}),
        base(members={"seeds": [0, 1]}, intervene={"clamp": {"target": 5.0, "from_step": 3}}),
        base(members={"seeds": [0, 1]}, intervene={"langevin_T": 1e-3, "wd_off_step": 10}),
        base(members={"seeds": [0, 1]}, loss={"name": "mse", "tau": 2.0}, train={"steps": 77}),
        base(members={"seeds": [0, 1], "vary": {"intervene.clamp.rho": [None, 0.5]}},
             intervene={"clamp": {"rho": 1.0, "w_c": 4.0}}),
    ]
    # the trainers really share init and split
    t_control = build(control, CPU)
    for arm in arms[:3]:
        t_arm = build(load_config(arm), CPU)
        assert t_arm.init_seeds == t_control.init_seeds and t_arm.split_seeds == t_control.split_seeds
        assert torch.equal(t_arm.train_idx, t_control.train_idx)
        for name, p in t_control.params.items():
            assert torch.equal(t_arm.params[name], p)


def seeds(d):
    s = build(load_config(d), CPU)
    return s.init_seeds, s.split_seeds


def test_seeds_depend_on_task_model_shapes_and_seed():
    init, split = seeds(base(members={"seeds": [0, 1]}))
    assert init[0] != init[1] and split[0] != split[1] and init[0] != split[0]
    other_task = seeds(base(members={"seeds": [0, 1]}, task={"frac": 0.6}))
    assert other_task[0] != init and other_task[1] != split
    other_shape = seeds(base(members={"seeds": [0, 1]}, model={**MLP, "d_hidden": 12}))
    assert other_shape[0] != init and other_shape[1] == split  # the split ignores the model
    assert all(0 <= s < 2**31 for s in init + split)


def test_init_pairs_models_that_differ_only_in_activation():
    """x² vs ReLU (two-layer studies): same shapes, same init draw -> a counterfactual pair."""
    relu = build(load_config(base(model={**MLP, "act": "relu"})), CPU)
    quad = build(load_config(base(model={**MLP, "act": "quadratic"})), CPU)
    assert relu.init_seeds == quad.init_seeds
    for name, p in relu.params.items():
        assert torch.equal(quad.params[name], p)


def test_float32_packed_close_to_single():
    """In float32 the packing is still exact up to rounding (loose tolerance), members stay independent."""
    cfg = base(members={"seeds": [0, 1]}, train={"dtype": "float32"})
    packed = train(cfg, steps=10)
    solo = train(base(members={"seeds": [1]}, train={"dtype": "float32"}), steps=10)
    assert packed.params["W_U"].dtype == torch.float32
    torch.testing.assert_close(packed.params["W_U"][1], solo.params["W_U"][0], rtol=1e-4, atol=1e-5)
