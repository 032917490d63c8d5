"""User plug-ins: ``eval.plugins = ["my_pkg.my_probes", "path/to/probes.py"]`` imports each module where a run
executes (the CLI process, spawn workers, Ray tasks), so a user's probe registered with ``@probe`` is one file of
their own. Importing twice is harmless: a module is imported once per process."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from ..errors import UserError


def load_plugins(names: list[str]) -> None:
    for name in names:
        if name.endswith(".py"):
            _load_file(Path(name))
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                raise UserError(f"eval.plugins: cannot import {name!r} (not on the Python path of this process)") from None
            raise


def _load_file(path: Path) -> None:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise UserError(f"eval.plugins: no such file {str(path)!r}")
    key = "grokscope_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if key in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(key, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
