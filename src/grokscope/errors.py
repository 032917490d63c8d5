"""User-facing errors: the CLI prints these as one line on stderr and exits with code 2."""


class UserError(Exception):
    """A mistake in the user's input (config, path, preset, ...), never a bug in grokscope."""


def first_line(e: BaseException, limit: int | None = None, hints: bool = False) -> str:
    """The one error formatter: an exception as one line, its type name when it has no message. ``hints``: also
    keep the lines after the first, joined by "; ", up to a blank line or echoed SQL (DuckDB's hints)."""
    lines = [line.strip() for line in str(e).strip().splitlines()]
    keep = lines[:1]
    if hints:
        keep = []
        for line in lines:
            if not line or line.startswith("LINE "):
                break
            keep.append(line)
    text = "; ".join(keep) or type(e).__name__
    return text[:limit] if limit else text
