"""Functional member-axis optimizers against torch.optim, gradient filters, warm-up (all in float64)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from grokscope.config import GrokfastConfig, OptimConfig
from grokscope.train.optim import Optimizer, lr_at

SHAPES = {"W": (4, 5), "b": (5,), "W2": (3, 3)}
DECAY = {"W", "W2"}
LRS = [1e-3, 3e-2, 1e-1]
WDS = [0.0, 0.5, 2.0]
M = 3
STEPS = 20


def make_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.randn((M, *s), generator=g, dtype=torch.float64) for n, s in SHAPES.items()}


def grad_sequence(seed=1, steps=STEPS):
    g = torch.Generator().manual_seed(seed)
    return [{n: torch.randn((M, *s), generator=g, dtype=torch.float64) for n, s in SHAPES.items()}
            for _ in range(steps)]


def run_ours(cfg, lrs=LRS, wds=WDS, steps=STEPS, params=None, grads=None):
    params = params if params is not None else make_params()
    grads = grads if grads is not None else grad_sequence(steps=steps)
    opt = Optimizer(cfg, params, DECAY)
    lr, wd = torch.tensor(lrs, dtype=torch.float64), torch.tensor(wds, dtype=torch.float64)
    for g in grads:
        opt.step(params, g, lr, wd)
    return params, opt


def run_torch(make_opt, m, steps=STEPS):
    """Member m alone with a torch.optim optimizer; decay group gets wd, the rest weight_decay=0."""
    init = make_params()
    ps = {n: init[n][m].clone().requires_grad_(True) for n in SHAPES}
    groups = [{"params": [ps[n] for n in SHAPES if n in DECAY], "weight_decay": WDS[m]},
              {"params": [ps[n] for n in SHAPES if n not in DECAY], "weight_decay": 0.0}]
    opt = make_opt(groups, LRS[m])
    for g in grad_sequence(steps=steps):
        for n in SHAPES:
            ps[n].grad = g[n][m].clone()
        opt.step()
    return {n: p.detach() for n, p in ps.items()}


def assert_members_match(ours, make_opt):
    for m in range(M):
        ref = run_torch(make_opt, m)
        for n in SHAPES:
            torch.testing.assert_close(ours[n][m], ref[n], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("betas,eps", [((0.9, 0.98), 1e-8), ((0.8, 0.999), 1e-6)])
def test_adamw_matches_torch_per_member(betas, eps):
    cfg = OptimConfig(name="adamw", beta1=betas[0], beta2=betas[1], eps=eps)
    ours, _ = run_ours(cfg)
    assert_members_match(ours, lambda groups, lr: torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps))
    # the per-member hyper-parameters actually mattered: members differ from a common-lr run
    common, _ = run_ours(cfg, lrs=[LRS[0]] * M)
    assert not torch.allclose(common["W"][2], ours["W"][2])


def test_adam_matches_torch_with_l2():
    cfg = OptimConfig(name="adam", beta1=0.9, beta2=0.99)
    ours, _ = run_ours(cfg)
    assert_members_match(ours, lambda groups, lr: torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.99), eps=1e-8))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(momentum):
    cfg = OptimConfig(name="sgd", momentum=momentum)
    ours, _ = run_ours(cfg)
    assert_members_match(ours, lambda groups, lr: torch.optim.SGD(groups, lr=lr, momentum=momentum))


def test_adamw_no_decay_on_non_decay_params():
    """A parameter outside the decay set evolves identically whatever wd is."""
    cfg = OptimConfig(name="adamw")
    a, _ = run_ours(cfg, wds=[0.0, 0.0, 0.0])
    b, _ = run_ours(cfg, wds=[5.0, 5.0, 5.0])
    assert torch.equal(a["b"], b["b"])
    assert not torch.allclose(a["W"], b["W"])


def test_state_round_trip_continues_identically():
    cfg = OptimConfig(name="adamw", grokfast=GrokfastConfig(kind="ema", alpha=0.9, lamb=1.5))
    grads = grad_sequence(steps=12)
    full, _ = run_ours(cfg, grads=grads)
    half, opt = run_ours(cfg, grads=grads[:6])
    sd = {"t": opt.state_dict()["t"],
          "state": {k: {n: v.clone() for n, v in d.items()} for k, d in opt.state_dict()["state"].items()}}
    params = {n: p.clone() for n, p in half.items()}
    opt2 = Optimizer(cfg, params, DECAY)
    opt2.load_state_dict(sd)
    lr, wd = torch.tensor(LRS, dtype=torch.float64), torch.tensor(WDS, dtype=torch.float64)
    for g in grads[6:]:
        opt2.step(params, g, lr, wd)
    for n in SHAPES:
        torch.testing.assert_close(params[n], full[n], rtol=0, atol=0)


# -- gradient filters (read through plain SGD with lr=1, wd=0: p_new = p - filtered_g) --------------------------
def filtered_grads(cfg_kwargs, grads, params=None):
    cfg = OptimConfig(name="sgd", momentum=0.0, **cfg_kwargs)
    params = params if params is not None else make_params()
    opt = Optimizer(cfg, params, DECAY)
    one, zero = torch.ones(M, dtype=torch.float64), torch.zeros(M, dtype=torch.float64)
    out = []
    for g in grads:
        before = {n: p.clone() for n, p in params.items()}
        opt.step(params, g, one, zero)
        out.append({n: before[n] - params[n] for n in params})
    return out, params


@pytest.mark.parametrize("alpha,lamb", [(0.98, 2.0), (0.5, 0.7)])
def test_grokfast_ema_matches_reimplementation(alpha, lamb):
    grads = grad_sequence(steps=10)
    got, _ = filtered_grads({"grokfast": GrokfastConfig(kind="ema", alpha=alpha, lamb=lamb)}, grads)
    ema = None
    for g, f in zip(grads, got, strict=True):
        ema = {n: g[n].clone() for n in g} if ema is None else {n: alpha * ema[n] + (1 - alpha) * g[n] for n in g}
        for n in g:
            torch.testing.assert_close(f[n], g[n] + lamb * ema[n], rtol=1e-12, atol=1e-12)


def test_grokfast_ma_matches_reimplementation():
    window, lamb = 4, 1.5
    grads = grad_sequence(steps=9)
    got, _ = filtered_grads({"grokfast": GrokfastConfig(kind="ma", window=window, lamb=lamb)}, grads)
    for t, (g, f) in enumerate(zip(grads, got, strict=True)):
        for n in g:
            if t + 1 < window:  # warm-up: unfiltered until the window is full
                want = g[n]
            else:
                want = g[n] + lamb * torch.stack([grads[s][n] for s in range(t + 1 - window, t + 1)]).mean(0)
            torch.testing.assert_close(f[n], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("renorm", [True, False])
def test_orthograd(renorm):
    params = make_params(seed=5)
    weights = {n: p.clone() for n, p in params.items()}
    grads = grad_sequence(seed=6, steps=1)
    (f,), _ = filtered_grads({"orthograd": True, "orthograd_renorm": renorm}, grads, params=params)
    for n, w in weights.items():
        g = grads[0][n]
        for m in range(M):
            dot = (w[m] * f[n][m]).sum()
            assert abs(float(dot)) < 1e-12 * float(w[m].norm() * f[n][m].norm()) + 1e-14
            if renorm:
                torch.testing.assert_close(f[n][m].norm(), g[m].norm(), rtol=1e-12, atol=0)
            else:
                radial = (w[m] * g[m]).sum() / (w[m] * w[m]).sum() * w[m]
                torch.testing.assert_close(f[n][m], g[m] - radial, rtol=1e-12, atol=1e-12)
        assert not torch.allclose(f[n], g)  # the radial component was really removed


def test_orthograd_then_adamw_differs_from_plain():
    a, _ = run_ours(OptimConfig(name="adamw", orthograd=True))
    b, _ = run_ours(OptimConfig(name="adamw"))
    assert not torch.allclose(a["W"], b["W"])


# -- warm-up ---------------------------------------------------------------------------------------------------------
def test_lr_at_warmup():
    base = torch.tensor([1e-3, 2e-2], dtype=torch.float64)
    w = 4
    expected = [base * (s + 1) / w for s in range(w)]
    for s in range(w):
        torch.testing.assert_close(lr_at(base, s, w), expected[s], rtol=1e-15, atol=0)
    torch.testing.assert_close(lr_at(base, w - 1, w), base, rtol=1e-15, atol=0)  # reaches lr at update w
    for s in (w, w + 1, 100):
        assert torch.equal(lr_at(base, s, w), base)
    for s in (0, 3, 50):
        assert torch.equal(lr_at(base, s, 0), base)
    # strictly increasing during the warm-up
    vals = [float(lr_at(base, s, 10)[0]) for s in range(10)]
    assert all(a < b for a, b in zip(vals, vals[1:], strict=False))


# -- AdamW step order ------------------------------------------------------------------------------------------------
def plain_adamw(order, m, cfg, steps=STEPS):
    """Member m alone, written out step by step (float64): Loshchilov & Hutter's decoupled decay, in either order."""
    p = {n: v[m].clone() for n, v in make_params().items()}
    mom = {n: torch.zeros_like(v) for n, v in p.items()}
    vel = {n: torch.zeros_like(v) for n, v in p.items()}
    lr, wd = LRS[m], WDS[m]
    for t, g in enumerate(grad_sequence(steps=steps), start=1):
        for n in p:
            if order == "decay_then_adam" and n in DECAY:
                p[n] = p[n] * (1 - lr * wd)
            mom[n] = cfg.beta1 * mom[n] + (1 - cfg.beta1) * g[n][m]
            vel[n] = cfg.beta2 * vel[n] + (1 - cfg.beta2) * g[n][m] ** 2
            m_hat, v_hat = mom[n] / (1 - cfg.beta1**t), vel[n] / (1 - cfg.beta2**t)
            p[n] = p[n] - lr * m_hat / (v_hat.sqrt() + cfg.eps)
            if order == "adam_then_decay" and n in DECAY:
                p[n] = p[n] * (1 - lr * wd)
    return p


