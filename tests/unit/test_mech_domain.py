"""Domains and operand grids of the mechanism analyses, for every modular operation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from grokscope.errors import UserError
from grokscope.mech.domain import make_domain, natural_basis
from grokscope.mech.readout import grid
from grokscope.tasks.modular import ModularTask, build, operate


@pytest.mark.parametrize("op,exclude_zero,kind,n", [("add", False, "additive", 11), ("sub", False, "additive", 11),
                                                     ("div", False, "additive", 10), ("mul", True, "additive", 10),
                                                     ("mul", False, "multiplicative", 10),
                                                     ("x2xyy2", False, "multiplicative", 10)])
def test_grid_orders_operands_row_major(op, exclude_zero, kind, n):
    cfg = ModularTask(op=op, p=11, exclude_zero=exclude_zero, frac=0.5)
    data = build(cfg, [0])
    dom = make_domain(cfg, kind)
    assert dom.n == n and dom.basis.shape == (1 + 2 * (dom.period // 2), n)
    g = grid(data, dom)
    a, b = g.x[0, :, 0].numpy(), g.x[0, :, 1].numpy()
    np.testing.assert_array_equal(a, np.repeat(dom.values, n))
    np.testing.assert_array_equal(b, np.tile(dom.values, n))
    np.testing.assert_array_equal(g.y.numpy(), operate(op, a, b, 11))


def test_natural_basis_and_errors():
    assert natural_basis(ModularTask(op="mul", p=11)) == "multiplicative"
    assert natural_basis(ModularTask(op="sub", p=11)) == "additive"
    with pytest.raises(UserError, match="no Fourier structure"):
        make_domain(SimpleNamespace(name="parity"), "additive")
    with pytest.raises(UserError, match="prime"):
        make_domain(ModularTask(op="add", p=12), "multiplicative")
    with pytest.raises(UserError, match="unknown basis"):
        make_domain(ModularTask(op="add", p=11), "wavelet")
