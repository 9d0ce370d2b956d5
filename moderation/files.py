"""Deprecated location; moved to moderation.io.files. Re-exports the names other modules still import from here."""

from .io.files import atomic_write, write_csv, write_jsonl  # noqa: F401
