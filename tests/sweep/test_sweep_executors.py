"""Executors without a sweep around them: worker crashes and failing jobs (local pool), the GPU decisions (mocked
torch.cuda: no GPU needed), the options Ray tasks get, and the import path handed to Ray workers."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys

import pytest
import torch
from executor_helpers import CRASH_ENV, crashing_task
from sweep_helpers import tiny_spec

from grokscope.errors import UserError
from grokscope.sweep import executors, load_spec, runner
from grokscope.sweep.executors import (
    Job,
    LocalExecutor,
    RayExecutor,
    driver_pythonpath,
    gpu_slots,
    ray_init_kwargs,
    ray_task_options,
    resolve_device,
)


def jobs_of(spec: dict) -> list[Job]:
    return [Job(r.run_id, r.config.model_dump(mode="json"), r.members, r.config.train.steps)
            for r in load_spec(spec).runs]


def test_local_pool_requeues_after_worker_crashes_and_reports_failing_jobs(tmp_path, monkeypatch) -> None:
    jobs = jobs_of(tiny_spec(grid={"optim.wd": [0.5, 1.0, 2.0]}, seeds=1, pack=False, base={"train": {"steps": 20}}))
    once, fine, always = (j.run_id for j in jobs)
    broken = Job("broken", {"task": {"name": "no-such-task"}}, 1, 20)  # raises in the worker: a one-line error
    monkeypatch.setenv(CRASH_ENV, f"once:{once},always:{always}")
    ex = LocalExecutor(workers=2, threads=1, device="cpu")
    ex.task = crashing_task
    runs = tmp_path / "runs"
    # once and fine start together; once's crash breaks the pool, so fine is requeued too (and reruns alone)
    outcomes = {o.run_id: o for o in ex.run([*jobs, broken], runs, lambda *a: None)}
    assert set(outcomes) == {once, always, fine, "broken"}
    assert outcomes[once].ok and outcomes[fine].ok, (outcomes[once].error, outcomes[fine].error)
    assert runner.run_complete(runs / once) and runner.run_complete(runs / fine)
    assert (tmp_path / f"crashed-{once}").read_text() == "xx"  # crashed, then trained alone in a fresh pool
    assert "worker process training this run died" in outcomes[always].error
    assert (tmp_path / f"crashed-{always}").read_text() == "xx"  # crashed, crashed again alone: given up
    assert not runner.run_complete(runs / always)
    bad = outcomes["broken"]
    assert not bad.ok and "\n" not in bad.error and bad.error.startswith("ValidationError")
    assert "no-such-task" in bad.detail  # the traceback the sweep keeps in errors/<run>.log


# -- GPUs (torch.cuda mocked) ---------------------------------------------------------------------------------
@pytest.fixture
def gpus(monkeypatch):
    def set_count(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return set_count


def test_auto_device_is_resolved_in_the_parent(gpus) -> None:
    gpus(2)
    assert resolve_device("auto") == "cuda"
    gpus(0)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda")


def test_gpu_slots_one_worker_per_gpu(gpus, monkeypatch) -> None:
    gpus(3)
    assert gpu_slots("cuda", None) == (3, ["0", "1", "2"])
    assert gpu_slots("cuda", 4) == (4, ["0", "1", "2", "0"])  # more workers than GPUs: round robin
    assert gpu_slots("cpu", None) == (None, None)
    assert gpu_slots("cuda:1", None) == (None, None)  # the user's one GPU for every worker
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6,7")  # the parent's own view of the GPUs
    assert gpu_slots("cuda", 2) == (2, ["4", "6"])
    gpus(0)
    with pytest.raises(UserError, match="no GPU"):
        gpu_slots("cuda", None)


def test_worker_initializer_pins_each_worker_to_its_gpu(monkeypatch) -> None:
    for var in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "unset")
    counter = mp.get_context("spawn").Value("i", 0)
    seen = []
    for _ in range(3):  # three workers of one pool, in the order they start
        executors._init_worker(1, None, os.getppid(), ["3", "5"], counter)
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == ["3", "5", "3"]
    assert os.environ["OMP_NUM_THREADS"] == "1" and torch.get_num_threads() == 1


def test_sweep_with_a_gpu_starts_one_pinned_worker_per_gpu(gpus, monkeypatch, tmp_path) -> None:
    gpus(1)  # this machine has 2 cores: a CPU sweep would start 2 workers
    made = {}

    class Recording(LocalExecutor):
        def __init__(self, *args, **kw) -> None:
            super().__init__(*args, **kw)
            made.update(workers=self.workers, device=self.device, gpus=self.gpus)

        def run(self, jobs, runs_dir, report):
            return iter(())

    monkeypatch.setattr(runner, "LocalExecutor", Recording)
    runner.run_sweep(tiny_spec(grid={"optim.wd": [0.5, 2.0]}, seeds=1, pack=False), out=tmp_path / "sw")
    assert made == {"workers": 1, "device": "cuda", "gpus": ["0"]}
    gpus(0)
    runner.run_sweep(tiny_spec(grid={"optim.wd": [0.5, 2.0]}, seeds=1, pack=False), out=tmp_path / "sw2")
    assert made["device"] == "cpu" and made["gpus"] is None and made["workers"] == executors.available_cores()


def test_ray_task_options() -> None:
    assert ray_task_options(2, "cpu") == {"num_cpus": 2}
    assert ray_task_options(1, "auto") == {"num_cpus": 1}  # no GPU asked for: Ray hides them from the task
    assert ray_task_options(1, "cuda") == {"num_cpus": 1, "num_gpus": 1}
    assert ray_task_options(1, "cuda:0", 0.25) == {"num_cpus": 1, "num_gpus": 0.25}
    assert ray_task_options(1, "cuda", 2) == {"num_cpus": 1, "num_gpus": 2}
    for bad in (0, -1, 1.5):
        with pytest.raises(UserError, match="gpus per task"):
            ray_task_options(1, "cuda", bad)


class FakeRay:
    """Just enough of the ray module for RayExecutor.run: records the options, every task fails."""

    def __init__(self) -> None:
        self.options: list[dict] = []
        self.submitted: list[str] = []

    def is_initialized(self) -> bool:
        return True

    def remote(self, fn):
        fake = self

        class Remote:
            def options(self, **kw):
                fake.options.append(kw)
                return self

            def remote(self, config, run_id, existing, threads, device):
                fake.submitted.append(run_id)
                return run_id

        return Remote()

    def wait(self, refs, num_returns, timeout):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        raise RuntimeError(f"The worker died unexpectedly while executing {ref}\nmore detail")


def test_ray_executor_passes_gpu_options_and_reports_dead_tasks(monkeypatch, tmp_path) -> None:
    fake = FakeRay()
    monkeypatch.setattr(executors, "import_ray", lambda: fake)
    ex = RayExecutor(None, threads=2, device="cuda", gpus_per_task=0.5)
    jobs = [Job("a", {}, 1, 20), Job("b", {}, 1, 20)]
    out = list(ex.run(jobs, tmp_path / "runs", lambda *a: None))
    assert fake.options == [{"num_cpus": 2, "num_gpus": 0.5}]
    assert sorted(fake.submitted) == ["a", "b"]
    assert [o.run_id for o in out] == ["a", "b"]
    assert all(not o.ok and o.error == f"Ray task failed: The worker died unexpectedly while executing {o.run_id}"
               for o in out)
    with pytest.raises(UserError, match="gpus per task"):
        RayExecutor(None, threads=1, device="cuda", gpus_per_task=1.5)


def test_driver_pythonpath_keeps_user_dirs_not_library_dirs(tmp_path, monkeypatch) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    monkeypatch.setattr(sys, "path", [str(user), *sys.path, str(tmp_path / "missing")])
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    parts = driver_pythonpath().split(os.pathsep)
    assert parts[:2] == [str(tmp_path), str(user)]
    assert not [p for p in parts if "site-packages" in p or p.startswith(sys.base_prefix + os.sep)]
    assert str(tmp_path / "missing") not in parts
    kw = ray_init_kwargs("auto")  # an existing cluster's address is kept as given
    assert kw["address"] == "auto" and kw["runtime_env"] == {"env_vars": {"PYTHONPATH": driver_pythonpath()}}
