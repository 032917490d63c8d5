"""Every single-byte flip in a stored file of a small run is detected by the store's readers (issue 11).

Sampled: ``N_FLIPS`` (position, file) pairs spread over every file the store wrote, each flipped by a random
nonzero XOR mask and restored after. A flip must make the file's reader raise ``DamagedFile``."""

from __future__ import annotations

import random
from pathlib import Path

from grokscope.store import checkpoint
from grokscope.store.integrity import DamagedFile
from grokscope.store.run_dir import RunDir, read_parquet

N_FLIPS = 240


def _reader(run: Path, f: Path):
    rd = RunDir(run)
    if f.suffix == ".json":
        return lambda: rd.read_json(f.name)
    if f.suffix == ".parquet":
        return lambda: read_parquet(f)
    if f.suffix == ".pt":
        return lambda: checkpoint.load(f)
    return None


def test_single_byte_flips_detected(run_copy):
    files = [f for f in sorted(run_copy.rglob("*")) if f.is_file() and not f.name.startswith(".")
             and f.suffix in (".json", ".parquet", ".pt")]
    assert {"config.json", "meta.json", "members.json", "events.json", "metrics.parquet"} <= {f.name for f in files}
    assert any(f.suffix == ".pt" for f in files)
    rng = random.Random(0)
    missed = []
    for i in range(N_FLIPS):
        f = files[i % len(files)]
        data = f.read_bytes()
        pos, mask = rng.randrange(len(data)), rng.randrange(1, 256)
        b = bytearray(data)
        b[pos] ^= mask
        f.write_bytes(bytes(b))
        try:
            _reader(run_copy, f)()
            missed.append((f.name, pos, mask))
        except DamagedFile:
            pass
        finally:
            f.write_bytes(data)
    assert not missed, f"{len(missed)} of {N_FLIPS} flips loaded silently: {missed[:5]}"
    for f in files:  # restored: every reader succeeds again
        _reader(run_copy, f)()
