"""Task tables (labels checked independently of the implementation), layouts, splits and validation."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from grokscope.config import validate
from grokscope.errors import UserError
from grokscope.tasks import TASKS, ModularTask, ParityTask, PermutationTask

PRIMES = (7, 11, 13)


def build_modular(seeds=(0,), **kw):
    cfg = ModularTask(**kw)
    return TASKS.get("modular")(cfg, list(seeds))


def _pairs(data, layout="ab="):
    pa, pb = (0, 1) if layout == "ab=" else (0, 2)
    return data.x[:, pa].tolist(), data.x[:, pb].tolist(), data.y.tolist()


@pytest.mark.parametrize("p", PRIMES)
def test_add_sub_mul_x2xyy2_labels(p):
    expected = {
        "add": lambda a, b: (a + b) % p,
        "sub": lambda a, b: (a - b) % p,
        "mul": lambda a, b: (a * b) % p,
        "x2xyy2": lambda a, b: (a * a + a * b + b * b) % p,
    }
    for op, f in expected.items():
        data = build_modular(op=op, p=p, frac=0.5)
        a, b, y = _pairs(data)
        assert len(y) == p * p
        assert sorted(zip(a, b, strict=True)) == [(i, j) for i in range(p) for j in range(p)]
        for ai, bi, yi in zip(a, b, y, strict=True):
            assert yi == f(ai, bi), (op, ai, bi)
            assert 0 <= yi < p
        assert data.n_classes == p


@pytest.mark.parametrize("p", PRIMES)
def test_div_labels(p):
    data = build_modular(op="div", p=p, frac=0.5)
    a, b, y = _pairs(data)
    assert len(y) == p * (p - 1)
    assert set(b) == set(range(1, p))
    assert set(a) == set(range(p))
    assert sorted(zip(a, b, strict=True)) == [(i, j) for i in range(p) for j in range(1, p)]
    for ai, bi, yi in zip(a, b, y, strict=True):
        assert (bi * yi) % p == ai  # c = a / b  <=>  b·c ≡ a
        assert 0 <= yi < p


@pytest.mark.parametrize("p", PRIMES)
def test_zero_excluded_mul(p):
    data = build_modular(op="mul", p=p, frac=0.5, exclude_zero=True)
    a, b, y = _pairs(data)
    assert len(y) == (p - 1) ** 2
    assert sorted(zip(a, b, strict=True)) == [(i, j) for i in range(1, p) for j in range(1, p)]
    for ai, bi, yi in zip(a, b, y, strict=True):
        assert yi == (ai * bi) % p
        assert yi != 0  # a field has no zero divisors


@pytest.mark.parametrize("p", (7, 11))
def test_layout_ab_eq(p):
    data = build_modular(op="add", p=p, frac=0.5, layout="ab=")
    assert data.x.shape == (p * p, 3)
    assert data.seq_len == 3
    assert data.vocab_size == p + 1
    assert (data.x[:, 2] == p).all()  # '=' token
    assert data.x[:, :2].max() < p and data.x.min() >= 0
    assert data.input_positions == (0, 1)
    assert data.token_names[p] == "="


@pytest.mark.parametrize("op", ("add", "div"))
def test_layout_a_op_b_eq(op):
    p = 11
    data = build_modular(op=op, p=p, frac=0.5, layout="aopb=")
    n = p * p if op == "add" else p * (p - 1)
    assert data.x.shape == (n, 4)
    assert data.vocab_size == p + 2
    assert (data.x[:, 1] == p + 1).all()  # op token
    assert (data.x[:, 3] == p).all()  # '=' token
    assert data.input_positions == (0, 2)
    assert data.token_names == {p: "=", p + 1: op}
    ref = build_modular(op=op, p=p, frac=0.5, layout="ab=")
    # same labels for the same (a, b) pairs in both layouts
    a4, b4, y4 = _pairs(data, "aopb=")
    a3, b3, y3 = _pairs(ref)
    assert dict(zip(zip(a4, b4, strict=True), y4, strict=True)) == dict(zip(zip(a3, b3, strict=True), y3, strict=True))


@pytest.mark.parametrize("n,k", [(10, 1), (12, 3), (8, 8)])
def test_sparse_parity_labels(n, k):
    cfg = ParityTask(n=n, k=k, m=50, n_test=30)
    data = TASKS.get("parity")(cfg, [0, 1])
    M, N = 2, 80
    assert data.x.shape == (M, N, n + 1)
    assert data.y.shape == (M, N)
    assert set(np.unique(data.x[..., :n])) <= {0, 1}
    assert (data.x[..., n] == 2).all()
    for m in range(M):
        for row, label in zip(data.x[m], data.y[m], strict=True):
            xor = 0
            for bit in row[:k]:
                xor ^= int(bit)
            assert label == xor
    assert data.train_idx.shape == (M, 50) and data.test_idx.shape == (M, 30)
    assert not set(data.train_idx[0]) & set(data.test_idx[0])
    assert not np.array_equal(data.x[0], data.x[1])  # per-member samples differ by seed
    assert {0, 1} == set(np.unique(data.y))  # both classes occur


def _compose(a, b):
    return tuple(a[b[i]] for i in range(len(a)))


@pytest.mark.parametrize("n", (3, 4))
def test_permutation_composition(n):
    data = TASKS.get("permutation")(PermutationTask(n=n, frac=0.5), [0])
    elems = list(permutations(range(n)))
    g = len(elems)
    assert data.n_classes == g and data.vocab_size == g + 1
    assert data.x.shape == (g * g, 3)
    for (ai, bi, _), yi in zip(data.x, data.y, strict=True):
        assert elems[yi] == _compose(elems[ai], elems[bi])
    # non-abelian: the table is not symmetric
    table = np.zeros((g, g), dtype=int)
    table[data.x[:, 0], data.x[:, 1]] = data.y
    assert not np.array_equal(table, table.T)
    # identity (index 0 in lexicographic order) is neutral on both sides
    assert (table[0] == np.arange(g)).all() and (table[:, 0] == np.arange(g)).all()


def test_permutation_layout_aopb():
    data = TASKS.get("permutation")(PermutationTask(n=3, frac=0.5, layout="aopb="), [0])
    assert data.x.shape == (36, 4) and data.vocab_size == 8
    assert (data.x[:, 1] == 7).all() and (data.x[:, 3] == 6).all()


# -- splits -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frac", (0.1, 0.3, 0.5, 0.77))
def test_split_sizes_disjoint_cover(frac):
    p = 13
    data = build_modular(seeds=(0, 1, 2), op="add", p=p, frac=frac)
    N = p * p
    n_train = int(np.floor(frac * N))
    assert data.train_idx.shape == (3, n_train)
    assert data.test_idx.shape == (3, N - n_train)
    for m in range(3):
        tr, te = set(data.train_idx[m].tolist()), set(data.test_idx[m].tolist())
        assert len(tr) == n_train and len(te) == N - n_train  # no duplicates
        assert not tr & te
        assert tr | te == set(range(N))


def test_split_deterministic_per_seed():
    a = build_modular(seeds=(3, 5), op="add", p=11, frac=0.3)
    b = build_modular(seeds=(3, 5), op="add", p=11, frac=0.3)
    assert np.array_equal(a.train_idx, b.train_idx) and np.array_equal(a.test_idx, b.test_idx)
    # a member's split depends only on its own seed, not on its position or its neighbours
    c = build_modular(seeds=(7, 5), op="add", p=11, frac=0.3)
    assert np.array_equal(a.train_idx[1], c.train_idx[1])


def test_split_differs_across_seeds():
    d = build_modular(seeds=(0, 1), op="add", p=11, frac=0.3)
    assert not np.array_equal(d.train_idx[0], d.train_idx[1])


def test_split_seed_fixes_split_for_all_members():
    d = build_modular(seeds=(0, 1, 2), op="mul", p=11, frac=0.3, split_seed=598)
    assert np.array_equal(d.train_idx[0], d.train_idx[1])
    assert np.array_equal(d.train_idx[0], d.train_idx[2])
    other = build_modular(seeds=(0,), op="mul", p=11, frac=0.3, split_seed=599)
    assert not np.array_equal(d.train_idx[0], other.train_idx[0])
    perm = TASKS.get("permutation")(PermutationTask(n=3, frac=0.5, split_seed=1), [0, 1])
    assert np.array_equal(perm.train_idx[0], perm.train_idx[1])
    par = TASKS.get("parity")(ParityTask(n=6, k=2, m=10, n_test=5, split_seed=4), [0, 1])
    assert np.array_equal(par.x[0], par.x[1])


# -- validation -----------------------------------------------------------------------------------------------------
def _task_cfg(**task):
    return {"task": {"name": "modular", **task}, "model": {"name": "mlp", "d_embed": 8, "d_hidden": 8}}


@pytest.mark.parametrize("task", [
    {"op": "div", "p": 12},
    {"op": "div", "p": 9},
    {"op": "mul", "p": 15, "exclude_zero": True},
    {"op": "add", "p": 1},
    {"op": "add", "p": 7, "frac": 0.0},
    {"op": "add", "p": 7, "frac": 1.0},
    {"op": "add", "p": 7, "frac": -0.2},
    {"op": "add", "p": 7, "frac": 1.5},
])
def test_invalid_task_raises_user_error(task):
    with pytest.raises(UserError) as e:
        validate(_task_cfg(**task))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("invalid config")


@pytest.mark.parametrize("task", [{"op": "mul", "p": 12}, {"op": "sub", "p": 12}, {"op": "div", "p": 13},
                                  {"op": "mul", "p": 13, "exclude_zero": True}])
def test_valid_task_accepted(task):
    cfg = validate(_task_cfg(**task))
    assert cfg.task.p == task["p"]


def test_pydantic_level_errors():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ModularTask(op="div", p=10)
    with pytest.raises(ValidationError):
        PermutationTask(n=6)
    with pytest.raises(ValidationError):
        ParityTask(n=3, k=4)


def test_non_prime_message_names_p():
    with pytest.raises(UserError, match="p=12"):
        validate(_task_cfg(op="div", p=12))