@pytest.mark.parametrize("order", ["decay_then_adam", "adam_then_decay"])
def test_adamw_order_matches_plain_reference(order):
    cfg = OptimConfig(name="adamw", beta2=0.999, adamw_order=order)
    ours, _ = run_ours(cfg)
    for m in range(M):
        ref = plain_adamw(order, m, cfg)
        for n in SHAPES:
            torch.testing.assert_close(ours[n][m], ref[n], rtol=1e-12, atol=1e-14)


def test_adamw_orders_differ_and_default_is_torch_order():
    assert OptimConfig().adamw_order == "decay_then_adam"
    a, _ = run_ours(OptimConfig(name="adamw", adamw_order="decay_then_adam"))
    b, _ = run_ours(OptimConfig(name="adamw", adamw_order="adam_then_decay"))
    assert not torch.allclose(a["W"][2], b["W"][2], rtol=1e-9, atol=0)  # member 2 has wd = 2
    assert torch.equal(a["W"][0], b["W"][0])  # wd = 0: the order is irrelevant
    assert torch.equal(a["b"], b["b"])  # not in the decay set


# -- foreach moments are bit-identical to the former per-tensor code (CPU, float32) ----------------------------------
def per_tensor_reference(cfg, params, grads_seq, lr, wd):
    """The per-tensor Adam/AdamW update this module used before the foreach moments (no filters)."""
    m_s = {n: torch.zeros_like(p) for n, p in params.items()}
    v_s = {n: torch.zeros_like(p) for n, p in params.items()}
    for t, grads in enumerate(grads_seq, start=1):
        bc1, bc2_sqrt = 1 - cfg.beta1**t, math.sqrt(1 - cfg.beta2**t)
        for n, p in params.items():
            lr_b, wd_b = lr.view(-1, *([1] * (p.dim() - 1))), wd.view(-1, *([1] * (p.dim() - 1)))
            g = grads[n] + wd_b * p if cfg.name == "adam" and n in DECAY else grads[n]
            if cfg.name == "adamw" and n in DECAY:
                p.mul_(1 - lr_b * wd_b)
            m_s[n].lerp_(g, 1 - cfg.beta1)
            v_s[n].mul_(cfg.beta2).addcmul_(g, g, value=1 - cfg.beta2)
            denom = (v_s[n].sqrt() / bc2_sqrt).add_(cfg.eps)
            p.sub_((lr_b / bc1) * m_s[n] / denom)
    return params


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_foreach_moments_bit_identical_float32(name):
    cfg = OptimConfig(name=name)
    grads = [{n: g.float() for n, g in gs.items()} for gs in grad_sequence(steps=8)]
    lr, wd = torch.tensor(LRS), torch.tensor(WDS)
    ours = {n: p.float() for n, p in make_params().items()}
    opt = Optimizer(cfg, ours, DECAY)
    for g in grads:
        opt.step(ours, g, lr, wd)
    ref = per_tensor_reference(cfg, {n: p.float() for n, p in make_params().items()}, grads, lr, wd)
    for n in SHAPES:
        assert torch.equal(ours[n], ref[n]), n


