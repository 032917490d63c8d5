"""The reference forward of every model against its fast path, its read (cache/keep) and edit hooks, attention
patterns over all queries, and model roles (float64 throughout)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from grokscope.errors import UserError
from grokscope.models import (
    MODELS,
    DeepLinearConfig,
    HookPoints,
    MLPConfig,
    OneHotMLPConfig,
    TaskShape,
    TransformerConfig,
)

AB = TaskShape(vocab_size=8, n_classes=7, seq_len=3, input_positions=(0, 1))  # [a, b, =]
AOPB = TaskShape(vocab_size=13, n_classes=11, seq_len=4, input_positions=(0, 2))  # [a, op, b, =]
TASKS = {"ab=": AB, "aopb=": AOPB}

TRANSFORMERS = [
    TransformerConfig(n_layers=L, d_model=8, n_heads=2, d_mlp=12, layernorm=ln, bias=bias, causal=causal,
                      act="gelu" if ln else "relu")
    for L, ln, bias, causal in itertools.product((1, 2), (False, True), ("on", "off", "frozen"), (True, False))
]
OTHERS = [
    MLPConfig(d_embed=8, d_hidden=16, act="gelu", bias=True),
    MLPConfig(d_embed=6, d_hidden=10, act="quadratic", bias=False),
    OneHotMLPConfig(d_hidden=12, act="quadratic"),
    OneHotMLPConfig(d_hidden=12, act="relu"),
    DeepLinearConfig(depth=1, width=8),
    DeepLinearConfig(depth=3, width=8),
]
ALL = TRANSFORMERS + OTHERS


def _id(cfg):
    return "-".join(f"{k}={v}" for k, v in cfg.model_dump().items())


def make(cfg, task=AB, M=2):
    model = MODELS.get(cfg.name)(cfg, task, M, torch.float64)
    model.init_members(list(range(20, 20 + M)))
    with torch.no_grad():  # nonzero values everywhere trainable (biases and LayerNorm too)
        g = torch.Generator().manual_seed(7)
        for spec in model.specs:
            if spec.trainable:
                p = model.P[spec.name]
                noise = torch.randn(p.shape, generator=g, dtype=torch.float64)
                p.copy_({"ln_w": 1.0 + 0.3 * noise, "bias": 0.3 * noise, "ln_b": 0.3 * noise}.get(
                    spec.kind, noise / math.sqrt(p.shape[-2])))
    return model


def tokens(task, B, M=1, seed=0, constant_ops=False):
    """Random tokens [M, B, S]; with ``constant_ops`` the non-operand positions hold one token each, as in a
    real task (this is what sends multi-layer causal transformers through the prefix-table fast path)."""
    x = torch.randint(0, task.vocab_size, (M, B, task.seq_len), generator=torch.Generator().manual_seed(seed))
    if constant_ops:
        for p in range(task.seq_len):
            if p not in task.input_positions:
                x[..., p] = task.vocab_size - 1 - p % 2
    return x


def reference(model, x, **kw):
    return model.reference_forward(x, HookPoints(**kw))


# -- fast path == reference ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", ALL, ids=_id)
@pytest.mark.parametrize("task", TASKS.values(), ids=TASKS.keys())
@pytest.mark.parametrize("M", [1, 3])
@pytest.mark.parametrize("constant_ops", [False, True], ids=["random-x", "task-x"])
def test_fast_equals_reference_logits_and_gradients(cfg, task, M, constant_ops):
    model = make(cfg, task, M=M)
    x = tokens(task, 7, M=1 if constant_ops else M, seed=M, constant_ops=constant_ops)
    fast, ref = model(x), reference(model, x)
    assert ref.shape == fast.shape == (M, 7, task.n_classes) and ref.dtype == torch.float64
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    assert ref.abs().max() > 1e-3  # a non-trivial comparison
    # forward() picks the reference as soon as hooks are asked for
    torch.testing.assert_close(model(x, {}), ref, rtol=0, atol=0)
    torch.testing.assert_close(model(x, all_queries=True), ref, rtol=0, atol=0)
    w = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    params = list(model.trainable().values())
    g_fast = torch.autograd.grad((fast * w).sum(), params)
    g_ref = torch.autograd.grad((ref * w).sum(), params)
    for name, a, b in zip(model.trainable(), g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=name)
    assert any(g.abs().sum() > 0 for g in g_ref)


def test_prefix_table_path_is_exercised():
    """The task-x case above reaches the prefix-table fast path of a 2-layer causal model on [a, op, b, =]."""
    model = make(TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=8), AOPB)
    x = tokens(AOPB, 5, constant_ops=True)
    assert model.n_prefix >= 2 and model._prefix_is_const(x, model.n_prefix)


def test_reference_adds_nonzero_frozen_biases():
    """A frozen bias is skipped by the fast path (assumed 0) but added by the reference: loading non-zero frozen
    biases, the reference equals a bias="on" model holding the same values."""
    kw = dict(n_layers=2, d_model=8, n_heads=2, d_mlp=8, layernorm=True)
    frozen, on = make(TransformerConfig(bias="frozen", **kw)), make(TransformerConfig(bias="on", **kw))
    with torch.no_grad():
        for name, p in on.P.items():
            frozen.P[name].copy_(p)
    assert not frozen.P["b_U"].requires_grad and frozen.P["b_U"].abs().sum() > 0
    x = tokens(AB, 6)
    torch.testing.assert_close(reference(frozen, x), on(x), rtol=1e-10, atol=1e-10)
    assert not torch.allclose(frozen(x), on(x))  # the fast path ignores them, as documented


# -- read hooks: cache, keep, hook_names -------------------------------------------------------------------------
def _transformer_shapes(model, M, B):
    cfg, S = model.cfg, model.seq_len
    d, H, dh = cfg.d_model, cfg.n_heads, model.dh
    want = {"hook_embed": (M, B, S, d), "hook_pos_embed": (M, B, S, d), "hook_unembed_in": (M, B, d)}
    if cfg.layernorm:
        want["ln_final.hook_normalized"] = (M, B, S, d)
    for l in range(cfg.n_layers):
        b = f"blocks.{l}"
        for name in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"):
            want[f"{b}.{name}"] = (M, B, S, d)
        if cfg.layernorm:
            want[f"{b}.ln1.hook_normalized"] = want[f"{b}.ln2.hook_normalized"] = (M, B, S, d)
        for name in ("hook_q", "hook_k", "hook_v", "hook_z"):
            want[f"{b}.attn.{name}"] = (M, B, S, H, dh)
        want[f"{b}.attn.hook_attn_scores"] = want[f"{b}.attn.hook_pattern"] = (M, B, H, S, S)
        want[f"{b}.mlp.hook_pre"] = want[f"{b}.mlp.hook_post"] = (M, B, S, cfg.d_mlp)
    return want


@pytest.mark.parametrize("cfg", TRANSFORMERS, ids=_id)
@pytest.mark.parametrize("task", TASKS.values(), ids=TASKS.keys())
def test_transformer_hook_shapes_and_names(cfg, task):
    M, B = 3, 4
    model = make(cfg, task, M=M)
    cache: dict = {}
    model(tokens(task, B), cache)
    want = _transformer_shapes(model, M, B)
    assert {k: tuple(v.shape) for k, v in cache.items()} == want
    assert set(model.hook_names()) == set(want) and len(model.hook_names()) == len(want)


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_hook_names_are_the_full_cache(cfg):
    model = make(cfg, M=2)
    cache: dict = {}
    logits = model(tokens(AB, 5), cache)
    assert list(cache) == model.hook_names()
    for name, h in cache.items():
        assert h.shape[:2] == (2, 5), name  # member and batch axes lead every hook
    # what W_U reads is the unembed_in hook
    W_U, b_U = model.P[model.roles.unembed], model.P.get("b_U")
    want = torch.bmm(cache["hook_unembed_in"], W_U) + (b_U[:, None] if b_U is not None else 0.0)
    torch.testing.assert_close(want, logits, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", [TRANSFORMERS[-1], OTHERS[0], OTHERS[5]], ids=_id)
def test_keep_stores_only_named_hooks(cfg):
    model = make(cfg)
    names = model.hook_names()
    keep = [names[1], names[-1]]
    x = tokens(AB, 5)
    full: dict = {}
    kept: dict = {}
    model(x, full)
    logits = model(x, kept, keep=keep)
    assert set(kept) == set(keep)
    for name in keep:
        torch.testing.assert_close(kept[name], full[name], rtol=0, atol=0)
    torch.testing.assert_close(logits, model(x), rtol=1e-10, atol=1e-10)
    empty: dict = {}
    model(x, empty, keep=())
    assert empty == {}


def test_unknown_hook_names_are_user_errors():
    model = make(TRANSFORMERS[0])
    x = tokens(AB, 2)
    with pytest.raises(UserError, match="did you mean 'blocks.0.mlp.hook_post'"):
        model(x, {}, keep=["blocks.0.mlp.hook_pots"])
    with pytest.raises(UserError, match="edit: unknown hook 'blocks.7.hook_resid_post'"):
        model(x, edit={"blocks.7.hook_resid_post": lambda h: h})
    shapes = r"edit\['hook_unembed_in'\] returned \(2, 2, 2\); the hook's activation has shape \(2, 2, 8\)"
    with pytest.raises(UserError, match=shapes):
        model(x, edit={"hook_unembed_in": lambda h: h[..., :2]})


# -- edit hooks ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_edit_unembed_in_to_zero_leaves_the_unembedding_bias(cfg):
    model = make(cfg, M=3)
    x = tokens(AB, 5)
    cache: dict = {}
    logits = model(x, cache, edit={"hook_unembed_in": torch.zeros_like})
    b_U = model.P["b_U"][:, None].expand_as(logits) if "b_U" in model.P else torch.zeros_like(logits)
    torch.testing.assert_close(logits, b_U, rtol=0, atol=0)
    assert torch.count_nonzero(cache["hook_unembed_in"]) == 0  # the cache holds the edited value
    assert model(x).abs().max() > 1e-3


@pytest.mark.parametrize("cfg", ALL, ids=_id)
def test_identity_edits_change_nothing(cfg):
    model = make(cfg, M=2)
    x = tokens(AB, 5)
    logits = model(x, edit={name: (lambda h: h.clone()) for name in model.hook_names()})
    torch.testing.assert_close(logits, model(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cfg", [c for c in TRANSFORMERS if c.bias != "off"][::3], ids=_id)
def test_zeroing_mlp_post_equals_zero_W_out(cfg):
    """Edit blocks.l.mlp.hook_post to 0 == the same model with W_out of block l zeroed (b_out still added)."""
    task = AOPB
    model = make(cfg, task)
    x = tokens(task, 6)
    for l in range(cfg.n_layers):
        edited = model(x, edit={f"blocks.{l}.mlp.hook_post": torch.zeros_like})
        ablated = make(cfg, task)
        with torch.no_grad():
            ablated.P[f"blocks.{l}.mlp.W_out"].zero_()
        torch.testing.assert_close(edited, ablated(x), rtol=1e-10, atol=1e-10)
        assert not torch.allclose(edited, model(x))


@pytest.mark.parametrize("cfg", OTHERS[:4], ids=_id)
def test_zeroing_hidden_of_mlps_equals_zero_W_U(cfg):
    model = make(cfg)
    x = tokens(AB, 6)
    edited = model(x, edit={"mlp.hook_post": torch.zeros_like})
    ablated = make(cfg)
    with torch.no_grad():
        ablated.P["W_U"].zero_()
    torch.testing.assert_close(edited, ablated(x), rtol=0, atol=0)


def test_edit_propagates_downstream():
    """Scaling a 2-layer transformer's layer-0 output changes layer 1's input by exactly that edit."""
    model = make(TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=8, bias="on"))
    x = tokens(AB, 4)
    plain: dict = {}
    edited: dict = {}
    model(x, plain)
    model(x, edited, edit={"blocks.0.hook_resid_post": lambda h: 2.0 * h})
    torch.testing.assert_close(edited["blocks.1.hook_resid_pre"], 2.0 * plain["blocks.1.hook_resid_pre"])
    torch.testing.assert_close(edited["blocks.0.hook_resid_mid"], plain["blocks.0.hook_resid_mid"], rtol=0, atol=0)


def test_edit_pattern_to_attend_to_position_zero():
    """Putting all attention on key 0 makes z at every query equal v at position 0."""
    model = make(TransformerConfig(n_layers=1, d_model=8, n_heads=2, d_mlp=8, bias="on"))
    x = tokens(AB, 4)

    def to_first(pattern):
        out = torch.zeros_like(pattern)
        out[..., 0] = 1.0
        return out

    cache: dict = {}
    model(x, cache, edit={"blocks.0.attn.hook_pattern": to_first})
    z, v = cache["blocks.0.attn.hook_z"], cache["blocks.0.attn.hook_v"]  # [M, B, S, H, dh]
    torch.testing.assert_close(z, v[:, :, :1].expand_as(z), rtol=1e-12, atol=1e-12)


# -- attention over all queries ------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [c for c in TRANSFORMERS if c.n_layers == 2 and c.bias == "on"], ids=_id)
@pytest.mark.parametrize("task", TASKS.values(), ids=TASKS.keys())
def test_all_queries_patterns(cfg, task):
    M, B, S, H = 3, 5, task.seq_len, cfg.n_heads
    model = make(cfg, task, M=M)
    cache: dict = {}
    model(tokens(task, B), cache, keep=[f"blocks.{l}.attn.hook_pattern" for l in range(2)], all_queries=True)
    future = torch.ones(S, S, dtype=torch.bool).triu(1)
    for l in range(2):
        pat = cache[f"blocks.{l}.attn.hook_pattern"]
        assert pat.shape == (M, B, H, S, S)
        torch.testing.assert_close(pat.sum(-1), torch.ones(M, B, H, S, dtype=pat.dtype), rtol=1e-12, atol=1e-12)
        if cfg.causal:
            assert torch.count_nonzero(pat[..., future]) == 0
            torch.testing.assert_close(pat[..., 0, 0], torch.ones(M, B, H, dtype=pat.dtype))  # query 0 sees key 0
        else:
            assert (pat[..., future] > 0).all()


# -- roles ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", ALL, ids=_id)
@pytest.mark.parametrize("task", TASKS.values(), ids=TASKS.keys())
def test_roles_name_parameters_and_hooks_that_chain(cfg, task):
    model = make(cfg, task)
    roles = model.roles
    hooks = set(model.hook_names())
    for name in (roles.embed, roles.unembed, *roles.layers):
        assert name in model.P and name in model.weight_names, name
    assert roles.unembed_in in hooks and set(roles.hidden) <= hooks
    assert len(roles.hidden) >= 1 or len(roles.layers) == 1  # only a one-matrix network has no hidden layer
    assert roles.layers[-1] == roles.unembed
    shapes = [model.P[n].shape[1:] for n in roles.layers]
    assert all(len(s) == 2 for s in shapes)
    for (_, out), (inp, _) in itertools.pairwise(shapes):
        assert out == inp
    assert shapes[-1][1] == task.n_classes
    assert model.P[roles.embed].shape[1] in (task.vocab_size, len(task.input_positions) * task.vocab_size)
    cache: dict = {}
    model(tokens(task, 2), cache, keep=[roles.unembed_in])
    assert cache[roles.unembed_in].shape == (2, 2, model.P[roles.unembed].shape[1])  # [M, B, d_in of unembed]
    if cfg.name == "transformer":
        assert roles.layers[0] == roles.embed == "W_E"
        assert roles.attention == tuple(f"blocks.{l}.attn" for l in range(cfg.n_layers))
        for prefix in roles.attention:
            assert f"{prefix}.W_Q" in model.P and f"{prefix}.hook_pattern" in hooks
    else:
        assert roles.attention == ()


def test_nonzero_frozen_biases_loaded_from_a_state_are_used_by_the_fast_path():
    """Frozen biases are skipped by the fast path only while exactly zero: loaded non-zero values count."""
    cfg = TransformerConfig(n_layers=2, d_model=8, n_heads=2, d_mlp=12, bias="frozen")
    model = make(cfg, AOPB)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["b_U"] = torch.randn_like(sd["b_U"])
    sd["blocks.0.mlp.b_in"] = torch.randn_like(sd["blocks.0.mlp.b_in"])
    model.load_state_dict(sd)
    x = tokens(AOPB, 16, model.M, constant_ops=True)
    with torch.no_grad():
        fast = model(x)
        ref = model(x, {}, keep=set())
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-10)
