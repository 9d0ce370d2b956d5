"""Parquet out: rows written as one Parquet file, atomically and in batches (pyarrow).

What data teams hand over and take back is usually Parquet. :func:`write_parquet` writes the
same rows ``moderation extract`` and ``moderation score`` write as JSONL or CSV, with the
record and score columns typed (``no`` an integer, ``labels`` a list of strings, the
probabilities floats, ...) and pass-through columns typed from their values. Reading Parquet
is the ``parquet`` reader's (:mod:`moderation.io.readers.parquet`).

pyarrow is an optional dependency (``pip install 'moderation[parquet]'`` or
``'moderation[cluster]'``); :func:`require_pyarrow` says so in one line when it is missing.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.parquet"
>>> write_parquet([{"id": "a", "no": 1, "labels": ["slur"]}, {"id": "b", "no": None, "labels": []}], path)
2
>>> import pyarrow.parquet as pq
>>> pq.read_table(path).to_pylist()[1]
{'id': 'b', 'no': None, 'labels': []}
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable
from typing import Any

from ..core import ModerationError
from .files import atomic_write

#: File suffixes of Parquet files.
PARQUET_SUFFIXES = (".parquet", ".pq")


def require_pyarrow() -> Any:
    """The ``pyarrow`` module, or a one-line error saying how to install it.

    Raises
    ------
    ModerationError
        When pyarrow is not installed.
    """
    try:
        import pyarrow
        import pyarrow.parquet  # the submodule is what callers use
    except ImportError:
        raise ModerationError(
            "Parquet needs pyarrow: pip install 'moderation[parquet]' (or 'moderation[cluster]')"
        ) from None
    return pyarrow


def _known_types(pa: Any) -> dict[str, Any]:
    """Arrow types of the columns every command writes (record fields and scores)."""
    reason = pa.struct(
        [
            ("label", pa.string()),
            ("span", pa.list_(pa.int64())),
            ("excerpt", pa.string()),
            ("weight", pa.float64()),
            ("source", pa.string()),
        ]
    )
    return {
        "thread": pa.string(),
        "id": pa.string(),
        "no": pa.int64(),
        "kind": pa.string(),
        "text": pa.string(),
        "reply_to": pa.list_(pa.int64()),
        "deleted": pa.bool_(),
        "author": pa.string(),
        "posted_at": pa.string(),
        "urls": pa.list_(pa.string()),
        "span": pa.list_(pa.int64()),
        "source": pa.string(),
        "slur": pa.float64(),
        "off_topic": pa.float64(),
        "delete": pa.float64(),
        "action": pa.string(),
        "labels": pa.list_(pa.string()),
        "reasons": pa.list_(reason),
        "context": pa.string(),
    }


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _infer(pa: Any, values: list) -> Any:
    """The Arrow type of a pass-through column: from its values; text when they are all null
    or of mixed kinds."""
    try:
        kind = pa.array(values).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.string()
    return pa.string() if pa.types.is_null(kind) else kind


def write_parquet(
    rows: Iterable[dict],
    path: str | os.PathLike,
    *,
    columns: list[str] | None = None,
    batch_rows: int = 20_000,
) -> int:
    """Write rows as one Parquet file, atomically (a temporary file renamed into place).

    Rows are written ``batch_rows`` at a time, so memory stays flat. The file's schema is
    fixed by the first batch: ``columns`` first, then every key of its rows in order of
    appearance. Record and score columns have fixed types; a pass-through column is typed from
    its values (text when they are all null or of mixed kinds, which are then written as
    JSON or ``str``).

    Parameters
    ----------
    rows : iterable of dict
    path : path-like
    columns : list of str, optional
        Columns first, in this order (also the columns of a file with no rows).
    batch_rows : int
        Rows per batch (and row group).

    Returns
    -------
    int
        The number of rows written.

    Raises
    ------
    ModerationError
        When pyarrow is missing, or a later batch has a column the first one lacked or a value
        that does not fit its column's type (nothing is written then).
    """
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    known = _known_types(pa)
    it = iter(rows)
    n = 0
    schema = None
    with atomic_write(path, "wb") as fh:
        writer = None
        try:
            while batch := list(itertools.islice(it, batch_rows)):
                if schema is None:
                    names = list(columns or [])
                    for row in batch:
                        names.extend(k for k in row if k not in names)
                    fields = []
                    for name in names:
                        kind = known.get(name) or _infer(pa, [row.get(name) for row in batch])
                        fields.append(pa.field(name, kind))
                    schema = pa.schema(fields)
                    writer = pq.ParquetWriter(fh, schema)
                extra = {k for row in batch for k in row} - set(schema.names)
                if extra:
                    raise ModerationError(
                        f"{path}: column {sorted(extra)[0]!r} first appears after row {n:,}; Parquet needs one "
                        "set of columns per file (write jsonl instead)"
                    )
                arrays = []
                for fld in schema:
                    values = [row.get(fld.name) for row in batch]
                    if pa.types.is_string(fld.type) and fld.name not in known:
                        values = [_as_text(v) for v in values]
                    try:
                        arrays.append(pa.array(values, type=fld.type))
                    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
                        raise ModerationError(
                            f"{path}: column {fld.name!r} after row {n:,} does not fit its type {fld.type} ({exc}); "
                            "write jsonl instead"
                        ) from None
                assert writer is not None
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                n += len(batch)
            if writer is None:
                schema = pa.schema([pa.field(c, known.get(c, pa.string())) for c in columns or []])
                writer = pq.ParquetWriter(fh, schema)
        finally:
            if writer is not None:
                writer.close()
    return n
