"""The ``moderation`` command line: a thin layer over the library's functions."""
from __future__ import annotations

import contextlib
import os
import sys

import click

from . import __version__
from .extract import INPUT_FORMATS, ExtractError, extract
from .files import atomic_write, write_csv, write_jsonl

OUTPUT_FORMATS = ("jsonl", "csv", "table")


def warn(message: str) -> None:
    """One line on stderr for a record the command had to report (and kept or skipped)."""
    click.echo(f"warning: {message}", err=True)


def default_format(out: str | None) -> str:
    """``table`` on a terminal, ``jsonl`` into a pipe or a file."""
    return "table" if out is None and sys.stdout.isatty() else "jsonl"


@contextlib.contextmanager
def output_stream(out: str | None, newline: str | None = None):
    """Standard output, or a file written atomically (no half-written file on failure)."""
    if out is None or out == "-":
        yield sys.stdout
    else:
        try:
            with atomic_write(out, newline=newline) as fh:
                yield fh
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moderation")
def cli():
    """Comment moderation for web forums: extract posts from thread dumps, score them
    for slurs, off-topic posts and posts a moderator would delete.

    Example:

        moderation extract seeds/
    """


@cli.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--input-format", type=click.Choice(INPUT_FORMATS), default="auto", show_default=True,
              help="How to read the inputs; auto picks from content and extension.")
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect UTF-8, CP932, EUC-JP).")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default=None,
              help="Output format (default: table on a terminal, jsonl otherwise).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
def extract_cmd(paths, input_format, encoding, fmt, out):
    """Split thread dumps into one clean record per post.

    PATHS are files or directories (walked): scraped page text, 2ch/5ch .dat, saved
    HTML thread pages, or CSV/JSONL comments with a `text` column.

    Example:

        moderation extract seeds/000_4f4399744ce36bb6.txt --format jsonl --out posts.jsonl
    """
    fmt = fmt or default_format(out)
    records = extract(paths, input_format=input_format, encoding=encoding, warn=warn)
    try:
        if fmt == "table":
            from .report import print_records

            rows = list(records)
            with output_stream(out) as fh:
                print_records(rows, fh)
            return
        with output_stream(out, newline="" if fmt == "csv" else None) as fh:
            dicts = (r.to_dict() for r in records)
            if fmt == "jsonl":
                write_jsonl(dicts, fh)
            else:
                from .extract import FIELDS

                write_csv(dicts, fh, columns=list(FIELDS))
    except ExtractError as exc:
        raise click.ClickException(str(exc)) from None


def main(argv=None):
    """Entry point: click's handling, plus a one-line message instead of a traceback."""
    try:
        cli.main(args=argv, prog_name="moderation", standalone_mode=True)
    except ExtractError as exc:  # raised while a generator was being consumed
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except (BrokenPipeError, SystemExit):
        raise
    except Exception as exc:  # a bug: say so in one line; MODERATION_DEBUG=1 shows the traceback
        if os.environ.get("MODERATION_DEBUG"):
            raise
        click.echo(f"Error: internal error ({type(exc).__name__}: {exc}); "
                   "rerun with MODERATION_DEBUG=1 for details and report it", err=True)
        sys.exit(2)