# -- a member with lr = 0 (stopped) keeps its parameters bit for bit ------------------------------------------------
STOP_CASES = [{"name": "adamw"}, {"name": "adamw", "adamw_order": "adam_then_decay"}, {"name": "adam"},
              {"name": "sgd"}, {"name": "sgd", "momentum": 0.9},
              {"name": "adamw", "grokfast": GrokfastConfig(kind="ema")},
              {"name": "adam", "grokfast": GrokfastConfig(kind="ma", window=3)},
              {"name": "adamw", "orthograd": True}, {"name": "sgd", "orthograd": True, "orthograd_renorm": False}]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kwargs", STOP_CASES)
def test_lr_zero_member_unchanged_bit_for_bit(kwargs, dtype):
    cfg = OptimConfig(**kwargs)
    params = {n: p.to(dtype) for n, p in make_params().items()}
    before = {n: p.clone() for n, p in params.items()}
    opt = Optimizer(cfg, params, DECAY)
    wd = torch.tensor([1.0, 2.0, 0.5], dtype=dtype)  # every member decays
    for t, g in enumerate(grad_sequence(steps=8)):
        lr = torch.tensor([3e-2, 0.0, 1e-1] if t >= 3 else [3e-2, 5e-2, 1e-1], dtype=dtype)  # member 1 stops at t=3
        if t == 3:
            stopped = {n: p[1].clone() for n, p in params.items()}
        opt.step(params, {n: x.to(dtype) for n, x in g.items()}, lr, wd)
    for n, p in params.items():
        bits = torch.int64 if dtype == torch.float64 else torch.int32
        assert torch.equal(p[1].view(bits), stopped[n].view(bits)), n
        assert not torch.equal(p[0], before[n][0]) and not torch.equal(p[2], before[n][2])  # the others moved


