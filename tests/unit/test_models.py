"""Registered member-axis models: shapes, member independence, init determinism, hooks, and the optimized
forward passes against straightforward reference implementations written here (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from grokscope.models import MODELS, DeepLinearConfig, MLPConfig, OneHotMLPConfig, TaskShape, TransformerConfig

AB = TaskShape(vocab_size=8, n_classes=7, seq_len=3, input_positions=(0, 1))  # p=7, [a, b, =]
AOPB = TaskShape(vocab_size=13, n_classes=11, seq_len=4, input_positions=(0, 2))  # p=11, [a, op, b, =]

TRANSFORMERS = [
    TransformerConfig(n_layers=1, d_model=8, n_heads=2, d_mlp=16, layernorm=False, bias="frozen"),
    TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=16, layernorm=False, bias="off"),
    TransformerConfig(n_layers=1, d_model=12, n_heads=3, d_mlp=16, layernorm=True, bias="on", act="gelu"),
    TransformerConfig(n_layers=2, d_model=16, n_heads=4, d_mlp=12, layernorm=True, bias="on"),
    TransformerConfig(n_layers=2, d_model=8, n_heads=1, d_mlp=8, layernorm=False, bias="on", act="gelu"),
    TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=8, layernorm=True, bias="frozen", causal=False),
]
OTHERS = [
    MLPConfig(d_embed=8, d_hidden=16, act="gelu", bias=True),
    MLPConfig(d_embed=8, d_hidden=12, act="relu", bias=False),
    MLPConfig(d_embed=6, d_hidden=10, act="quadratic", bias=True),
    OneHotMLPConfig(d_hidden=16, act="quadratic"),
    OneHotMLPConfig(d_hidden=12, act="relu"),
    DeepLinearConfig(depth=1, width=8),
    DeepLinearConfig(depth=3, width=8),
]
ALL = TRANSFORMERS + OTHERS


def _id(cfg):
    return "-".join(f"{k}={v}" for k, v in cfg.model_dump().items())


def make(cfg, task=AB, M=2, dtype=torch.float64, seeds=None):
    model = MODELS.get(cfg.name)(cfg, task, M, dtype)
    model.init_members(seeds if seeds is not None else list(range(10, 10 + M)))
    return model


def tokens(task, B, M=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, task.vocab_size, (M, B, task.seq_len), generator=g)


@torch.no_grad()
def randomize(model, seed=123):
    """Random, nonzero values for every trainable parameter (biases and LayerNorm weights too).

    Frozen biases stay at their fixed value 0 (the transformer skips adding them)."""
    g = torch.Generator().manual_seed(seed)
    for spec in model.specs:
        p = model.P[spec.name]
        if not spec.trainable:
            continue
        noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
        if spec.kind == "ln_w":
            p.copy_(1.0 + 0.3 * noise)
        elif spec.kind in ("bias", "ln_b"):
            p.copy_(0.3 * noise)
        else:
            p.copy_(noise * (1.0 / math.sqrt(p.shape[-2])))


# -- generic properties -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", ALL, ids=_id)
@pytest.mark.parametrize("task", [AB, AOPB], ids=["ab=", "aopb="])
def test_output_shape(cfg, task):
    M, B = 3, 5
    model = make(cfg, task, M=M)
    assert model(tokens(task, B)).shape == (M, B, task.n_classes)  # shared inputs [1, B, S]
    assert model(tokens(task, B, M=M)).shape == (M, B, task.n_classes)  # per-member inputs [M, B, S]
    for p in model.P.values():
        assert p.shape[0] == M


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_member_independence(cfg):
    model = make(cfg, M=3)
    randomize(model)
    x = tokens(AB, 9)
    before = model(x).detach().clone()
    with torch.no_grad():
        for p in model.P.values():
            p[1].mul_(-1.7).add_(0.5)
    after = model(x).detach()
    assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
    assert not torch.allclose(after[1], before[1])


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_member_gradients_independent(cfg):
    model = make(cfg, M=2)
    randomize(model)
    loss = model(tokens(AB, 6))[0].pow(2).sum()
    grads = torch.autograd.grad(loss, list(model.trainable().values()), allow_unused=True)
    assert any(g is not None and g[0].abs().sum() > 0 for g in grads)
    for g in grads:
        if g is not None:
            assert torch.count_nonzero(g[1]) == 0


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_init_determinism(cfg):
    solo = make(cfg, M=1, seeds=[5])
    packed = make(cfg, M=3, seeds=[1, 5, 2])
    again = make(cfg, M=3, seeds=[1, 5, 2])
    f32 = make(cfg, M=3, seeds=[1, 5, 2], dtype=torch.float32)
    for name, p in packed.P.items():
        assert torch.equal(p[1], solo.P[name][0]), name  # same seed, different M and position
        assert torch.equal(p, again.P[name])
        assert f32.P[name].dtype == torch.float32
        assert torch.equal(f32.P[name], p.to(torch.float32)), name
    weights = [n for n in packed.weight_names if packed.P[n].abs().sum() > 0]
    assert weights and any(not torch.equal(packed.P[n][0], packed.P[n][1]) for n in weights)


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_init_scale_multiplies_weights_only(cfg):
    base = make(cfg, M=2, seeds=[3, 4])
    scaled = MODELS.get(cfg.name)(cfg, AB, 2, torch.float64)
    scaled.init_members([3, 4], [1.0, 2.5])
    for spec in base.specs:
        factor = 2.5 if spec.kind == "weight" else 1.0
        assert torch.equal(scaled.P[spec.name][0], base.P[spec.name][0])
        torch.testing.assert_close(scaled.P[spec.name][1], base.P[spec.name][1] * factor, rtol=1e-15, atol=0)


@pytest.mark.parametrize("bias", ["on", "off", "frozen"])
def test_transformer_bias_modes(bias):
    cfg = TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=8, bias=bias, layernorm=True)
    model = make(cfg)
    biases = [s.name for s in model.specs if s.kind == "bias"]
    trainable = model.trainable()
    if bias == "off":
        assert biases == []
    else:
        assert "b_U" in biases and "blocks.1.attn.b_Q" in biases and "blocks.0.mlp.b_in" in biases
        for n in biases:
            assert model.P[n].requires_grad is (bias == "on")
            assert (n in trainable) is (bias == "on")
            assert torch.count_nonzero(model.P[n]) == 0  # zero init
    # LayerNorm parameters are always trainable, never weights
    assert "ln_final.w" in trainable and "ln_final.w" not in model.weight_names
    assert torch.equal(model.P["ln_final.w"], torch.ones_like(model.P["ln_final.w"]))
    assert set(model.weight_names) == {n for names in model.groups.values() for n in names}
    assert all(n.split(".")[-1].startswith("W") for n in model.weight_names)


def test_frozen_bias_equals_no_bias():
    """Zero-std specs draw nothing from the generator: frozen-zero and absent biases give the same network."""
    kw = dict(n_layers=2, d_model=8, n_heads=2, d_mlp=8, layernorm=True)
    frozen = make(TransformerConfig(bias="frozen", **kw))
    off = make(TransformerConfig(bias="off", **kw))
    for n in off.P:
        assert torch.equal(off.P[n], frozen.P[n])
    x = tokens(AB, 6)
    torch.testing.assert_close(frozen(x), off(x), rtol=0, atol=0)


def test_frozen_bias_gets_no_gradient_from_loop_params():
    cfg = TransformerConfig(n_layers=1, d_model=8, n_heads=2, d_mlp=8, bias="frozen")
    model = make(cfg)
    loss = model(tokens(AB, 4)).sum()
    loss.backward()
    assert model.P["b_U"].grad is None and model.P["W_U"].grad is not None


# -- reference implementations ---------------------------------------------------------------------------------------
def _ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def _act(name, x):
    return {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "quadratic": lambda v: v * v}[name](x)


def reference_transformer(model, x):
    """Plain per-example transformer, every position in every layer, member by member. x [M|1, B, S]."""
    cfg = model.cfg
    P = {n: p for n, p in model.P.items()}
    M, S, d, H = model.M, x.shape[-1], cfg.d_model, cfg.n_heads
    dh = d // H
    out, patterns = [], []

    def get(name, m, n):
        return P[name][m] if name in P else torch.zeros(n, dtype=P["W_U"].dtype)

    for m in range(M):
        xm = x[m] if x.shape[0] > 1 else x[0]  # [B, S]
        resid = P["W_E"][m][xm] + P["W_pos"][m][torch.arange(S)]  # [B, S, d]
        pats = []
        for l in range(cfg.n_layers):
            b = f"blocks.{l}"
            h = _ln(resid, P[f"{b}.ln1.w"][m], P[f"{b}.ln1.b"][m]) if cfg.layernorm else resid
            q = h @ P[f"{b}.attn.W_Q"][m] + get(f"{b}.attn.b_Q", m, d)
            k = h @ P[f"{b}.attn.W_K"][m] + get(f"{b}.attn.b_K", m, d)
            v = h @ P[f"{b}.attn.W_V"][m] + get(f"{b}.attn.b_V", m, d)
            z = torch.zeros_like(q)
            pat = torch.zeros(xm.shape[0], H, S, S, dtype=q.dtype)
            for head in range(H):
                sl = slice(head * dh, (head + 1) * dh)
                for i in range(S):
                    js = range(i + 1) if cfg.causal else range(S)
                    scores = torch.stack([(q[:, i, sl] * k[:, j, sl]).sum(-1) for j in js], -1) / math.sqrt(dh)
                    w = torch.softmax(scores, -1)  # [B, |js|]
                    pat[:, head, i, : len(js)] = w
                    z[:, i, sl] = sum(w[:, jj, None] * v[:, j, sl] for jj, j in enumerate(js))
            pats.append(pat)
            resid = resid + z @ P[f"{b}.attn.W_O"][m] + get(f"{b}.attn.b_O", m, d)
            h2 = _ln(resid, P[f"{b}.ln2.w"][m], P[f"{b}.ln2.b"][m]) if cfg.layernorm else resid
            post = _act(cfg.act, h2 @ P[f"{b}.mlp.W_in"][m] + get(f"{b}.mlp.b_in", m, cfg.d_mlp))
            resid = resid + post @ P[f"{b}.mlp.W_out"][m] + get(f"{b}.mlp.b_out", m, d)
        final = resid[:, -1]
        if cfg.layernorm:
            final = _ln(final, P["ln_final.w"][m], P["ln_final.b"][m])
        out.append(final @ P["W_U"][m] + get("b_U", m, P["W_U"].shape[-1]))
        patterns.append(pats)
    return torch.stack(out), patterns


def reference_mlp(model, x):
    P, cfg = model.P, model.cfg
    out = []
    for m in range(model.M):
        xm = x[m] if x.shape[0] > 1 else x[0]
        rows = []
        for ex in xm:
            e = torch.cat([P["W_E"][m][int(ex[pos])] for pos in model.positions])  # [E[a]; E[b]]
            h = e @ P["W_in"][m] + (P["b_in"][m] if cfg.bias else 0.0)
            rows.append(_act(cfg.act, h) @ P["W_U"][m] + (P["b_U"][m] if cfg.bias else 0.0))
        out.append(torch.stack(rows))
    return torch.stack(out)


def _onehot_concat(ex, positions, V, dtype):
    return torch.cat([torch.nn.functional.one_hot(ex[pos], V).to(dtype) for pos in positions])


def reference_onehot_mlp(model, x):
    P, out = model.P, []
    for m in range(model.M):
        xm = x[m] if x.shape[0] > 1 else x[0]
        oh = torch.stack([_onehot_concat(ex, model.positions, model.V, P["W_in"].dtype) for ex in xm])
        out.append(_act(model.cfg.act, oh @ P["W_in"][m]) @ P["W_U"][m])
    return torch.stack(out)


def reference_deeplinear(model, x):
    P, out = model.P, []
    for m in range(model.M):
        xm = x[m] if x.shape[0] > 1 else x[0]
        h = torch.stack([_onehot_concat(ex, model.positions, model.V, P["layers.0.W"].dtype) for ex in xm])
        for i in range(model.cfg.depth):
            h = h @ P[f"layers.{i}.W"][m]
        out.append(h)
    return torch.stack(out)


REFERENCES = {"transformer": lambda mo, x: reference_transformer(mo, x)[0], "mlp": reference_mlp,
              "onehot_mlp": reference_onehot_mlp, "deeplinear": reference_deeplinear}


@pytest.mark.parametrize("cfg", ALL, ids=_id)
@pytest.mark.parametrize("task", [AB, AOPB], ids=["ab=", "aopb="])
@pytest.mark.parametrize("per_member_x", [False, True], ids=["shared-x", "member-x"])
def test_forward_equals_reference(cfg, task, per_member_x):
    M, B = 2, 7
    model = make(cfg, task, M=M)
    randomize(model)
    x = tokens(task, B, M=M if per_member_x else 1, seed=4)
    got = model(x)
    want = REFERENCES[cfg.name](model, x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    assert want.abs().max() > 1e-3  # a non-trivial comparison


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_gradients_equal_reference(cfg):
    """The table trick must also be right in backward (gradients of the optimized vs plain forward)."""
    model = make(cfg, AB, M=2)
    randomize(model)
    x = tokens(AB, 6, seed=9)
    w = torch.randn(2, 6, AB.n_classes, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    params = list(model.trainable().values())
    g_fast = torch.autograd.grad((model(x) * w).sum(), params)
    g_ref = torch.autograd.grad((REFERENCES[cfg.name](model, x) * w).sum(), params)
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_cache_does_not_change_logits():
    cfg = TRANSFORMERS[3]
    model = make(cfg, M=2)
    randomize(model)
    x = tokens(AB, 5)
    cache: dict = {}
    # with hooks the model runs its reference forward (every position per example, no tables): the same math
    # in another order, so equal to rounding
    torch.testing.assert_close(model(x, cache), model(x), rtol=1e-13, atol=1e-13)
    assert cache


@pytest.mark.parametrize("cfg", TRANSFORMERS, ids=_id)
def test_transformer_hooks(cfg):
    M, B, S, d = 2, 5, AB.seq_len, cfg.d_model
    H, L = cfg.n_heads, cfg.n_layers
    model = make(cfg, M=M)
    randomize(model)
    x = tokens(AB, B)
    cache: dict = {}
    logits = model(x, cache)
    _, ref_patterns = reference_transformer(model, x)
    for l in range(L):
        b = f"blocks.{l}"
        Sq = S  # with a cache the reference forward computes every query position in every layer
        assert cache[f"{b}.hook_resid_pre"].shape == (M, B, S, d)
        assert cache[f"{b}.attn.hook_pattern"].shape == (M, B, H, Sq, S)
        assert cache[f"{b}.hook_attn_out"].shape == (M, B, Sq, d)
        assert cache[f"{b}.hook_resid_mid"].shape == (M, B, Sq, d)
        assert cache[f"{b}.mlp.hook_pre"].shape == (M, B, Sq, cfg.d_mlp)
        assert cache[f"{b}.mlp.hook_post"].shape == (M, B, Sq, cfg.d_mlp)
        assert cache[f"{b}.hook_resid_post"].shape == (M, B, Sq, d)
        pat = cache[f"{b}.attn.hook_pattern"]
        torch.testing.assert_close(pat.sum(-1), torch.ones_like(pat.sum(-1)), rtol=1e-12, atol=1e-12)
        for m in range(M):
            torch.testing.assert_close(pat[m], ref_patterns[m][l][:, :, S - Sq:], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(_act(cfg.act, cache[f"{b}.mlp.hook_pre"]), cache[f"{b}.mlp.hook_post"])
    # resid_pre of layer 0 is the embedding plus position
    E, pos = model.P["W_E"], model.P["W_pos"]
    want = torch.stack([E[m][x[0]] + pos[m] for m in range(M)])
    torch.testing.assert_close(cache["blocks.0.hook_resid_pre"], want, rtol=1e-12, atol=1e-12)
    assert cache["hook_unembed_in"].shape == (M, B, d)
    bias = model.P["b_U"][:, None] if "b_U" in model.P else 0.0
    torch.testing.assert_close(torch.bmm(cache["hook_unembed_in"], model.P["W_U"]) + bias, logits,
                               rtol=1e-12, atol=1e-12)
    if cfg.n_layers == 2:  # layer 1 reads layer 0's output at every position
        torch.testing.assert_close(cache["blocks.1.hook_resid_pre"], cache["blocks.0.hook_resid_post"])


@pytest.mark.parametrize("cfg", OTHERS[:5], ids=_id)
def test_mlp_hooks(cfg):
    model = make(cfg, M=2)
    randomize(model)
    cache: dict = {}
    logits = model(tokens(AB, 5), cache)
    H = cfg.d_hidden
    assert cache["mlp.hook_pre"].shape == (2, 5, H)
    assert cache["mlp.hook_post"].shape == (2, 5, H)
    assert cache["hook_unembed_in"].shape == (2, 5, H)
    bias = model.P["b_U"][:, None] if "b_U" in model.P else 0.0
    torch.testing.assert_close(torch.bmm(cache["hook_unembed_in"], model.P["W_U"]) + bias, logits)
    if cfg.name == "mlp":
        assert cache["hook_embed"].shape == (2, 5, 2, cfg.d_embed)


def test_weight_groups():
    model = make(TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=8), M=1)
    assert set(model.groups) == {"embed", "attn", "mlp", "unembed"}
    assert model.groups["unembed"] == ["W_U"]
    assert set(model.groups["embed"]) == {"W_E", "W_pos"}
    mlp = make(MLPConfig(d_embed=8, d_hidden=8), M=1)
    assert mlp.groups == {"embed": ["W_E"], "hidden": ["W_in"], "unembed": ["W_U"]}
    assert mlp.weight_names == ["W_E", "W_in", "W_U"]


def test_unknown_model_name():
    from grokscope.errors import UserError

    with pytest.raises(UserError, match="did you mean 'transformer'"):
        MODELS.get("transfomer")


@pytest.mark.parametrize("K", [2, 7])
def test_gather_sum_matches_explicit_sum_and_grad(K):
    """Both paths of gather_sum (row gather for few positions, multi-hot matmul for many) agree with a loop."""
    from grokscope.models.base import gather_sum

    g = torch.Generator().manual_seed(K)
    M, V, H, B = 2, 3, 5, 11
    table = torch.randn(M, K * V, H, generator=g, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, V, (1, B, K), generator=g) + torch.arange(K) * V
    out = gather_sum(table, idx)
    want = torch.stack([sum(table[m, idx[0, :, k]] for k in range(K)) for m in range(M)])
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
    w = torch.randn(out.shape, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((out * w).sum(), table)
    (grad_want,) = torch.autograd.grad((want * w).sum(), table)
    torch.testing.assert_close(grad, grad_want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", [c for c in TRANSFORMERS if c.n_layers > 1 and c.causal], ids=_id)
@pytest.mark.parametrize("task", [AB, AOPB], ids=["ab=", "aopb="])
def test_prefix_table_path_equals_reference(cfg, task):
    """Real task inputs (constant op/= tokens) take the prefix-table path of multi-layer causal models:
    logits and gradients must equal the plain reference."""
    model = make(cfg, task, M=2)
    randomize(model)
    g = torch.Generator().manual_seed(9)
    B = 9
    x = tokens(task, B, M=1, seed=5)
    ops = [p for p in range(task.seq_len) if p not in task.input_positions]
    for p in ops:  # constant tokens where the task has no operand
        x[..., p] = task.vocab_size - 1 - p % 2
    assert model.n_prefix >= 1
    assert model._prefix_is_const(x, model.n_prefix)
    got, want = model(x), REFERENCES[cfg.name](model, x)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    w = torch.randn(got.shape, generator=g, dtype=torch.float64)
    params = list(model.trainable().values())
    for a, b in zip(torch.autograd.grad((got * w).sum(), params),
                    torch.autograd.grad((want * w).sum(), params), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
