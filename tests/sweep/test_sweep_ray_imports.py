"""Ray started by grokscope: a task imports a module that lives only on the driver's sys.path (a user's plugin).

Skipped only when Ray is missing (CI installs the ``ray`` extra). One Ray start for the whole module: they are slow.
"""

from __future__ import annotations

import os
import sys

import pytest
from executor_helpers import import_probe

from grokscope.sweep.executors import Job, RayExecutor

try:
    import ray
except ImportError:  # pragma: no cover - CI has ray
    ray = None

needs_ray = pytest.mark.skipif(ray is None and not os.environ.get("CI"),
                               reason="ray not installed (pip install grokscope[ray]); CI runs this test")


@needs_ray
def test_ray_task_imports_a_module_from_the_drivers_sys_path(tmp_path, monkeypatch) -> None:
    if ray.is_initialized():  # another module's Ray: this test is about the one grokscope starts
        ray.shutdown()
    name = "grokscope_test_plugin_" + tmp_path.name.replace("-", "_")
    (tmp_path / f"{name}.py").write_text("VALUE = 'imported from the driver path'\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    ex = RayExecutor(None, threads=1, device="cpu")
    ex.start()
    try:
        assert ex._started
        got = ray.get(ray.remote(import_probe).options(num_cpus=1).remote(name), timeout=120)
        assert got == "imported from the driver path"
        # a job that raises inside the task comes back as that job's one-line error, not a dead task
        out = list(ex.run([Job("broken", {"task": {"name": "no-such-task"}}, 1, 20)], tmp_path / "runs",
                          lambda *a: None))
        assert len(out) == 1 and out[0].error.startswith("ValidationError") and "no-such-task" in out[0].detail
    finally:
        ex.stop()
    assert not ray.is_initialized()