# -- Grokfast MA: compact resume state ---------------------------------------------------------------------------------
@pytest.mark.parametrize("split", [2, 4, 7])  # mid warm-up, exactly at the full window, after it wrapped
def test_ma_state_round_trip_bit_identical(split):
    window = 4
    cfg = OptimConfig(name="adamw", grokfast=GrokfastConfig(kind="ma", window=window, lamb=1.5))
    grads = grad_sequence(steps=11)
    full, _ = run_ours(cfg, grads=grads)
    half, opt = run_ours(cfg, grads=grads[:split])
    sd = opt.state_dict()
    buf = sd["state"]["ma_buf"]["W"]
    assert buf.shape[0] == min(split, window)  # only the filled slots are saved
    assert buf.untyped_storage().nbytes() == buf.numel() * buf.element_size()  # a compact copy, not a view
    buf_bytes = sum(v.numel() for v in sd["state"]["ma_buf"].values())
    assert buf_bytes == min(split, window) * sum(M * math.prod(s) for s in SHAPES.values())
    saved = copy.deepcopy(sd)
    params = {n: p.clone() for n, p in half.items()}
    opt2 = Optimizer(cfg, params, DECAY)
    opt2.load_state_dict(saved)
    lr, wd = torch.tensor(LRS, dtype=torch.float64), torch.tensor(WDS, dtype=torch.float64)
    for g in grads[split:]:
        opt2.step(params, g, lr, wd)
    for n in SHAPES:
        assert torch.equal(params[n], full[n]), n


def test_ma_state_loads_full_buffers_of_older_runs():
    cfg = OptimConfig(name="sgd", grokfast=GrokfastConfig(kind="ma", window=5))
    _, opt = run_ours(cfg, grads=grad_sequence(steps=2))
    old_form = {"t": opt.t, "state": {k: {n: v.clone() for n, v in d.items()} for k, d in opt.state.items()}}
    opt2 = Optimizer(cfg, make_params(), DECAY)
    opt2.load_state_dict(old_form)
    for n in SHAPES:
        assert torch.equal(opt2.state["ma_buf"][n], opt.state["ma_buf"][n])
