"""Worker-side helpers for the executor tests; importable in spawn workers and Ray tasks (the driver's sys.path)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from grokscope.sweep import executors

CRASH_ENV = "GROKSCOPE_TEST_CRASH"  # "once:<run_id>,always:<run_id>": which jobs kill their worker process


def crashing_task(config: dict, runs_dir: str, device: str, run_id: str) -> dict[str, Any]:
    """The local worker task, except that the runs named in ``$GROKSCOPE_TEST_CRASH`` kill the worker process
    (``once``: the first attempt only, remembered by a marker file beside ``runs_dir``)."""
    for item in os.environ.get(CRASH_ENV, "").split(","):
        mode, _, rid = item.partition(":")
        if rid == run_id:
            marker = Path(runs_dir).parent / f"crashed-{rid}"
            first = not marker.exists()
            with open(marker, "a") as f:
                f.write("x")
            if mode == "always" or first:
                os._exit(9)  # as an out-of-memory kill would: no exception, no cleanup
    return executors._local_task(config, runs_dir, device, run_id)


def import_probe(module: str) -> Any:
    """Import ``module`` (in a Ray worker) and return its ``VALUE``."""
    return importlib.import_module(module).VALUE
