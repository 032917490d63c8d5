"""Bad input: exactly one line on stderr starting with ``error:``, exit code 2, no traceback, no run left behind.

Most cases drive the real entry point ``grokscope.cli.main`` in-process (``tests/hardening/cli_inproc.py``: same
code path, no ~2 s torch import per case); the cases in ``SUBPROCESS`` run as real processes too (launched together,
two at a time, by one module fixture), so the installed command itself is held to the same rule.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.hardening.cli_inproc import assert_one_line, cli

from .helpers import assert_one_line_error, grokscope


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{tmp}" -> the shared input dir, "{out}" -> this case's --out dir
    expect: tuple[str, ...]  # substrings of the error line


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


# run cases train at most 20 steps of a tiny model if a bad input were (wrongly) accepted; no -q: the progress
# bar must not add lines to the error
RUN = ("run", "quick", "--out", "{out}", "--threads", "1", "--set", "train.steps=20", "--set", "task.p=13",
       "--set", "model.d_hidden=32")
FILE_RUN = ("--out", "{out}", "--threads", "1")

CASES = [
    Case("bad-yaml", ("run", "{tmp}/bad.yaml", *FILE_RUN), ("cannot parse", "bad.yaml")),
    Case("bad-toml", ("run", "{tmp}/bad.toml", *FILE_RUN), ("cannot parse", "bad.toml")),
    Case("config-is-a-list", ("run", "{tmp}/list.yaml", *FILE_RUN), ("must be a mapping", "list")),
    Case("missing-config-file", ("run", "{tmp}/missing.yaml", *FILE_RUN), ("config file not found", "missing.yaml")),
    Case("unknown-preset", ("run", "quikc", *FILE_RUN), ("unknown preset", "'quick'")),
    Case("unknown-key", (*RUN, "--set", "optim.lrr=1"), ("optim.lrr", "did you mean 'optim.lr'")),
    Case("wrong-type", (*RUN, "--set", "train.steps=abc"), ("train.steps", "integer")),
    Case("negative-lr", (*RUN, "--set", "optim.lr=-1e-3"), ("optim.lr", "greater than 0")),
    Case("p-is-1", (*RUN, "--set", "task.p=1"), ("p must be >= 2",)),
    Case("div-non-prime", (*RUN, "--set", "task.op=div", "--set", "task.p=12"), ("prime", "p=12")),
    Case("frac-above-1", (*RUN, "--set", "task.frac=1.5"), ("frac", "1.5")),
    Case("set-without-equals", (*RUN, "--set", "optim.lr"), ("key=value", "optim.lr")),
    Case("unknown-model", (*RUN, "--set", "model.name=resnet"), ("model", "resnet")),
    Case("unknown-task", (*RUN, "--set", "task.name=sorting"), ("task", "sorting")),
    Case("d-model-not-divisible", (*RUN, "--set", "model.name=transformer", "--set", "model.d_model=30",
                                   "--set", "model.n_heads=4"), ("d_model=30", "n_heads=4")),
    Case("vary-not-packable", (*RUN, "--set", "members.vary.train.steps=[10, 20]"), ("train.steps", "cannot vary")),
    Case("vary-unequal-lengths", (*RUN, "--set", "members.vary.optim.lr=[1e-3, 1e-2]",
                                  "--set", "members.vary.optim.wd=[1.0]"), ("equal lengths",)),
    Case("clamp-rho-without-w_c", (*RUN, "--set", "intervene.clamp.rho=0.5"), ("w_c",)),
    Case("unknown-clamp-group", (*RUN, "--set", "intervene.clamp.target=10", "--set", "intervene.clamp.groups=[nope]"),
         ("unknown group 'nope'",)),
    Case("unknown-probe", (*RUN, "--set", "eval.probes=[accuracy, nope]"), ("probe", "nope")),
    Case("threads-0", (*RUN, "--threads", "0"), ("--threads", ">= 1")),
    Case("cuda-absent", (*RUN, "--device", "cuda"), ("CUDA",)),
    Case("unknown-option", (*RUN, "--bogus"), ("--bogus",)),
    Case("missing-argument", ("run",), ("Missing argument",)),
    Case("unknown-command", ("frobnicate",), ("frobnicate",)),
    Case("show-missing-dir", ("show", "{tmp}/nowhere"), ("not found", "nowhere")),
    Case("show-not-a-run", ("show", "{tmp}/not-a-run"), ("not a grokscope run",)),
    Case("resume-missing-dir", ("resume", "{tmp}/nowhere", "--threads", "1"), ("not found", "nowhere")),
]


# one of each kind (a config file, a --set override, an option, a command, a run directory) as a real process
SUBPROCESS = {"bad-yaml", "unknown-key", "threads-0", "unknown-command", "show-not-a-run"}


def _params() -> list:
    params = []
    for c in CASES:
        marks = []
        if c.id == "cuda-absent":
            marks.append(pytest.mark.skipif(_cuda_available(), reason="CUDA is available here"))
        params.append(pytest.param(c, id=c.id, marks=marks))
    return params


def _write_inputs(tmp: Path) -> None:
    (tmp / "bad.yaml").write_text("task:\n  name: modular\n  p: [13, 17\n")
    (tmp / "bad.toml").write_text("[task]\np = = 13\n")
    (tmp / "list.yaml").write_text("- task\n- model\n")
    (tmp / "not-a-run").mkdir()
    (tmp / "not-a-run" / "meta.json").write_text("{}\n")


def _args(case: Case, tmp: Path, sub: str) -> tuple[list[str], Path, Path]:
    cwd = tmp / sub / case.id
    out = cwd / "out"
    cwd.mkdir(parents=True)
    return [a.replace("{tmp}", str(tmp)).replace("{out}", str(out)) for a in case.args], cwd, out


def _launch(case: Case, tmp: Path) -> tuple[subprocess.CompletedProcess, Path, Path]:
    args, cwd, out = _args(case, tmp, "cases")
    return grokscope(*args, cwd=cwd, timeout=180), cwd, out


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run every selected case (2 at a time) and return {case id: (CompletedProcess, cwd, out)}."""
    tmp = tmp_path_factory.mktemp("errors")
    _write_inputs(tmp)
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})
                and item.originalname == "test_bad_input_as_a_real_process"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c.id: pool.submit(_launch, c, tmp) for c in selected}
        return {k: f.result() for k, f in futures.items()}


