"""``moderation labels queue``: the comments the labeling tool would offer, in its order, as a
file for other tools (a spreadsheet, Label Studio), with their context and the model's scores.

Each row carries what a moderator needs to judge the comment (the thread title, the posts it
replies to, the article and earlier posts), the model's scores, action and flags when a model is
given, empty ``slur``/``off_topic``/``delete``/``note`` columns to fill in, and a ``check`` (a
digest of id and text) with which ``labels import`` proves the row came back unchanged.

JSON Lines is exact (a machine format). CSV is made for spreadsheets: it starts with a UTF-8
byte order mark (so Excel reads Japanese text as UTF-8), every text made from the input is shown
as :func:`moderation.display.displayable` makes it (control, bidi and invisible characters as
visible escapes, as on the labeling screen) and a cell that would start like a formula gets a
leading ``'`` (:func:`moderation.io.files.spreadsheet_safe`); a row whose texts needed escapes
keeps them exact in its ``exact`` column (JSON in ASCII, inert), so an import still gets every
character as it was posted.

Examples
--------
>>> from moderation.io.readers.scrape import parse_scrape
>>> from moderation.apps.labeling.items import collect_items
>>> rows = queue_rows(collect_items(parse_scrape("在韓米軍の話\\n>>1\\n=1+1 下朝鮮", thread="t")))
>>> [(r["rank"], r["text"], r["reply_to"]) for r in rows]
[(1, '在韓米軍の話', ''), (2, '=1+1 下朝鮮', '>>1 在韓米軍の話')]
>>> import io
>>> out = io.StringIO()
>>> write_queue(rows, out, "csv")
2
>>> out.getvalue().splitlines()[2].split(",")[6]
"'=1+1 下朝鮮"
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import IO, TYPE_CHECKING

from ...core import LABELS
from ...display import displayable
from ...io.files import write_csv, write_jsonl
from ...labels.importer import TEXT_FIELDS, text_check
from .items import Item
from .session import initial_order

if TYPE_CHECKING:
    from .model_view import ModelView

#: The columns of a queue file, in order.
QUEUE_COLUMNS: tuple[str, ...] = (
    "rank",
    "id",
    "thread",
    "no",
    "thread_title",
    "reply_to",
    "text",
    *LABELS,
    "note",
    "model_action",
    "model_flagged",
    *(f"model_{label}" for label in LABELS),
    "thread_text",
    "source",
    "check",
    "exact",
)
#: The formats :func:`write_queue` writes.
QUEUE_FORMATS: tuple[str, ...] = ("csv", "jsonl", "json")


def _replies(item: Item) -> str:
    lines = []
    for n, text in item.replies:
        shown = "(not in the input)" if text is None else "[deleted post]" if text == "" else text
        lines.append(f">>{n} {shown}")
    return "\n".join(lines)


def queue_rows(
    items: Sequence[Item],
    *,
    order: str = "sequential",
    model: ModelView | None = None,
    seed: int | None = None,
    limit: int | None = None,
    done_ids: Iterable[str] = (),
) -> list[dict]:
    """The offered comments in the order a labeling session would show them, one row each.

    Parameters
    ----------
    items : sequence of Item
        :func:`~moderation.apps.labeling.items.collect_items` of the inputs.
    order : {'sequential', 'uncertain', 'random'}
        As ``moderation label --order`` (:func:`~moderation.apps.labeling.session.initial_order`).
    model : ModelView, optional
        Adds the model's action, flags and scores; required for ``uncertain``.
    seed : int, optional
        For ``random`` (the same seed gives the tool's order).
    limit : int, optional
        The first ``limit`` rows only.
    done_ids : iterable of str
        Comments left out (already labeled).

    Returns
    -------
    list of dict
        With the keys of :data:`QUEUE_COLUMNS` (texts exact; ``exact`` None). The label and
        note columns are empty (None); model columns are None without a model.

    Raises
    ------
    ValueError
        For an unknown order, or ``uncertain`` without a model.
    """
    skip = set(done_ids)
    done = [i for i, item in enumerate(items) if item.id in skip]
    queue = initial_order(len(items), order, model=model, seed=seed, done=done)
    if limit is not None:
        queue = queue[: max(0, limit)]
    rows = []
    for rank, i in enumerate(queue, start=1):
        item = items[i]
        rec = item.comment
        row: dict = {
            "rank": rank,
            "id": rec.id,
            "thread": rec.thread,
            "no": rec.no,
            "thread_title": item.title or item.headline or "",
            "reply_to": _replies(item),
            "text": rec.text,
            **dict.fromkeys(LABELS),
            "note": None,
            "model_action": None,
            "model_flagged": None,
            **{f"model_{label}": None for label in LABELS},
            "thread_text": item.thread_text,
            "source": rec.source or None,
            "check": text_check(rec.id, rec.text),
            "exact": None,
        }
        if model is not None:
            row["model_action"] = model.actions[i]
            row["model_flagged"] = list(model.flagged[i])
            for label, p in model.scores(i).items():
                row[f"model_{label}"] = None if p is None else round(p, 4)
        rows.append(row)
    return rows


def spreadsheet_row(row: dict) -> dict:
    """A queue row as a spreadsheet should get it: input texts displayable (visible escapes),
    the exact ones in ``exact`` when that changed them (ASCII JSON), lists as ``;``-joined text.
    (Formula-like cells get their ``'`` from :func:`moderation.io.files.write_csv`.)

    Examples
    --------
    >>> r = spreadsheet_row({"id": "a", "text": "x\\u202ey", "thread_title": "題", "reply_to": "", "model_flagged": []})
    >>> r["text"], r["exact"]
    ('x\\\\u202ey', '{"text": "x\\\\u202ey"}')
    """
    out = dict(row)
    exact = {}
    for name in ("id", *TEXT_FIELDS):
        value = row.get(name)
        if isinstance(value, str):
            shown = displayable(value)
            if shown != value:
                exact[name] = value
            out[name] = shown
    for name in ("thread", "reply_to", "source"):
        if isinstance(row.get(name), str):
            out[name] = displayable(row[name])
    if exact:
        out["exact"] = json.dumps(exact, ensure_ascii=True)
    if isinstance(row.get("model_flagged"), list):
        out["model_flagged"] = ";".join(row["model_flagged"])
    return out


def write_queue(rows: Iterable[dict], fh: IO[str], fmt: str = "csv") -> int:
    """Write queue rows: ``jsonl`` exact, ``csv`` for a spreadsheet (:func:`spreadsheet_row`,
    formula-like cells prefixed with ``'``; open the file with ``newline=""`` and, for Excel,
    ``encoding="utf-8-sig"``), ``json`` a list of Label Studio tasks (``{"data": row}``, exact:
    Label Studio shows text as text, and its export brings ``data`` back as it was).

    Returns
    -------
    int
        The rows written.

    Raises
    ------
    ValueError
        For another format.
    """
    if fmt == "jsonl":
        return write_jsonl(({k: v for k, v in row.items() if k != "exact"} for row in rows), fh)
    if fmt == "csv":
        return write_csv((spreadsheet_row(row) for row in rows), fh, columns=list(QUEUE_COLUMNS), for_spreadsheet=True)
    if fmt == "json":
        tasks = [{"data": {k: v for k, v in row.items() if k != "exact"}} for row in rows]
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
        return len(tasks)
    raise ValueError(f"unknown format {fmt!r}")
