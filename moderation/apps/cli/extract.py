"""``moderation extract``: thread dumps to one record per post."""

from __future__ import annotations

import click

from ...core import FIELDS, ModerationError
from ...io import extract, input_formats
from ...io.files import write_csv, write_jsonl
from ...io.readers.json_export import PRESETS, JsonFields
from .common import OUTPUT_FORMATS, default_format, max_file_size_option, output_stream, refuse_output_over_input, warn


def note(message: str) -> None:
    """One line on stderr naming the reader a file was read with."""
    click.echo(f"read: {message}", err=True)


def json_mapping(preset: str | None, text: str | None, id_: str | None, parent: str | None, thread: str | None):
    """The :class:`JsonFields` of the options, or None when none was given."""
    if not any((preset, text, id_, parent, thread)):
        return None
    base = PRESETS[preset] if preset else JsonFields()
    given = {"text": text, "id": id_, "parent": parent, "thread": thread}
    return JsonFields(**{**base.__dict__, **{k: v for k, v in given.items() if v}})


@click.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--input-format",
    type=click.Choice(input_formats()),
    default="auto",
    show_default=True,
    help="How to read the inputs; auto picks from content and extension.",
)
@click.option(
    "--json-preset", type=click.Choice(sorted(PRESETS)), default=None, help="Field mapping of a known JSON export."
)
@click.option("--text-field", default=None, help="JSON key of a comment's text (default: text).")
@click.option("--id-field", default=None, help="JSON key of a comment's id (default: id).")
@click.option("--parent-field", default=None, help="JSON key of the id a comment answers (default: parent_id).")
@click.option("--thread-field", default=None, help="JSON key of a comment's thread id (default: thread).")
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect UTF-8, CP932, EUC-JP).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice((*OUTPUT_FORMATS, "parquet")),
    default=None,
    help="Output format (default: table on a terminal, jsonl otherwise; parquet needs --out).",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@max_file_size_option
def extract_cmd(paths, input_format, json_preset, text_field, id_field, parent_field, thread_field, encoding, fmt, out):
    """Split thread dumps into one clean record per post.

    PATHS are files or directories (walked): scraped page text, .dat threads (2ch/5ch,
    bbspink, shitaraba, machi), saved thread pages (5ch, open2ch, shitaraba, futaba, matome
    blogs), CSV/JSONL comments with a `text` column, or JSON comment exports. The reader
    used for each file is named on stderr.

    Example:

        moderation extract seeds/000_4f4399744ce36bb6.txt --format jsonl --out posts.jsonl
    """
    fmt = fmt or default_format(out)
    if fmt == "parquet" and out in (None, "-"):
        raise click.UsageError("--format parquet needs --out FILE")
    refuse_output_over_input(out, paths)
    json_fields = json_mapping(json_preset, text_field, id_field, parent_field, thread_field)
    records = extract(
        paths, input_format=input_format, encoding=encoding, warn=warn, note=note, json_fields=json_fields
    )
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
