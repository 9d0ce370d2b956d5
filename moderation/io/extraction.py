"""Thread dumps in, one clean record per post out.

Forum operators have dumps, not clean data: scraped page text with posts glued
together, 2ch/5ch ``.dat`` files, saved HTML pages, or comments that were already
split into CSV/JSONL. Every reader turns its input into :class:`~moderation.core.Comment`
records with the same fields, so the rest of the tool (training, labeling, scoring, the
pre-moderation hook) never has to know where a comment came from.

Here files are decoded (:mod:`moderation.io.decode`), their format is picked
(:mod:`moderation.io.registry`) and their reader is run; directories are walked
(:mod:`moderation.io.walk`).

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "thread.txt"
>>> _ = path.write_text("本文です。\\n>>1\\nそうだね", encoding="utf-8")
>>> [(r.reply_to, r.text, r.source_format) for r in extract(path)]
[([], '本文です。', 'scrape'), ([1], 'そうだね', 'scrape')]
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import FIELDS, Comment, ExtractError, Warn
from .decode import decode, detect_encoding, read_bytes
from .inputs import STDIN, check_input, open_input, spooled_stdin
from .readers import json_export
from .readers.json_export import JsonFields
from .registry import INPUT_FORMATS, ReadLines, detect_format, get_reader, input_formats, path_reader
from .walk import walk

if TYPE_CHECKING:
    import pandas as pd

_STREAM_THRESHOLD = 8 << 20  # tabular files above this are decoded as a stream


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a reader builds a file's records.

    A reader allocates a few objects per post (the record, its lists, the strings of its
    fields), none of them in reference cycles; left running, the collector walks the young
    objects every 700 allocations and the growing list of records again and again: 10-20%
    of the time of a board file. Reference counting still frees everything as usual; the
    collector runs once, on all of it, when it is switched back on. It is switched back on
    only if it was on (nested uses, ``gc.disable()`` by the caller, are left alone).

    Examples
    --------
    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def extract_file(
    path: str | os.PathLike,
    *,
    input_format: str = "auto",
    encoding: str | None = None,
    thread: str | None = None,
    warn: Warn | None = None,
    note: Warn | None = None,
    json_fields: JsonFields | None = None,
    name: str | None = None,
) -> Iterator[Comment]:
    """Records from one file. CSV and JSONL are streamed, so memory stays flat.

    Parameters
    ----------
    path : path-like
    input_format : str
        ``auto`` or one of the formats of :func:`moderation.io.registry.input_formats`
        (``scrape``, ``dat``, ``html``, ``jsonl``, ``csv`` and any installed reader's).
    encoding : str, optional
        Skip detection and decode with this codec.
    thread : str, optional
        Thread id for records that carry none (default: the file stem).
    warn : callable, optional
        Called with a one-line message for each row that had to be kept as ``meta``, and
        when a page's layout was not recognised (its text comes out as ``meta``).
    note : callable, optional
        Called with one line naming the reader that read the file (``path: read as futaba``).
    json_fields : JsonFields, optional
        Where a ``json`` export keeps each field (:class:`moderation.io.readers.json_export.JsonFields`).
    name : str, optional
        What to call the file in records and messages (default: its path).

    Yields
    ------
    Comment
        With ``source_format`` set to the format (for pages, the layout) that was read.

    Raises
    ------
    ExtractError
        For an unknown format and for a file that cannot be read or decoded (when the
        first record is asked for).
    """
    path = Path(path)
    if input_format not in INPUT_FORMATS and input_format not in input_formats():
        raise ExtractError(f"unknown input format {input_format!r}; choose one of {', '.join(input_formats())}")
    thread = thread or path.stem.replace(".sjis", "")
    source = name or str(path)
    info = check_input(path)  # a FIFO, a device or a file over the size limit: refused before any open
    binary = path_reader(path, input_format)  # Parquet: read from the file, not decoded
    if binary is not None and binary.read_path is not None:
        for rec in binary.read_path(path, thread=thread, source=source, warn=warn):
            rec.source_format = binary.name
            yield rec
        return
    size = info.st_size
    records: Iterable[Comment] | None = None
    if size > _STREAM_THRESHOLD and (input_format == "auto" or get_reader(input_format).read_lines is not None):
        with open_input(path) as fh:
            head = fh.read(1 << 20)
        enc = encoding or detect_encoding(head + b"\n", name=source)
        fmt = input_format if input_format != "auto" else detect_format(path, head.decode(enc, "replace"))
        read_lines = get_reader(fmt).read_lines
        if read_lines is not None:
            records = _stream(read_lines, path, enc, thread, source, warn)
    if records is None:
        text = decode(read_bytes(path), encoding, name=source)
        fmt = input_format if input_format != "auto" else detect_format(path, text[:65536])
        if fmt == json_export.NAME and json_fields is not None:
            records = json_export.read_json(text, thread=thread, source=source, warn=warn, fields=json_fields)
        else:
            with paused_gc():  # most readers return a list: the whole file is read here
                records = get_reader(fmt).read(text, thread=thread, source=source, warn=warn)
    told = False
    for rec in records:
        rec.source_format = rec.source_format or fmt
        if note and not told:
            note(f"{source}: read as {rec.source_format}")
            told = True
        yield rec
    if note and not told:
        note(f"{source}: read as {fmt} (no records)")


def _stream(
    read_lines: ReadLines, path: Path, enc: str, thread: str, source: str, warn: Warn | None
) -> Iterator[Comment]:
    try:
        with open_input(path, "r", encoding=enc, newline="", errors="strict") as fh:
            yield from read_lines(fh, thread=thread, source=source, warn=warn)
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{source}: cannot decode byte {exc.start} of a chunk as {enc}; pass --encoding") from None


def extract(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    input_format: str = "auto",
    encoding: str | None = None,
    warn: Warn | None = None,
    skip_unreadable_in_dirs: bool = True,
    note: Warn | None = None,
    json_fields: JsonFields | None = None,
) -> Iterator[Comment]:
    """Records from files and directories, in order.

    Inside a directory, a file that cannot be read as text (an image, say) is reported
    through ``warn`` and skipped; a directory with nothing readable is an error. A file
    named directly that cannot be read is always an error.

    Parameters
    ----------
    paths : path-like or iterable of path-like
        Files and directories (walked with :func:`moderation.io.walk.walk`); ``-`` is standard
        input (read once, within :func:`moderation.io.inputs.max_file_size`).
    input_format, encoding, warn, note, json_fields
        As for :func:`extract_file`.
    skip_unreadable_in_dirs : bool
        False makes an unreadable file inside a directory an error too.

    Yields
    ------
    Comment

    Raises
    ------
    ExtractError
        For a missing path, an unreadable file named directly, or a directory with nothing readable.

    Examples
    --------
    >>> from moderation.io import extract
    >>> recs = list(extract("seeds"))                      # doctest: +SKIP
    >>> sum(r.kind == "comment" for r in recs)             # doctest: +SKIP
    16
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    for p in paths:
        if str(p) == STDIN:  # standard input, spooled to a regular file within the size limit
            with spooled_stdin() as spooled:
                yield from extract_file(
                    spooled,
                    input_format=input_format,
                    encoding=encoding,
                    thread="stdin",
                    warn=warn,
                    note=note,
                    json_fields=json_fields,
                    name=STDIN,
                )
            continue
        path = Path(p)
        if path.is_dir():
            readable = 0
            for f in walk([path], skip_oversized=skip_unreadable_in_dirs, warn=warn):
                records = extract_file(
                    f, input_format=input_format, encoding=encoding, warn=warn, note=note, json_fields=json_fields
                )
                try:
                    first = next(records, None)  # a file that cannot be read fails here …
                except ExtractError as exc:
                    if not skip_unreadable_in_dirs:
                        raise
                    if warn:
                        warn(f"skipped {exc}")
                    continue
                readable += 1
                if first is not None:
                    yield first
                    yield from records  # … and the rest streams
            if not readable:
                raise ExtractError(f"{p}: nothing readable in this directory (no text thread dumps or comment files)")
        else:
            walk([path])  # raises a clear error for a missing path
            yield from extract_file(
                path, input_format=input_format, encoding=encoding, warn=warn, note=note, json_fields=json_fields
            )


def extract_frame(paths: Iterable[str | os.PathLike] | str | os.PathLike, **kwargs: Any) -> pd.DataFrame:
    """:func:`extract` as a pandas DataFrame, one row per record, columns :data:`FIELDS` first.

    Parameters
    ----------
    paths : path-like or iterable of path-like
    **kwargs
        Passed to :func:`extract`.

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    rows = [r.to_dict() for r in extract(paths, **kwargs)]
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(FIELDS))
    return frame
