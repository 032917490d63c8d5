"""Two-layer grokking kernels (papers/03 §14): Woodbury B, Theorem 6's sign rule, the update Gram, the lock-in
detectors, ρ_tian, the centred MSE, coupled vs decoupled decay, the fused one-hot kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grokscope.config import CheckpointConfig, OptimConfig
from grokscope.detect.lockin import first_crossing, late_stage_median, slope_detector
from grokscope.models.onehot_kernel import onehot_two_layer
from grokscope.probes.repulsion import centred_features, repulsion_stats, top_pairs, woodbury_inverse
from grokscope.probes.tian import rho_tian
from grokscope.probes.update_gram import WINDOW, UpdateGram
from grokscope.train.losses import per_example
from grokscope.train.optim import Optimizer
from grokscope.train.schedule import checkpoint_steps

D = torch.float64


@pytest.mark.parametrize("n,K", [(12, 30), (40, 9)])
def test_woodbury_matches_direct_inverse(n, K):
    Ft = centred_features(torch.randn(n, K, generator=torch.Generator().manual_seed(n), dtype=D))
    eta = 2e-2
    direct = torch.linalg.inv(Ft.T @ Ft + eta * torch.eye(K, dtype=D))
    torch.testing.assert_close(woodbury_inverse(Ft, eta), direct, rtol=1e-8, atol=1e-8)


def _leave_two_out(Ft, j, l, eta):
    keep = [i for i in range(Ft.shape[1]) if i not in (j, l)]
    R = Ft[:, keep]
    P = torch.eye(Ft.shape[0], dtype=D) - R @ torch.linalg.inv(R.T @ R + eta * torch.eye(len(keep), dtype=D)) @ R.T
    return float(Ft[:, j] @ P @ Ft[:, l])


def test_sign_rule_on_a_constructed_feature_matrix():
    """f3 = f1 + f2 with f1 ⟂ f2: similar pairs (1,3), (2,3) repel (B < 0), while the orthogonal pair (1,2) gets
    B > 0 (after projecting out f3 they are anti-aligned): Theorem 6's rule holds with P_{η,−jl}, the plain cosine
    rule does not for (1,2). Also: with the full P_η, f̃_jᵀP_ηf̃_l = −η²·B_jl (the identity the docs state)."""
    g = torch.Generator().manual_seed(0)
    n = 60
    f1 = torch.randn(n, generator=g, dtype=D)
    f2 = torch.randn(n, generator=g, dtype=D)
    f1, f2 = f1 - f1.mean(), f2 - f2.mean()
    f2 = f2 - (f2 @ f1) / (f1 @ f1) * f1
    noise = torch.randn(n, 3, generator=g, dtype=D) * 0.05
    Ft = centred_features(torch.stack([f1, f2, f1 + f2], 1) + noise)
    eta = 1e-2
    B = woodbury_inverse(Ft, eta)
    assert B[0, 2] < 0 and B[1, 2] < 0 and B[0, 1] > 0
    for j, l in ((0, 1), (0, 2), (1, 2)):
        assert math.copysign(1, B[j, l]) == -math.copysign(1, _leave_two_out(Ft, j, l, eta))
        full = float(Ft[:, j] @ (Ft[:, l] - Ft @ (B @ (Ft.T @ Ft[:, l]))))
        assert full == pytest.approx(-eta**2 * float(B[j, l]), rel=1e-3)  # the literal path loses digits
    stats = repulsion_stats(Ft.float(), eta, top=3)
    assert stats["sign_match"] == 1.0 and stats["sign_match_l2o"] == 1.0
    # the three pairs by |cos|: (0,2), (1,2) positive and repelling; (0,1) nearly orthogonal, B > 0
    j, l, cos = top_pairs(Ft, 3)
    expect = np.mean([(float(B[a, b]) < 0) == (float(c) > 0) for a, b, c in zip(j, l, cos)])
    assert stats["sim_sign_match"] == pytest.approx(expect)
    pos = [(float(B[a, b]) < 0) for a, b, c in zip(j, l, cos) if float(c) > 0]
    assert stats["b_neg_pos"] == pytest.approx(np.mean(pos)) and sum(pos) >= 2  # (0,2), (1,2) repel


def test_repulsion_needs_positive_decay():
    stats = repulsion_stats(torch.randn(10, 20), 0.0)
    assert all(math.isnan(v) for v in stats.values())


def test_update_gram_matches_direct_svd_of_stacked_updates():
    g = torch.Generator().manual_seed(3)
    probe = UpdateGram()
    probe.layer = "W"
    deltas = []
    for t in range(WINDOW + 7):
        d = torch.randn(2, 5, 8, generator=g) * (1 + t % 3)
        deltas.append(d.reshape(2, -1))
        probe.after_step(t + 1, {}, {}, {"W": d})
    stacked = torch.stack(deltas[-WINDOW:], 1).double()  # [M, W, P]
    sv = torch.linalg.svdvals(stacked) ** 2  # eigenvalues of the W×W Gram = squared singular values
    eig = torch.linalg.eigvalsh(probe.gram).flip(-1)
    torch.testing.assert_close(eig, sv, rtol=1e-9, atol=1e-9)
    assert probe.series[-1] == pytest.approx((sv[:, 1] / sv[:, 2]).tolist(), rel=1e-9)
    sd = probe.state_dict()
    again = UpdateGram()
    again.load_state_dict(sd)
    assert torch.equal(again.gram, probe.gram) and again.count == probe.count
    assert sd["buf"].dtype == torch.float32 and torch.equal(again.buf, probe.buf)  # saved at half size, exactly


def test_online_detector_fires_on_a_rank_two_lock_in():
    """Updates that turn rank 2 after update 120 (σ₃ collapses): the detector fires soon after; isotropic noise
    never fires it."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
    locked, noise = UpdateGram(), UpdateGram()
    locked.layer = noise.layer = "W"
    for t in range(1, 201):
        scale = 1.0 if t < 120 else 0.8 ** (t - 120)
        d_lock = (torch.randn(2, generator=g) @ torch.stack([a, b])) + scale * torch.randn(64, generator=g)
        locked.after_step(t, {}, {}, {"W": d_lock[None]})
        noise.after_step(t, {}, {}, {"W": torch.randn(1, 64, generator=g)})
    assert locked.fired[0] is not None and 120 < locked.fired[0] <= 150
    assert noise.fired == [None]


