"""A user's stateful probe with a step hook (loaded through eval.plugins) survives a real kill -9 and resume:
the resumed run's metrics equal an uninterrupted run's, bit for bit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import grokscope

from .helpers import TINY, ok, popen, run_dirs, wait_for
from .helpers import grokscope as grokscope_cli

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "stateful_probes.py"
STEPS = 800
ARGS = ("run", "quick", "--threads", "1", "-q", *TINY, "--set", f"train.steps={STEPS}",
        "--set", "train.stop_on_grok=null", "--set", "checkpoint.flush_seconds=0.2",
        "--set", f"eval.plugins=['{PLUGIN}']", "--set", "eval.probes=[accuracy, norms, test_update_path]")


def _metrics(run: Path) -> pd.DataFrame:
    df = grokscope.load_run(run).metrics()
    return df.sort_values(["step", "member", "metric"], kind="stable").reset_index(drop=True)


@pytest.mark.slow
def test_stateful_plugin_probe_survives_kill_9(tmp_path: Path) -> None:
    ref_proc = popen(*ARGS, "--out", tmp_path / "ref", log_dir=tmp_path / "ref-log")
    proc = popen(*ARGS, "--out", tmp_path / "cut", log_dir=tmp_path / "cut-log")
    try:
        run = wait_for(lambda: next(iter(run_dirs(tmp_path / "cut")), None), proc, what="the run directory")
        wait_for(lambda: (run / "state.pt").exists()
                 and json.loads((run / "meta.json").read_text())["steps_done"] >= STEPS // 3,
                 proc, timeout=300, what=f"a resume state past step {STEPS // 3}")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    finally:
        for p in (proc,):
            if p.poll() is None:
                p.kill()
    assert ref_proc.wait(timeout=600) == 0, (tmp_path / "ref-log" / "stderr.txt").read_text()
    ok(grokscope_cli("resume", run, "--threads", "1", "-q", timeout=600))
    (ref,) = run_dirs(tmp_path / "ref")
    got, want = _metrics(run), _metrics(ref)
    assert {"path/length", "path/loss_ema"} <= set(want.metric)
    assert got.step.max() == STEPS
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert np.array_equal(got.value.to_numpy().view(np.uint64), want.value.to_numpy().view(np.uint64))
    meta = json.loads((run / "meta.json").read_text())
    assert meta["label_free"]["path/length"] is True and meta["label_free"]["path/loss_ema"] is False
