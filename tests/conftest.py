"""Fixtures for every test: one torch thread (DESIGN.md: thread contention on small CPUs costs up to 10x)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def pytest_addoption(parser):
    parser.addoption("--run-long", action="store_true", default=False,
                     help="also run the `long` cases: full quick-scale reproductions (minutes each)")


def pytest_collection_modifyitems(config, items):
    # `long` cases (a whole `reproduce NAME --scale quick`, minutes each) do not fit the ~10-minute suite on a
    # 2-core machine; they run with --run-long, and -ra lists each one skipped here, so none is hidden.
    if config.getoption("--run-long"):
        return
    skip = pytest.mark.skip(reason="long end-to-end reproduction: run with --run-long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)