def test_slope_detector_and_late_median():
    steps = np.arange(0, 401)
    ratio = np.where(steps < 150, 1.3, 1.3 * np.exp(0.1 * (steps - 150)))
    assert slope_detector(steps, ratio) == 161  # slope 0.1·(t − 150)/25 > 0.04
    assert slope_detector(steps, np.full(401, 1.3)) is None
    assert slope_detector(steps[::5], ratio[::5]) == 165  # a coarse grid: slopes over exactly 25 epochs
    assert late_stage_median(steps, ratio, (200, 400)) == pytest.approx(float(np.median(ratio[200:401])))
    assert math.isnan(late_stage_median(steps[:100], ratio[:100]))
    assert first_crossing(steps, steps / 400, 0.5) == 200 and first_crossing(steps, steps * 0.0, 0.5) is None


def test_rho_tian_is_zero_on_the_ideal_gram_and_positive_otherwise():
    n = 6
    K = 0.7 * torch.eye(n, dtype=D) + 0.2  # aI + b11ᵀ, a PSD Gram
    F = torch.linalg.cholesky(K)[None]  # F Fᵀ = K
    assert float(rho_tian(F)) == pytest.approx(0.0, abs=1e-12)
    F2 = torch.randn(1, 30, 8, generator=torch.Generator().manual_seed(0), dtype=D)
    Kr = F2[0] @ F2[0].T
    d, o = Kr.diagonal().mean(), (Kr.sum() - Kr.diagonal().sum()) / (30 * 29)
    ideal = o + (d - o) * torch.eye(30, dtype=D)
    assert float(rho_tian(F2)) == pytest.approx(float((Kr - ideal).norm() / Kr.norm()), rel=1e-10)


