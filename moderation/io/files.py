"""Writing files so that nothing is ever half-written, and the row formats every command shares."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or an exception leaves the old file (or no file), never a half-written one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cell(value) -> str:
    """A CSV cell: lists and dicts as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_jsonl(rows: Iterable[dict], fh: IO[str]) -> int:
    """One JSON object per line (UTF-8 text as is, other values as their ``str``).

    Parameters
    ----------
    rows : iterable of dict
    fh : text file

    Returns
    -------
    int
        The number of rows written.

    Examples
    --------
    >>> import sys
    >>> write_jsonl([{"text": "こんにちは", "no": 1}], sys.stdout)
    {"text": "こんにちは", "no": 1}
    1
    """
    n = 0
    for row in rows:
        fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict], fh: IO[str], columns: list[str] | None = None) -> int:
    """CSV with a header taken from ``columns`` or the first row; later keys are appended.

    Lists and dicts are written as JSON, None as an empty cell, booleans as ``true``/``false``.

    Parameters
    ----------
    rows : iterable of dict
    fh : text file
        Opened with ``newline=""``.
    columns : list of str, optional
        Columns first, in this order (the header is written even when there are no rows).

    Returns
    -------
    int
        The number of rows written.

    Examples
    --------
    >>> import sys
    >>> write_csv([{"text": "a,b", "reply_to": [1]}], sys.stdout, columns=["text"])
    text,reply_to
    "a,b",[1]
    1
    """
    writer = None
    n = 0
    for row in rows:
        if writer is None:
            cols = list(columns or row.keys())
            for key in row:
                if key not in cols:
                    cols.append(key)
            writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: _cell(v) for k, v in row.items()})
        n += 1
    if writer is None and columns:
        csv.writer(fh, lineterminator="\n").writerow(columns)
    return n
