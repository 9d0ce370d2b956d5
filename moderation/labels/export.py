"""``moderation labels export``: one row per comment with its labels resolved, the table
``moderation train`` reads.

Examples
--------
>>> rows = export_rows([{"id": "a", "text": "x", "annotator": "m1", "labels": {"slur": 1}}])
>>> [rows[0][c] for c in ("slur", "off_topic", "delete")]
[1, None, None]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from ..core import LABELS
from ..io.files import write_csv, write_jsonl
from .events import resolve

#: The columns of an export, in order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "thread",
    "text",
    *LABELS,
    "annotators",
    "thread_title",
    "thread_text",
    "source",
    "adjudicated",
    "unresolved",
    "notes",
)
#: The formats :func:`write_export` writes.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl")


def export_rows(events: Iterable[dict]) -> list[dict]:
    """One row per comment, labels resolved by :func:`moderation.labels.events.resolve`: its
    adjudication first, else each annotator's latest label and the majority; a tie no
    adjudication settled is left blank (unknown) and named in ``unresolved``.

    Parameters
    ----------
    events : iterable of dict

    Returns
    -------
    list of dict
        With the keys of :data:`EXPORT_COLUMNS`. A label that no annotator gave, or that
        annotators tied on, is None (a blank cell: unknown, not 0). ``adjudicated`` says the
        labels are an adjudicator's, ``unresolved`` lists the tied labels, ``notes`` the notes.

    Examples
    --------
    >>> ev = [{"id": "a", "text": "x", "annotator": "m1", "labels": {"slur": 1, "delete": 1}},
    ...       {"id": "a", "text": "x", "annotator": "m2", "labels": {"slur": 0, "delete": 1}},
    ...       {"id": "a", "annotator": "m2", "undo": True}]
    >>> row = export_rows(ev)[0]
    >>> row["slur"], row["off_topic"], row["delete"], row["annotators"]
    (1, None, 1, ['m1'])
    """
    rows = []
    for r in resolve(events):
        row = {"id": r["id"], "thread": r.get("thread"), "text": r.get("text", "")}
        for label in LABELS:
            row[label] = r["labels"].get(label)
        row["annotators"] = r["annotators"]
        row["thread_title"] = r.get("thread_title")
        row["thread_text"] = r.get("thread_text")
        row["source"] = r.get("source")
        row["adjudicated"] = r["adjudicated"]
        row["unresolved"] = r["ties"]
        row["notes"] = r["notes"]
        rows.append(row)
    return rows


def write_export(rows: Iterable[dict], fh: IO[str], fmt: str = "jsonl", *, for_spreadsheet: bool = False) -> int:
    """Write exported rows as JSON Lines or CSV (annotators and unresolved labels joined with
    ``;``, notes with `` | `` in CSV).

    Parameters
    ----------
    rows : iterable of dict
        From :func:`export_rows`.
    fh : text file
    fmt : {'jsonl', 'csv'}
    for_spreadsheet : bool
        CSV only: text cells that start like a formula get a leading ``'``
        (:func:`moderation.io.files.spreadsheet_safe`); otherwise every text is exact.

    Returns
    -------
    int
        The rows written.

    Raises
    ------
    ValueError
        For another format.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> write_export([{"id": "a", "text": "x", "slur": 1, "annotators": ["m1", "m2"]}], out, "csv")
    1
    >>> out.getvalue().splitlines()[1]
    'a,,x,1,,,m1;m2,,,,,,'
    """
    if fmt == "jsonl":
        return write_jsonl(rows, fh)
    if fmt == "csv":
        return write_csv(
            (
                {
                    **row,
                    "annotators": ";".join(row["annotators"]),
                    "unresolved": ";".join(row.get("unresolved") or ()),
                    "notes": " | ".join(row.get("notes") or ()),
                }
                for row in rows
            ),
            fh,
            columns=list(EXPORT_COLUMNS),
            for_spreadsheet=for_spreadsheet,
        )
    raise ValueError(f"unknown format {fmt!r}")