def test_mse_centered_is_the_papers_code_form():
    """‖z − mean z − (e_y − 1/M)‖² = ‖z − mean z‖² − 2⟨z_zm, e_y⟩ + (1 − 1/M) (papers/03 §14 "Loss")."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 7, 5, generator=g, dtype=D)
    y = torch.randint(0, 5, (2, 7), generator=g)
    zm = z - z.mean(-1, keepdim=True)
    code = (zm**2).sum(-1) - 2 * zm.gather(-1, y[..., None])[..., 0] + (1 - 1 / 5)
    torch.testing.assert_close(per_example("mse_centered", z, y), code)
    # invariant to a shift common to all classes, unlike plain MSE
    torch.testing.assert_close(per_example("mse_centered", z + 3.0, y), code)


def _one_step(name, p0, g, lr=0.1, wd=0.5, steps=1):
    params = {"W": p0.clone()}
    opt = Optimizer(OptimConfig(name=name, lr=lr, wd=wd, beta2=0.999), params, {"W"})
    for _ in range(steps):
        opt.step(params, {"W": g.clone()}, torch.tensor([lr], dtype=D), torch.tensor([wd], dtype=D))
    return params["W"]


def test_coupled_and_decoupled_decay_differ_as_documented():
    """With a zero loss gradient: AdamW (decoupled) multiplies the weights by 1 − lr·wd; Adam with coupled L2
    (torch.optim.Adam's weight_decay) feeds wd·p through the moments, so its first step is lr·sign(p), whatever wd."""
    p0 = torch.tensor([[2.0, -0.5, 0.1]], dtype=D)
    zero = torch.zeros_like(p0)
    torch.testing.assert_close(_one_step("adamw", p0, zero), p0 * (1 - 0.1 * 0.5))
    coupled = _one_step("adam", p0, zero)
    torch.testing.assert_close(coupled, p0 - 0.1 * torch.sign(p0), rtol=1e-6, atol=1e-6)
    # the two differ once there is a gradient too (the equality with torch.optim.Adam / AdamW is in test_optim.py)
    g = torch.full_like(p0, 0.3)
    assert not torch.allclose(_one_step("adam", p0, g, steps=4), _one_step("adamw", p0, g, steps=4))


@pytest.mark.parametrize("act", ["quadratic", "relu"])
def test_fused_onehot_kernel_matches_autograd(act):
    g = torch.Generator().manual_seed(0)
    M, V, H, C, B = 2, 5, 6, 4, 9
    W = torch.randn(M, 2 * V, H, generator=g, dtype=D, requires_grad=True)
    U = torch.randn(M, H, C, generator=g, dtype=D, requires_grad=True)
    idx = torch.stack([torch.randint(0, V, (1, B), generator=g), V + torch.randint(0, V, (1, B), generator=g)], -1)
    out = onehot_two_layer(W, U, idx, act)
    pre = W[:, idx[0, :, 0]] + W[:, idx[0, :, 1]]
    ref = torch.bmm(pre * pre if act == "quadratic" else torch.relu(pre), U)
    torch.testing.assert_close(out, ref)
    w = torch.randn(M, B, C, generator=g, dtype=D)
    ga = torch.autograd.grad((out * w).sum(), [W, U])
    gb = torch.autograd.grad((ref * w).sum(), [W, U])
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("act", ["quadratic", "relu"])
def test_blocked_onehot_kernel_equals_the_batched_form(act, monkeypatch):
    """The cache-blocked form (several row blocks per member, K = 3 slots, C = 5 classes padded to 8) gives the
    batched form's output and gradients to rounding (other matmul kernels; dV summed block by block)."""
    from grokscope.models import onehot_kernel as ok

    g = torch.Generator().manual_seed(1)
    M, V, H, C, B = 3, 4, 8, 5, 23
    W = torch.randn(M, 3 * V, H, generator=g, dtype=D)
    U = torch.randn(M, H, C, generator=g, dtype=D)
    idx = torch.stack([k * V + torch.randint(0, V, (1, B), generator=g) for k in range(3)], -1)
    w = torch.randn(M, B, C, generator=g, dtype=D)

    def run():
        Wg, Ug = W.clone().requires_grad_(), U.clone().requires_grad_()
        out = onehot_two_layer(Wg, Ug, idx, act)
        return (out, *torch.autograd.grad((out * w).sum(), [Wg, Ug]))

    batched = run()
    monkeypatch.setattr(ok, "BLOCK_ABOVE", 0)
    monkeypatch.setattr(ok, "BLOCK_ELEMS", 5 * H)  # 5-row blocks: 5 blocks of the 23 rows
    assert len(ok._blocks(B, H)) == 5
    blocked = run()
    for a, b in zip(batched, blocked):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_checkpoint_at_steps_snap_to_the_grid():
    grid = np.arange(0, 401, 5)
    assert checkpoint_steps(CheckpointConfig(count=0, at=[50, 100, 176, 900]), grid) == {50, 100, 175, 400}
    assert checkpoint_steps(CheckpointConfig(count=0), grid) == set()


def test_pair_entries_equal_the_full_woodbury_inverse():
    """repulsion_stats forms only the B entries it needs; they match the full K×K B's signs and statistics."""
    g = torch.Generator().manual_seed(5)
    base = torch.randn(50, 6, generator=g, dtype=D)
    F = (base @ torch.randn(6, 40, generator=g, dtype=D)) ** 2 + 0.1 * torch.randn(50, 40, generator=g, dtype=D)
    eta = 1e-2
    stats = repulsion_stats(F, eta, top=30)
    Ft = centred_features(F)
    B = woodbury_inverse(Ft, eta)
    j, l, cos = top_pairs(Ft, 30)
    b = B[j, l]
    assert stats["sim_sign_match"] == pytest.approx(float((torch.sign(b) == -torch.sign(cos)).double().mean()))
    assert stats["b_neg_pos"] == pytest.approx(float((b[cos > 0] < 0).double().mean()))
    assert stats["sign_match_l2o"] == 1.0
