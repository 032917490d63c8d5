"""``--json`` output of the CLI commands: one indented JSON document on stdout (values JSON cannot hold, such as
paths, as strings)."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
