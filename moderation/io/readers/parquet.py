"""Comments in Parquet files (``parquet``): one row per record, read in batches (pyarrow).

Columns mean what they mean in CSV/JSONL (:mod:`moderation.io.readers.tabular`): a ``text``
column, optional ``id``, ``thread``, ``no``, ``reply_to``, ``thread_title``, ... and other
columns pass through; the thread context comes from ``thread_title`` / ``thread_text``. A row
whose ``text`` is not text is kept as a ``meta`` record and reported. A record's ``span`` is
its row number in the file, ``[row, row + 1)``: Parquet has no character offsets.

Parquet is binary, so this reader reads the file itself (``read_path`` in the registry)
rather than decoded text; ``--input-format parquet`` or a ``.parquet`` / ``.pq`` suffix picks
it.

Examples
--------
>>> import pathlib, tempfile
>>> import pyarrow as pa, pyarrow.parquet as pq
>>> path = pathlib.Path(tempfile.mkdtemp()) / "comments.parquet"
>>> pq.write_table(pa.table({"id": ["a", "b"], "text": [" やあ ", None]}), path)
>>> [(r.id, r.kind, r.text) for r in iter_parquet(path, thread="t", source=str(path))]  # doctest: +ELLIPSIS
[('a', 'comment', 'やあ'), ('t-...', 'meta', '{"id": "b", "text": null}')]
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from typing import Any

from ...core import Comment, ExtractError, Warn
from ..parquet import require_pyarrow
from .tabular import _tabular_record


def _plain(value: Any) -> Any:
    """Arrow's Python values as the JSON-like values the tabular readers see."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def open_parquet(path: str | os.PathLike, *, source: str | None = None) -> Any:
    """A ``pyarrow.parquet.ParquetFile``, or a one-line :class:`ExtractError`.

    Raises
    ------
    ExtractError
        When the file is not Parquet, cannot be read, or has no ``text`` column.
    """
    require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..inputs import check_input

    name = source or str(path)
    check_input(path)  # a FIFO or a device is refused before pyarrow opens it
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ExtractError(f"{name}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    if "text" not in names:
        raise ExtractError(
            f"{name}: no 'text' column (columns: {', '.join(names) or 'none'}); "
            "name the column that holds the comment 'text'"
        )
    return pf


def iter_parquet(
    path: str | os.PathLike,
    *,
    thread: str,
    source: str,
    warn: Warn | None = None,
    row_groups: Sequence[int] | None = None,
    batch_rows: int = 8192,
) -> Iterator[Comment]:
    """Comments from a Parquet file, streamed batch by batch.

    Parameters
    ----------
    path : path-like
    thread : str
        Thread id for rows without a ``thread`` column.
    source : str
        Path written into each record.
    warn : callable, optional
        Takes one line for each row kept as ``meta``.
    row_groups : sequence of int, optional
        Only these row groups (in this order), for reading a large file in pieces. Ids of rows
        without an ``id`` count repeated texts within what is read.
    batch_rows : int
        Rows decoded at a time.

    Yields
    ------
    Comment

    Raises
    ------
    ExtractError
        When the file cannot be read as Parquet or has no ``text`` column.
    """
    pf = open_parquet(path, source=source)
    import pyarrow as pa

    groups = list(range(pf.num_row_groups)) if row_groups is None else list(row_groups)
    seen: dict = {}
    for group in groups:
        row = sum(pf.metadata.row_group(g).num_rows for g in range(group))
        try:
            batches = pf.iter_batches(batch_size=batch_rows, row_groups=[group])
            for batch in batches:
                for values in batch.to_pylist():
                    record = _tabular_record(
                        {k: _plain(v) for k, v in values.items()},
                        thread=thread,
                        source=source,
                        span=(row, row + 1),
                        seen=seen,
                        where=f"{source or 'input'}: row {row + 1}",
                        warn=warn,
                    )
                    row += 1
                    yield record
        except (OSError, pa.ArrowException) as exc:
            raise ExtractError(f"{source}: cannot read row group {group} of a Parquet file ({exc})") from None


def read_path(path: str | os.PathLike, *, thread: str, source: str, warn: Warn | None = None) -> Iterator[Comment]:
    """The ``parquet`` reader's entry in :mod:`moderation.io.registry` (reads the file itself)."""
    return iter_parquet(path, thread=thread, source=source, warn=warn)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterator[Comment]:
    """Parquet is binary: there is no decoded text to read (the registry calls :func:`read_path`).

    Raises
    ------
    ExtractError
        Always.
    """
    raise ExtractError(f"{source}: Parquet is binary and is read from the file, not from decoded text")
