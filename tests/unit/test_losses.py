"""Per-example losses against their written-out formulas (float64): CE, MSE on one-hot, StableMax-CE."""

from __future__ import annotations

import math

import pytest
import torch

from grokscope.train.losses import per_example, probabilities, stablemax_s

M, B, C = 2, 5, 7


def logits(seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(M, B, C, generator=g, dtype=torch.float64) * scale
    y = torch.randint(0, C, (M, B), generator=g)
    return z, y


def s_scalar(x: float) -> float:
    """StableMax's s(x) (Prieto et al. 2025): x + 1 for x >= 0, 1/(1 - x) for x < 0."""
    return x + 1.0 if x >= 0 else 1.0 / (1.0 - x)


def test_stablemax_s_formula_and_continuity():
    xs = [-1e6, -10.0, -1.0, -0.5, -1e-12, 0.0, 1e-12, 0.5, 2.0, 1e6]
    got = stablemax_s(torch.tensor(xs, dtype=torch.float64))
    for x, v in zip(xs, got.tolist(), strict=True):
        assert math.isclose(v, s_scalar(x), rel_tol=1e-15)
    assert float(stablemax_s(torch.tensor(0.0))) == 1.0  # both branches meet at s(0) = 1
    assert bool((got > 0).all())  # a positive "exp" substitute: probabilities are well defined


def test_stablemax_gradient_finite_for_large_logits():
    z = torch.tensor([-1e8, -3.0, 0.0, 4.0, 1e8], dtype=torch.float64, requires_grad=True)
    stablemax_s(z).sum().backward()
    assert bool(torch.isfinite(z.grad).all())  # the unused branch does not poison the gradient
    want = [1.0 / (1.0 - x) ** 2 if x < 0 else 1.0 for x in z.detach().tolist()]
    torch.testing.assert_close(z.grad, torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=0)


def test_stablemax_loss_is_minus_log_normalised_s():
    z, y = logits()
    got = per_example("stablemax", z, y)
    for m in range(M):
        for b in range(B):
            s = [s_scalar(float(v)) for v in z[m, b]]
            want = -math.log(s[int(y[m, b])] / sum(s))
            assert math.isclose(float(got[m, b]), want, rel_tol=1e-12)
    p = probabilities("stablemax", z)
    torch.testing.assert_close(p.sum(-1), torch.ones(M, B, dtype=torch.float64), rtol=1e-14, atol=0)
    torch.testing.assert_close(-p.gather(-1, y[..., None]).squeeze(-1).log(), got, rtol=1e-12, atol=0)


def test_stablemax_differs_from_softmax():
    z, y = logits()
    assert not torch.allclose(per_example("stablemax", z, y), per_example("ce", z, y))


def test_mse_sums_squared_error_to_one_hot():
    z, y = logits(seed=1)
    got = per_example("mse", z, y)
    for m in range(M):
        for b in range(B):
            want = sum((float(z[m, b, c]) - (1.0 if c == int(y[m, b]) else 0.0)) ** 2 for c in range(C))
            assert math.isclose(float(got[m, b]), want, rel_tol=1e-12)
    onehot = torch.nn.functional.one_hot(y, C).double()
    assert torch.equal(per_example("mse", onehot, y), torch.zeros(M, B, dtype=torch.float64))  # perfect fit: 0


def test_ce_is_minus_log_softmax():
    z, y = logits(seed=2)
    got = per_example("ce", z, y)
    for m in range(M):
        for b in range(B):
            row = [float(v) for v in z[m, b]]
            want = -row[int(y[m, b])] + math.log(sum(math.exp(v) for v in row))
            assert math.isclose(float(got[m, b]), want, rel_tol=1e-12)


def test_unknown_loss():
    z, y = logits()
    with pytest.raises(ValueError, match="unknown loss"):
        per_example("hinge", z, y)
