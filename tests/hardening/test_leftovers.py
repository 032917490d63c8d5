"""Leftovers of kills and bad --out (issue 11): stale temp dirs/files are cleaned, a missing curves.png redrawn,
a file as --out is one line."""

from __future__ import annotations

import os
import time

import pytest

import grokscope as gs

from .cli_inproc import assert_one_line, cli
from .conftest import TINY


def _age(p, seconds=3600):
    t = time.time() - seconds
    os.utime(p, (t, t))


def test_resume_of_complete_run_redraws_curves_and_removes_stale_tmp(run_copy):
    (run_copy / "curves.png").unlink()
    tmp = run_copy / ".curves.png.abc123.tmp"
    tmp.write_bytes(b"")
    _age(tmp)
    r = gs.resume(run_copy)
    assert r.complete and (run_copy / "curves.png").stat().st_size > 0
    assert not tmp.exists()


def test_stale_creation_temp_dir_is_removed(tiny_run, tmp_path):
    from grokscope.config import load_config

    cfg = load_config("quick", TINY)
    stale = tmp_path / f".{cfg.name}-{cfg.run_id()}.x1y2z3"
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    _age(stale)
    fresh = tmp_path / f".{cfg.name}-{cfg.run_id()}.fresh1"  # could be a concurrent creation: kept
    fresh.mkdir()
    gs.run(cfg, out=tmp_path, threads=1)
    assert not stale.exists() and fresh.exists()


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_is_a_file(where, capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    out = f if where == "file" else f / "sub"
    assert_one_line(cli(capsys, "run", "quick", "--out", out, "-q", "--set", "train.steps=1"), "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_out_unwritable(capsys, tmp_path):
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    assert_one_line(cli(capsys, "run", "quick", "--out", d, "-q", "--set", "train.steps=1"), "not writable")


@pytest.mark.parametrize("err", [28, 13, 30])  # ENOSPC, EACCES, EROFS
def test_disk_full_is_one_line(err, capsys, tmp_path, monkeypatch):
    """An OSError from the disk (full, read-only, permission) is one line that says the files are intact."""
    import grokscope.api as api

    def full(*a, **k):
        raise OSError(err, os.strerror(err), str(tmp_path / "x"))

    monkeypatch.setattr(api, "run", full)
    line = assert_one_line(cli(capsys, "run", "quick", "--out", tmp_path, "-q", "--set", "train.steps=1"))
    assert os.strerror(err) in line and "intact" in line


def test_catalog_skips_a_damaged_document_with_one_warning(tiny_run, tmp_path):
    import shutil

    from grokscope.store.catalog import Catalog

    for name in ("a", "b"):
        shutil.copytree(tiny_run, tmp_path / name / tiny_run.name)
    meta = tmp_path / "b" / tiny_run.name / "meta.json"
    meta.write_bytes(meta.read_bytes().replace(b"complete", b"cOmplete"))  # valid JSON, checksum mismatch
    with Catalog(tmp_path, cache=False) as cat:
        assert cat.query("select count(*) from runs").rows[0][0] == 1
        bad = [w for w in cat.warnings if "b/" in w]
        assert len(bad) <= 2 and any("meta.json" in w and "damaged" in w for w in bad), cat.warnings