def _nothing_created(cwd: Path, out: Path) -> None:
    """No run dir, no half-made temp dir, no default ./runs."""
    assert not out.exists() or not list(out.iterdir()), list(out.iterdir())
    assert [f.name for f in cwd.iterdir() if f.name != "out"] == []


@pytest.mark.parametrize("case", _params())
def test_bad_input_gives_one_line_error(case: Case, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("inproc")
    _write_inputs(tmp)
    args, cwd, out = _args(case, tmp, "inproc")
    monkeypatch.chdir(cwd)
    assert_one_line(cli(capsys, *args), *case.expect)
    _nothing_created(cwd, out)


@pytest.mark.parametrize("case", [c for c in _params() if c.values[0].id in SUBPROCESS])
def test_bad_input_as_a_real_process(case: Case, outcomes: dict) -> None:
    p, cwd, out = outcomes[case.id]
    assert_one_line_error(p, *case.expect)
    _nothing_created(cwd, out)


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(f.relative_to(run)): f.read_bytes() for f in sorted(run.rglob("*"))
            if f.is_file() and f.name not in ("state.pt", ".lock")}


def _interrupted_copy(smoke_run: Path, dest: Path) -> Path:
    """A finished run turned back into an interrupted one: status "running", a metrics chunk still pending."""
    run = dest / smoke_run.name
    shutil.copytree(smoke_run, run)
    meta = json.loads((run / "meta.json").read_text())
    meta["status"] = "running"
    (run / "meta.json").write_text(json.dumps(meta))
    (run / ".meta.json.sha256").unlink()  # edited by hand: without its checksum, like a run from before checksums
    (run / "metrics").mkdir(exist_ok=True)  # a complete run has no chunk folder left
    shutil.copy(run / "metrics.parquet", run / "metrics" / "part-00000.parquet")
    return run


def _truncated(run: Path) -> None:
    ckpt = sorted((run / "ckpt").glob("step_*.pt"))[-1].read_bytes()
    (run / "state.pt").write_bytes(ckpt[: len(ckpt) // 2])


def _not_a_resume_state(run: Path) -> None:
    """A readable torch file of the wrong kind (a weights-only checkpoint copied over the resume state)."""
    shutil.copy(sorted((run / "ckpt").glob("step_*.pt"))[-1], run / "state.pt")


@pytest.mark.parametrize("damage", [_truncated, _not_a_resume_state], ids=["truncated", "not-a-resume-state"])
def test_resume_with_a_corrupt_checkpoint(damage, smoke_run: Path, tmp_path: Path) -> None:
    run = _interrupted_copy(smoke_run, tmp_path)
    damage(run)
    before = _snapshot(run)
    p = grokscope("resume", run, "--threads", "1", timeout=120)  # no -q: the error must still be one line
    line = assert_one_line_error(p, "corrupt checkpoint", "state.pt")
    assert len(line) < 400, line
    assert _snapshot(run) == before, "a failed resume must leave the run's files untouched"
    assert (run / "state.pt").exists()
    assert json.loads((run / "meta.json").read_text())["status"] == "running"
