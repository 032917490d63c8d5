"""User-facing errors: the CLI prints these as one line on stderr and exits with code 2."""


class UserError(Exception):
    """A mistake in the user's input (config, path, preset, ...), never a bug in grokscope."""
