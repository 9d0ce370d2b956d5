"""What every command shares: warnings on stderr, output streams, the default format."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
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


def _set_max_file_size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    from ...io.inputs import set_max_file_size

    try:
        set_max_file_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def max_file_size_option(command: Callable) -> Callable:
    """The ``--max-file-size SIZE`` option of every command that reads input files
    (:mod:`moderation.io.inputs`; also ``$MODERATION_MAX_FILE_SIZE``)."""
    from ...io.inputs import DEFAULT_MAX_FILE_SIZE, ENV_MAX_FILE_SIZE

    return click.option(
        "--max-file-size",
        metavar="SIZE",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_max_file_size,
        help=f"Largest input file read, e.g. 512M or 4G; 0 for no limit (default {DEFAULT_MAX_FILE_SIZE >> 30}G, "
        f"or ${ENV_MAX_FILE_SIZE}).",
    )(command)


def refuse_output_over_input(
    out: str | os.PathLike | None, inputs: Iterable[str | os.PathLike | None], *, option: str = "--out"
) -> None:
    """A one-line error, before anything is read or written, when ``out`` is one of the inputs.

    ``out`` is refused when it is an input file (the same resolved path or the same inode: a
    hard or symbolic link), when it is an existing file inside an input directory (it would be
    read as one of its files, then replaced), and, for an output directory, when it is an
    input directory or holds an input. ``None`` and ``-`` (standard output) pass.

    Raises
    ------
    click.ClickException
    """
    from ...io.inputs import same_file

    if out is None or str(out) == "-":
        return
    target = Path(out)
    resolved = target.resolve()
    exists = os.path.exists(target)  # False, not an error, where it cannot be looked at
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = Path(given)
        source_resolved = source.resolve()
        clash = None
        if same_file(target, source):
            clash = f"is the input {given}"
        elif os.path.isdir(source) and exists and resolved.is_relative_to(source_resolved):
            clash = f"is inside the input directory {given} (it would be read as an input and replaced)"
        elif os.path.isdir(target) and source_resolved.is_relative_to(resolved):
            clash = f"holds the input {given}"
        if clash:
            raise click.ClickException(
                f"{option} {displayable(str(out), one_line=True)} {displayable(clash, one_line=True)}; "
                "refusing to overwrite an input: write somewhere else"
            )
