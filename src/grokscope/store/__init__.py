"""Run store: the run directory format, atomic writes, checkpoints."""

from .run_dir import RunDir, open_run

__all__ = ["RunDir", "open_run"]
