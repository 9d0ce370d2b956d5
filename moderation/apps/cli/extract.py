"""``moderation extract``: thread dumps to one record per post."""

from __future__ import annotations

import click

from ...core import FIELDS, ModerationError
from ...io import INPUT_FORMATS, extract
from ...io.files import write_csv, write_jsonl
from .common import OUTPUT_FORMATS, default_format, output_stream, warn


@click.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    default="auto",
    show_default=True,
    help="How to read the inputs; auto picks from content and extension.",
)
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect UTF-8, CP932, EUC-JP).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice((*OUTPUT_FORMATS, "parquet")),
    default=None,
    help="Output format (default: table on a terminal, jsonl otherwise; parquet needs --out).",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
def extract_cmd(paths, input_format, encoding, fmt, out):
    """Split thread dumps into one clean record per post.

    PATHS are files or directories (walked): scraped page text, 2ch/5ch .dat, saved
    HTML thread pages, or CSV/JSONL comments with a `text` column.

    Example:

        moderation extract seeds/000_4f4399744ce36bb6.txt --format jsonl --out posts.jsonl
    """
    fmt = fmt or default_format(out)
    if fmt == "parquet" and out in (None, "-"):
        raise click.UsageError("--format parquet needs --out FILE")
    records = extract(paths, input_format=input_format, encoding=encoding, warn=warn)
    try:
        if fmt == "parquet":
            from ...io.parquet import write_parquet

            try:
                write_parquet((r.to_dict() for r in records), out, columns=list(FIELDS))
            except OSError as exc:
                raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
            return
        if fmt == "table":
            from ..report import print_records

            rows = list(records)
            with output_stream(out) as fh:
                print_records(rows, fh)
            return
        with output_stream(out, newline="" if fmt == "csv" else None) as fh:
            dicts = (r.to_dict() for r in records)
            if fmt == "jsonl":
                write_jsonl(dicts, fh)
            else:
                write_csv(dicts, fh, columns=list(FIELDS))
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
