"""What every command shares: warnings on stderr, output streams, the default format."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import IO

import click

from ...display import displayable
from ...io.files import atomic_write

OUTPUT_FORMATS = ("jsonl", "csv", "table")


def warn(message: str) -> None:
    """One line on stderr for a record the command had to report (and kept or skipped); what it
    quotes of the input is made displayable (:func:`moderation.display.displayable`)."""
    click.echo(f"warning: {displayable(message, one_line=True)}", err=True)


def default_format(out: str | None) -> str:
    """``table`` on a terminal, ``jsonl`` into a pipe or a file."""
    return "table" if out is None and sys.stdout.isatty() else "jsonl"


@contextlib.contextmanager
def output_stream(out: str | None, newline: str | None = None) -> Iterator[IO[str]]:
    """Standard output, or a file written atomically (no half-written file on failure)."""
    if out is None or out == "-":
        yield sys.stdout
    else:
        try:
            with atomic_write(out, newline=newline) as fh:
                yield fh
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
