"""Make the catalog tests' synthetic run builder (tests/catalog/catalog_synth.py) importable here."""

from __future__ import annotations

import sys
from pathlib import Path

_CATALOG = str(Path(__file__).resolve().parent.parent / "catalog")
if _CATALOG not in sys.path:
    sys.path.insert(0, _CATALOG)
