"""Run metadata: versions, git revision, device, threads."""

from __future__ import annotations

import platform
import subprocess
import time
from pathlib import Path
from typing import Any


def git_revision() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=3)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=3).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect(device: str, threads: int) -> dict[str, Any]:
    import numpy
    import torch

    from . import __version__

    if device == "cuda":  # the device actually used: the current one, by index
        device = f"cuda:{torch.cuda.current_device()}"
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "running",
        "steps_done": 0,
        "device": device,
        # the device actually used, by its own name (not device 0's)
        "device_name": (torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda")
                        else platform.processor() or platform.machine()),
        "threads": threads,
        "versions": {"grokscope": __version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": numpy.__version__},
        "git_revision": git_revision(),
        "host": platform.node(),
    }
