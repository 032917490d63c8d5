"""The documentation builds strictly (no warnings), and its generated reference pages cover the code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _gen() -> Any:
    spec = importlib.util.spec_from_file_location("gen_reference_under_test", ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", text, flags=re.M)


@pytest.mark.slow
def test_docs_build_strict_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")  # the `docs` and `test` extras install it
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "WARNING" not in log, log
    for page in _nav_pages():  # every page in the nav was rendered, the generated ones included
        assert (site / page.replace(".md", ".html")).is_file(), page
    html = {p: p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    # users of the package have neither the development notes nor the shared paper files
    leaks = [str(p.relative_to(site)) for p, t in html.items() if re.search(r"\.\./shared|DESIGN\.md|shared/papers", t)]
    assert not leaks, leaks
    cli = html[site / "reference" / "cli.html"]
    assert "grokscope run" in cli and "--set" in cli
    assert "optim.lr" in html[site / "reference" / "config.html"]


def _typer_commands(app: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    """Command paths from Typer's own registration records (not the click tree the generator walks)."""
    out = []
    for info in app.registered_commands:
        if info.hidden:
            continue
        name = info.name or info.callback.__name__.replace("_", "-")
        out.append(" ".join((*prefix, name)))
    for group in app.registered_groups:
        out.extend(_typer_commands(group.typer_instance, (*prefix, group.name)))
    return out


def test_cli_reference_lists_every_registered_command_and_option() -> None:
    import typer

    from grokscope.cli import app

    gen = _gen()
    page = gen.cli_markdown(app)
    registered = _typer_commands(app)
    assert {"run", "resume", "show", "plot", "presets", "sweep", "runs", "query", "reproduce"} <= set(registered)
    assert sorted(registered) == sorted(gen.command_paths(app))
    sections = re.split(r"^#+ grokscope ", page, flags=re.M)
    by_path = {s.split(" {#")[0]: s for s in sections[1:]}
    root = typer.main.get_command(app)
    for path in registered:
        assert f"`grokscope {path}`" in page, path
        cmd = root
        for part in path.split():
            cmd = cmd.commands[part]
        for p in cmd.params:
            if getattr(p, "hidden", False):
                continue
            shown = p.opts[0] if p.param_type_name == "option" else p.name
            assert shown in by_path[path], (path, shown)
            if getattr(p, "help", None):  # its help text, as the page writes a table cell
                assert gen._md(gen.public(p.help))[:25] in by_path[path], (path, p.help)


def _leaves(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict) and v and k != "vary":
            out.extend(_leaves(v, f"{prefix}{k}."))
        else:
            out.append(prefix + k)
    return out


def test_config_reference_lists_every_key_with_its_default() -> None:
    from grokscope.config import ClampConfig, RunConfig
    from grokscope.models import MODEL_CONFIGS
    from grokscope.tasks import TASK_CONFIGS

    page = _gen().config_markdown()
    keys = _leaves(RunConfig().model_dump())
    keys += [f"task.{k}" for t in TASK_CONFIGS for k in t().model_dump()]
    keys += [f"model.{k}" for m in MODEL_CONFIGS for k in m().model_dump()]
    keys += [f"intervene.clamp.{k}" for k in ClampConfig.model_fields]  # an optional section: None by default
    missing = [k for k in keys if f"| `{k}` |" not in page]
    assert not missing, missing
    row = next(line for line in page.splitlines() if line.startswith("| `optim.lr` |"))
    field = RunConfig.model_fields["optim"].annotation.model_fields["lr"]
    assert f"`{field.default!r}`" in row and field.description.split(" (")[0] in row


def test_public_text_drops_references_to_the_development_notes() -> None:
    gen = _gen()
    assert gen.public("Weight norms (DESIGN.md): total") == "Weight norms: total"
    assert "shared" not in gen.public("Embedding-concat MLP (papers 1 and 4; `../shared/papers/01-*.md` §1.3).")
    assert gen.public("first passage (02 §10); done") == "first passage; done"
    assert gen.public("log-alignment ratio (Shehper & Vaswani 2026; papers/02 §7).") == \
        "log-alignment ratio (Shehper & Vaswani 2026)."
