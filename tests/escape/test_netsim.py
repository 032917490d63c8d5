"""The vectorised escape simulation agrees with the training loop's mathematics; the control never escapes."""

from __future__ import annotations

import numpy as np
import torch

from grokscope.escape import netsim, temperature
from grokscope.tasks.teacher import TeacherTask


def test_chain_grads_equal_autograd_of_the_batch_mse():
    g = torch.Generator().manual_seed(0)
    M, n, d, c = 3, 9, 5, 4
    x, y = torch.randn(M, n, d, generator=g, dtype=torch.float64), torch.randn(M, n, c, generator=g, dtype=torch.float64)
    Ws = [torch.randn(M, a, b, generator=g, dtype=torch.float64, requires_grad=True) for a, b in ((d, 3), (3, 2), (2, c))]
    W = Ws[0] @ Ws[1] @ Ws[2]
    loss = ((torch.bmm(x, W) - y) ** 2).sum(-1).mean(1).sum()  # train/loop.py's loss for regression targets
    auto = torch.autograd.grad(loss, Ws)
    sxx, sxy = netsim.moments(x, y)
    mine = netsim.chain_grads([w.detach() for w in Ws], sxx, sxy)
    for a, b in zip(auto, mine):
        torch.testing.assert_close(a, b)


def test_full_batch_gd_never_escapes_but_langevin_noise_does():
    task = TeacherTask(d_in=4, d_out=4, spectrum=[1.0], n_train=32, n_test=4)
    ctl = netsim.simulate(task, 3, 1, 0.2, 0.1, [0.0], [0, 1, 2, 3], 1500)
    assert np.isinf(ctl.escape).all() and np.abs(ctl.final_amplitude).max() < 1e-3
    hot = netsim.simulate(task, 3, 1, 0.2, 0.1, [0.008], [0, 1, 2, 3], 3000)  # ΔE/T ≈ 1
    assert np.isfinite(hot.escape).all()
    assert np.all(hot.final_amplitude > 0.5)  # on state: b*³ = 0.78


def test_sgd_temperature_vanishes_at_the_trapped_state():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 4, generator=g, dtype=torch.float64), torch.randn(16, 4, generator=g, dtype=torch.float64)

    def grads(scale):
        Ws = [(torch.randn(4, 4, generator=g, dtype=torch.float64) * scale).requires_grad_(True) for _ in range(3)]
        return temperature.per_example_grads(lambda i: ((x[i] @ Ws[0] @ Ws[1] @ Ws[2] - y[i]) ** 2).sum(), Ws, 16)

    near0, big = temperature.t_eff(grads(0.01), 0.1, 4), temperature.t_eff(grads(0.5), 0.1, 4)
    assert 0 <= near0 < 1e-6 * big  # per-example gradients ∝ the other layers: multiplicative noise
