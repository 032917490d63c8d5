"""Mutation check: does the test suite catch the bugs a refactor could introduce? Run it before a refactor lands.

Each entry of ``tools/mutations.toml`` is one mutation: ``file``, ``find`` (an exact snippet that must occur exactly
once), ``replace``, ``why`` and an optional ``tests`` list. For each, the repository's ``src/``, ``tests/``,
``examples/`` and ``pyproject.toml`` are copied into a temporary directory, the one mutation is applied there, and
pytest runs there (``-x -q -p no:cacheprovider``, ``PYTHONPATH=<temp>/src``, only the ``tests`` files when given). Outcomes:

    killed    some test failed: good
    SURVIVED  every test passed with the bug in place: a test is missing
    STALE     the snippet is not in the file exactly once: the code moved; update mutations.toml

Exit status 1 if anything survived or is stale (or the unmutated baseline fails), else 0.

    python tools/mutation_check.py                 # all mutations, after a green baseline
    python tools/mutation_check.py -k decay -v     # names containing "decay", with pytest's output
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPY = ("src", "tests", "examples", "pyproject.toml")  # examples: the README plug-in a test loads
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


@dataclass
class Mutation:
    name: str
    file: str
    find: str
    replace: str
    why: str
    tests: list[str] = field(default_factory=list)


def load(path: Path) -> list[Mutation]:
    with open(path, "rb") as f:
        entries = tomllib.load(f).get("mutation", [])
    muts = [Mutation(**e) for e in entries]
    names = [m.name for m in muts]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SystemExit(f"{path}: duplicate mutation names {dup}")
    return muts


def copy_repo(root: Path, dest: Path) -> None:
    for name in COPY:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.is_file():
            shutil.copy2(src, dest / name)


def apply(m: Mutation, tree: Path) -> str | None:
    """Apply the mutation in ``tree``; the reason it cannot be applied (stale), else None."""
    path = tree / m.file
    if not path.is_file():
        return f"{m.file} does not exist"
    text = path.read_text()
    n = text.count(m.find)
    if n != 1:
        return f"snippet found {n} times in {m.file} (must be exactly once)"
    path.write_text(text.replace(m.find, m.replace))
    return None


def pytest_cmd(tests: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *(tests or ["tests"])]


def run_tests(tree: Path, tests: list[str], timeout: float, verbose: bool) -> tuple[int | None, str]:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), PYTHONDONTWRITEBYTECODE="1")
    try:
        p = subprocess.run(pytest_cmd(tests), cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    out = p.stdout + p.stderr
    if verbose:
        print(out)
    return p.returncode, out


def check_import(tree: Path) -> None:
    """The copy's package must be the one imported (not an installed or editable grokscope)."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    p = subprocess.run([sys.executable, "-c", "import grokscope; print(grokscope.__file__)"], cwd=tree, env=env,
                       capture_output=True, text=True)
    where = Path(p.stdout.strip() or "?").resolve()
    if p.returncode != 0 or tree.resolve() not in where.parents:
        raise SystemExit(f"grokscope imported from {where}, not from the copy in {tree}: {p.stderr.strip()}")


def last_line(out: str) -> str:
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def check(m: Mutation, root: Path, timeout: float, verbose: bool) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        tree = Path(tmp)
        copy_repo(root, tree)
        stale = apply(m, tree)
        if stale:
            return "STALE", stale
        missing = [t for t in m.tests if not (tree / t).exists()]
        if missing:
            return "STALE", f"test files not found: {missing}"
        rc, out = run_tests(tree, m.tests, timeout, verbose)
    if rc is None:
        return "killed", "timeout"
    if rc == 0:
        return "SURVIVED", last_line(out)
    if rc == 5:
        return "STALE", "no tests collected"
    return "killed", last_line(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutations", type=Path, default=ROOT / "tools" / "mutations.toml")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository to copy (default: this one)")
    ap.add_argument("-k", dest="only", default=None, help="only mutations whose name contains this")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per pytest run")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the selected tests")
    ap.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    args = ap.parse_args(argv)
    muts = [m for m in load(args.mutations) if args.only is None or args.only in m.name]
    if not muts:
        print("no mutations selected")
        return 1
    with tempfile.TemporaryDirectory(prefix="mutation-base-") as tmp:
        tree = Path(tmp)
        copy_repo(args.root, tree)
        check_import(tree)
        if not args.no_baseline:
            tests = [] if any(not m.tests for m in muts) else sorted({t for m in muts for t in m.tests})
            t0 = time.monotonic()
            rc, out = run_tests(tree, tests, args.timeout, args.verbose)
            print(f"baseline ({len(tests) or 'all'} test files): {'green' if rc == 0 else 'FAILED'} "
                  f"in {time.monotonic() - t0:.0f} s")
            if rc != 0:
                print(out[-3000:])
                return 1
    counts: dict[str, int] = {}
    for m in muts:
        t0 = time.monotonic()
        outcome, detail = check(m, args.root, args.timeout, args.verbose)
        counts[outcome] = counts.get(outcome, 0) + 1
        print(f"{outcome:9s} {m.name:36s} {time.monotonic() - t0:5.0f} s  {m.why}", flush=True)
        if outcome != "killed":
            print(f"          {detail}", flush=True)
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if counts.get("SURVIVED") or counts.get("STALE") else 0


if __name__ == "__main__":
    sys.exit(main())
