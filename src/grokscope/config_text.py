"""Reading config text: TOML/YAML files and ``--set`` values, bounded so that no input can make parsing or error
formatting blow up (oversized text, deep nesting, YAML aliases). ``config.py`` re-exports these."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError, first_line


def _yaml_loader() -> type:
    """yaml.SafeLoader that also reads ``1e-3`` as a float (YAML 1.2; PyYAML's 1.1 rules make it a string)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    exp_float = re.compile(r"^[-+]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$")
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", exp_float, list("-+0123456789."))
    return Loader


MAX_TEXT = 1 << 20  # a config file or --set value; configs are a few KiB
MAX_NESTING = 32


def check_bounded(text: str, where: str) -> None:
    """Refuse input that would make parsing or error formatting blow up (issue 11): oversized text, brackets
    nested deeper than ``MAX_NESTING``, YAML anchors/aliases (the billion-laughs expansion)."""
    if len(text) > MAX_TEXT:
        raise UserError(f"{where}: {len(text)} characters, more than the {MAX_TEXT} a config may have")
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise UserError(f"{where}: nested {deepest} levels deep (at most {MAX_NESTING})")
    if "&" in text and "*" in text:
        import yaml

        try:
            if any(isinstance(t, (yaml.AnchorToken, yaml.AliasToken)) for t in yaml.scan(text)):
                raise UserError(f"{where}: YAML anchors and aliases (&name / *name) are not supported in configs")
        except yaml.YAMLError:
            pass  # the parser reports it


def parse_error(e: BaseException) -> str:
    """A parse error as one line that keeps where it is: PyYAML puts line and column on lines after the first
    (issue 12: they were lost), as ``problem_mark`` (0-based); TOML's message already has them."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if mark is None:
        return first_line(e)
    what = getattr(e, "problem", None) or getattr(e, "context", None) or first_line(e)
    context = getattr(e, "context", None)
    if context and context != what:
        what = f"{what} ({context})"
    return f"line {mark.line + 1}, column {mark.column + 1}: {what}"


def read_file(path: str | Path) -> dict:
    """A TOML or YAML config file as a dict; one-line errors for missing/unparsable files."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"cannot parse {path}: not UTF-8 text") from None
    if "\x00" in text:
        raise UserError(f"cannot parse {path}: it contains NUL bytes (not a text config)")
    check_bounded(text, str(path))
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.load(text, Loader=_yaml_loader())
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise UserError(f"cannot parse {path}: {parse_error(e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config must be a mapping of sections, got {type(data).__name__}")
    return data
