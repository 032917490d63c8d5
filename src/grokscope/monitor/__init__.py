"""The Monitor for a user's own model and loop (M = 1), and Lightning / Hugging Face adapters (lazy extras)."""

from .monitor import Monitor

__all__ = ["Monitor"]
