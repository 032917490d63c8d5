"""MkDocs hook: add the reference pages generated from the code (``gen_reference.pages``) to the build.

They are created in memory on every build, never written to ``docs/``, so they cannot go stale and ``mkdocs
serve`` does not rebuild in a loop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files


def _generator() -> Any:
    path = Path(__file__).with_name("gen_reference.py")
    spec = importlib.util.spec_from_file_location("grokscope_docs_gen_reference", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def on_files(files: Files, config: Any) -> Files:
    for rel, text in _generator().pages().items():
        existing = files.get_file_from_path(rel)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, rel, content=text))
    return files
