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
