"""Comments already split into rows: JSON Lines (``jsonl``) and CSV/TSV (``csv``), streamed.

Each row is one record; columns that are record fields (:data:`TABULAR_FIELDS` and
``text``) fill them, the others pass through in ``extra``. A row that cannot be read is
reported and kept as a ``meta`` record, never lost.

Examples
--------
>>> import io
>>> [(r.id, r.text) for r in iter_jsonl(io.StringIO('{"id": "a", "text": " やあ "}\\n'))]
[('a', 'やあ')]
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator

from ...core import RECORD_KINDS, Comment, ExtractError, Warn
from ..board_text import URL_RE, clean_text, head_lines, is_encodable, stable_id


def sniff_jsonl(sample: str) -> bool:
    """Whether the first non-blank line of a file is a JSON object.

    Examples
    --------
    >>> sniff_jsonl('{"text": "hi"}\\n'), sniff_jsonl("[1, 2]")
    (True, False)
    """
    lines = head_lines(sample)
    if lines and lines[0].startswith("{"):
        try:
            if isinstance(json.loads(lines[0]), dict):
                return True
        except ValueError:  # not JSON, or a number too long to convert
            pass
    return False


def sniff_csv(sample: str) -> bool:
    """Whether the first non-blank line of a file is a CSV/TSV header with a ``text`` column.

    Examples
    --------
    >>> sniff_csv("id,text\\n1,hi\\n"), sniff_csv("id,body\\n")
    (True, False)
    """
    lines = head_lines(sample)
    return bool(
        lines
        and re.match(r"^\ufeff?[\w\"' ]+([,\t][\w\"' ]+)+$", lines[0])
        and re.search(r"(?:^|[,\t])\"?text\"?(?:$|[,\t])", lines[0])
    )


#: Columns that fill record fields (besides ``text``); the others pass through in ``extra``.
TABULAR_FIELDS = ("id", "thread", "no", "reply_to", "thread_title", "kind", "deleted", "author", "posted_at")


def _as_int(value) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _as_int_list(value) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [n for n in (_as_int(v) for v in value) if n is not None]
    if isinstance(value, (int, float)) and value == value:
        return [int(value)]
    return [int(n) for n in re.findall(r"\d+", str(value))]


def _tabular_record(
    row: dict, *, thread: str, source: str, span: tuple[int, int], seen: dict, where: str, warn: Warn | None
) -> Comment:
    """One comment from a CSV row or JSONL object; a row without usable text is kept as meta."""
    text = row.get("text")
    thread_id = str(row.get("thread") or thread)
    if not isinstance(text, str):
        raw = json.dumps(row, ensure_ascii=False, default=str)
        if warn:
            what = "no 'text' field" if text is None else f"'text' is {type(text).__name__}, not text"
            warn(f"{where}: {what}; kept as a meta record")
        return Comment(thread_id, stable_id(thread_id, "meta", raw, seen), None, "meta", raw, span=span, source=source)
    if not is_encodable(text):
        if warn:
            warn(f"{where}: text has characters that are not valid Unicode (lone surrogates); replaced with U+FFFD")
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = clean_text(text)
    extra = {k: v for k, v in row.items() if k not in TABULAR_FIELDS and k != "text"}
    if row.get("thread_title") not in (None, ""):
        extra["thread_title"] = row["thread_title"]
    kind: str = row["kind"] if row.get("kind") in RECORD_KINDS else "comment"
    rid = row.get("id")
    deleted = row.get("deleted")
    deleted = str(deleted).strip().lower() in ("1", "true", "yes") if deleted not in (None, "") else False
    return Comment(
        thread=thread_id,
        id=str(rid) if rid not in (None, "") else stable_id(thread_id, kind, text, seen),
        no=_as_int(row.get("no")),
        kind=kind,
        text=text,
        reply_to=_as_int_list(row.get("reply_to")),
        deleted=deleted,
        author=(str(row["author"]) if row.get("author") not in (None, "") else None),
        posted_at=(str(row["posted_at"]) if row.get("posted_at") not in (None, "") else None),
        urls=URL_RE.findall(text),
        span=span,
        source=source,
        extra=extra,
    )


def _offset_lines(stream: Iterable[str]) -> Iterator[tuple[int, str]]:
    pos = 0
    for line in stream:
        yield pos, line
        pos += len(line)


def iter_jsonl(
    stream: Iterable[str], *, thread: str = "thread", source: str = "", warn: Warn | None = None
) -> Iterator[Comment]:
    """Comments from JSON Lines, one object per line, streamed.

    A line that is not a JSON object is reported through ``warn`` with its line number
    and kept as a ``meta`` record holding the raw line.

    Parameters
    ----------
    stream : iterable of str
        Lines with their line ends (a text file opened with ``newline=""``); spans are
        character offsets into their concatenation.
    thread : str
        Thread id for rows without a ``thread`` column.
    source : str
        Path written into each record.
    warn : callable, optional
        Takes one line for each row kept as ``meta``.

    Yields
    ------
    Comment

    Examples
    --------
    >>> import io
    >>> [(r.kind, r.text) for r in iter_jsonl(io.StringIO('{"text": "やあ"}\\n[1]\\n'), warn=print)]
    input:2: not a JSON object; kept as a meta record
    [('comment', 'やあ'), ('meta', '[1]')]
    """
    seen: dict = {}
    name = source or "input"
    first = True
    for lineno, (pos, line) in enumerate(_offset_lines(stream), start=1):
        if first and line.startswith("\ufeff"):
            line = line[1:]
            pos += 1
        first = False
        start, end = pos, pos + len(line.rstrip("\r\n"))
        stripped = line.strip()
        if not stripped:
            continue
        try:
            row = json.loads(stripped)
        except ValueError as exc:  # JSONDecodeError, or a number too long to convert
            row = exc
        if not isinstance(row, dict):
            if isinstance(row, json.JSONDecodeError):
                what = f"not valid JSON ({row.msg})"
            else:
                what = f"not valid JSON ({row})" if isinstance(row, ValueError) else "not a JSON object"
            if warn:
                warn(f"{name}:{lineno}: {what}; kept as a meta record")
            yield Comment(
                thread,
                stable_id(thread, "meta", stripped, seen),
                None,
                "meta",
                stripped,
                span=(start, end),
                source=source,
            )
            continue
        yield _tabular_record(
            row, thread=thread, source=source, span=(start, end), seen=seen, where=f"{name}:{lineno}", warn=warn
        )


def iter_csv(
    stream: Iterable[str],
    *,
    thread: str = "thread",
    source: str = "",
    warn: Warn | None = None,
    delimiter: str | None = None,
) -> Iterator[Comment]:
    """Comments from CSV (or TSV) with a header row and a ``text`` column, streamed.

    Parameters
    ----------
    stream : iterable of str
        Lines with their line ends (a text file opened with ``newline=""``); spans are
        character offsets into their concatenation.
    thread, source, warn
        As for :func:`iter_jsonl`.
    delimiter : str, optional
        Default: a tab if the header has more tabs than commas, else a comma.

    Yields
    ------
    Comment

    Raises
    ------
    ExtractError
        When there is no ``text`` column.

    Examples
    --------
    >>> import io
    >>> [(r.id, r.reply_to, r.text) for r in iter_csv(io.StringIO('id,text,reply_to\\nA1,"そう, 思う",>>3\\n'))]
    [('A1', [3], 'そう, 思う')]
    """
    name = source or "input"
    tracked = _offset_lines(stream)
    position = {"pos": 0, "line": 0}

    pending_lines: list[str] = []  # the physical lines of the row being read

    def lines():
        for pos, line in tracked:
            position["line"] += 1
            position["pos"] = pos + len(line)
            pending_lines.append(line)
            yield line

    it = lines()
    first = next(it, None)
    if first is None:
        return
    header_line = first.lstrip("\ufeff")
    if delimiter is None:
        delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    header = [h.strip() for h in header]
    if "text" not in header:
        raise ExtractError(
            f"{name}: no 'text' column (columns: {', '.join(header) or 'none'}); "
            "name the column that holds the comment 'text'"
        )
    csv.field_size_limit(1 << 26)  # a long comment is still a comment (the default is 128 KiB)
    reader = csv.reader(it, delimiter=delimiter)
    seen: dict = {}
    while True:
        start = position["pos"]
        line_no = position["line"] + 1
        pending_lines.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if warn:
                warn(f"{name}:{line_no}: unreadable CSV row ({exc}); kept as a meta record")
            end = position["pos"]
            raw = "".join(pending_lines) if pending_lines else ""
            yield Comment(
                thread,
                stable_id(thread, "meta", f"{line_no}:{raw}", seen),
                None,
                "meta",
                raw,
                span=(start, end),
                source=source,
            )
            continue
        end = position["pos"]
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            if warn:
                warn(f"{name}:{line_no}: {len(row)} fields where the header has {len(header)}; kept as a meta record")
            raw = delimiter.join(row)
            yield Comment(
                thread, stable_id(thread, "meta", raw, seen), None, "meta", raw, span=(start, end), source=source
            )
            continue
        yield _tabular_record(
            dict(zip(header, row, strict=True)),
            thread=thread,
            source=source,
            span=(start, end),
            seen=seen,
            where=f"{name}:{line_no}",
            warn=warn,
        )


def read_jsonl(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterator[Comment]:
    """The ``jsonl`` reader's entry in :mod:`moderation.io.registry`: :func:`iter_jsonl` on a whole text."""
    return iter_jsonl(io.StringIO(text, newline=""), thread=thread, source=source, warn=warn)


def read_csv(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterator[Comment]:
    """The ``csv`` reader's entry in :mod:`moderation.io.registry`: :func:`iter_csv` on a whole text."""
    return iter_csv(io.StringIO(text, newline=""), thread=thread, source=source, warn=warn)
