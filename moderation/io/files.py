"""Writing files so that nothing is ever half-written, and the row formats every command shares."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or an exception leaves the old file (or no file), never a half-written one; the
    command line turns SIGTERM into an exception, so a terminated command leaves no hidden
    temporary file either. The file gets the mode ``open()`` would give it (the old file's,
    or 0666 less the umask), not :func:`tempfile.mkstemp`'s 0600.

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
    if path.is_symlink():  # write where the link points, rather than replace the link by a file
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        # A device, a FIFO, a directory: renaming a file over it would replace it (as root,
        # even /dev/null); such an output is refused.
        raise OSError(errno.EINVAL, "not a regular file; write to a regular file (or - for standard output)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
    try:
        # mkstemp makes the file 0600; what replaces a file keeps its mode, a new one gets the
        # mode open() would give it (0666 less the umask), so a shared output stays readable.
        try:
            wanted = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            wanted = 0o666 & ~current_umask()
        os.fchmod(fd, wanted)
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc/self/status``).

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


#: What a spreadsheet reads as the start of a formula (OWASP's list: = + - @, tab and carriage
#: return), and the full-width forms a Japanese spreadsheet may convert to them.
FORMULA_LEADS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_safe(text: str) -> str:
    """A text cell that a spreadsheet shows as text and never runs as a formula.

    OWASP's rule for CSV injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return (or their full-width forms) gets a leading ``'``, which spreadsheets
    take as "this is text". Other cells are unchanged. This is hand-written rather than
    ``defusedcsv`` because that library also rewrites every ``|`` in the cell and does not
    know the tab and carriage return of OWASP's current list.

    Examples
    --------
    >>> print(spreadsheet_safe('=HYPERLINK("http://x","クリック")'))
    '=HYPERLINK("http://x","クリック")
    >>> spreadsheet_safe("ふつう"), spreadsheet_safe("-1")
    ('ふつう', "'-1")
    """
    return "'" + text if text.startswith(FORMULA_LEADS) else text


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


class _RowsEndedByLF:
    """What :func:`write_csv` hands the csv writer: rows come with ``\\r\\n`` (so that a field
    holding a bare carriage return is quoted, which Python before 3.12 only does for characters
    of the line terminator) and go to the file ended by ``\\n``. The csv writer writes one
    whole row per call."""

    def __init__(self, fh: IO[str]):
        self.fh = fh

    def write(self, row: str) -> int:
        return self.fh.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


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


def write_csv(
    rows: Iterable[dict], fh: IO[str], columns: list[str] | None = None, *, for_spreadsheet: bool = False
) -> int:
    """CSV with a header taken from ``columns`` or the first row; later keys are appended.

    Lists and dicts are written as JSON, None as an empty cell, booleans as ``true``/``false``.
    By default every text is written exactly (a CSV for pipelines); ``for_spreadsheet``
    neutralises text cells that a spreadsheet would run as formulas (:func:`spreadsheet_safe`).

    Parameters
    ----------
    rows : iterable of dict
    fh : text file
        Opened with ``newline=""``.
    columns : list of str, optional
        Columns first, in this order (the header is written even when there are no rows).
    for_spreadsheet : bool
        Prefix text cells (strings, not numbers) that start like a formula with ``'``.

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
    >>> write_csv([{"text": "a\\rb"}], sys.stdout)    # a bare CR is quoted: the row stays one row
    text
    "a\rb"
    1
    >>> write_csv([{"text": "=1+1", "score": -0.5}], sys.stdout, for_spreadsheet=True)
    text,score
    '=1+1,-0.5
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
            writer = csv.DictWriter(_RowsEndedByLF(fh), fieldnames=cols, extrasaction="ignore", lineterminator="\r\n")
            writer.writeheader()
        if for_spreadsheet:
            writer.writerow({k: spreadsheet_safe(v) if isinstance(v, str) else _cell(v) for k, v in row.items()})
        else:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        n += 1
    if writer is None and columns:
        csv.writer(fh, lineterminator="\n").writerow(columns)
    return n
