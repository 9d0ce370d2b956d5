"""Comment exports as one JSON document (``json``): a list of comment objects, an object that
holds one, nested replies, or Reddit's listing JSON (the ``reddit`` preset).

Which keys hold what is a :class:`JsonFields` mapping (the CLI's ``--text-field``,
``--id-field``, ``--parent-field``, ``--thread-field`` and ``--json-preset``); dotted keys
reach into nested objects (``data.body``). Each comment becomes one record, as for JSONL; its
parent's id is kept in ``extra["parent_id"]`` (and in ``reply_to`` when it is a post number).
Replies nested in a list under ``replies`` or ``children`` are read too, their parent set.

Examples
--------
>>> doc = '{"comments": [{"id": "a", "body": "最初"}, {"id": "b", "body": "返信", "parent": "a"}]}'
>>> fields = JsonFields(text="body", parent="parent")
>>> [(r.id, r.text, r.extra.get("parent_id")) for r in read_json(doc, thread="t", source="", fields=fields)]
[('a', '最初', None), ('b', '返信', 'a')]
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from ...core import Comment, ExtractError, Warn
from .tabular import _tabular_record

NAME = "json"


@dataclass(frozen=True)
class JsonFields:
    """Where a JSON export keeps each part of a comment (dotted paths allowed).

    Parameters
    ----------
    text, id, parent, thread, author, time : str
        Keys of the comment objects. ``time`` may hold ISO text or Unix seconds.
    """

    text: str = "text"
    id: str = "id"
    parent: str = "parent_id"
    thread: str = "thread"
    author: str = "author"
    time: str = "created_at"


#: Named mappings for exports whose shape is known.
PRESETS: dict[str, JsonFields] = {
    "reddit": JsonFields(
        text="body", id="name", parent="parent_id", thread="link_id", author="author", time="created_utc"
    ),
}
_NESTED = ("replies", "children")
_REMOVED = ("[deleted]", "[removed]")


def sniff(sample: str) -> bool:
    """Whether a file starts like a JSON document that is not JSON Lines (a list, or an
    object spread over several lines).

    Examples
    --------
    >>> sniff('[{"text": "a"}]'), sniff('{\\n "comments": []\\n}'), sniff('{"text": "a"}\\n')
    (True, True, False)
    """
    head = sample.lstrip()
    if head.startswith("["):
        return True
    first = head.split("\n", 1)[0].strip()
    return (head.startswith("{") and first in ("{", '{"')) or (head.startswith("{") and first.endswith((",", "[", "{")))


def _get(obj: object, path: str):
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _time(value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return str(value) if value not in (None, "") else None


def _comments(doc, fields: JsonFields) -> Iterator[tuple[dict, object]]:
    """``(comment object, parent id)`` in document order, without recursion (deep threads)."""
    stack: list[tuple[object, object]] = [(doc, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, list):
            stack.extend((item, parent) for item in reversed(node))
            continue
        if not isinstance(node, dict):
            continue
        data = node.get("data") if node.get("kind") in ("t1", "t3", "Listing", "more") else None
        if isinstance(data, dict):  # reddit's {"kind": ..., "data": {...}} wrapping
            if node.get("kind") == "Listing":
                stack.append((data.get("children") or [], parent))
            elif node.get("kind") in ("t1", "t3"):
                yield data, parent
                replies = data.get("replies")
                if isinstance(replies, dict):
                    stack.append((replies, data.get("name")))
            continue
        if _get(node, fields.text) is not None or (node.get("title") is not None and "selftext" in node):
            yield node, parent
            own = _get(node, fields.id)
            for key in _NESTED:
                if isinstance(node.get(key), list):
                    stack.append((node[key], own))
                    break
            continue
        for value in reversed(list(node.values())):
            if isinstance(value, (list, dict)):
                stack.append((value, parent))


def read_json(
    text: str, *, thread: str, source: str, warn: Warn | None = None, fields: JsonFields | None = None
) -> Iterator[Comment]:
    """Read a JSON comment export (see the module docstring).

    Raises
    ------
    ExtractError
        For a file that is not JSON.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExtractError(f"{source or thread}: not a JSON document (line {exc.lineno}: {exc.msg})") from None
    except ValueError as exc:  # e.g. a number with more digits than Python converts
        raise ExtractError(f"{source or thread}: not a JSON document ({exc})") from None
    if fields is None:
        fields = PRESETS["reddit"] if is_reddit(doc) else JsonFields()
    seen: dict = {}
    found = False
    for obj, nested_parent in _comments(doc, fields):
        found = True
        body = _get(obj, fields.text)
        if body is None and "selftext" in obj:  # a reddit submission: its title and text
            body = "\n".join(str(part) for part in (obj.get("title"), obj.get("selftext")) if part)
        parent = _get(obj, fields.parent)
        parent = nested_parent if parent in (None, "") else parent
        row = {
            "text": body,
            "id": _get(obj, fields.id),
            "thread": _get(obj, fields.thread) or (obj.get("name") if "selftext" in obj else None),
            "author": _get(obj, fields.author),
            "posted_at": _time(_get(obj, fields.time)),
            "reply_to": parent if isinstance(parent, int) and not isinstance(parent, bool) else None,
        }
        rec = _tabular_record(
            {k: v for k, v in row.items() if v is not None} | ({"text": None} if body is None else {}),
            thread=thread,
            source=source,
            span=(0, 0),
            seen=seen,
            where=f"{source or thread}: comment {row['id'] or len(seen)}",
            warn=warn,
        )
        if parent not in (None, ""):
            rec.extra["parent_id"] = parent
        if rec.kind == "comment" and rec.text in _REMOVED:  # reddit's marks of a removed comment
            rec.deleted, rec.text, rec.author = True, "", None
        yield rec
    if not found and doc not in ([], {}):
        raise ExtractError(
            f"{source or thread}: no comment objects with a {fields.text!r} key; name the keys with "
            "--text-field, --id-field, --parent-field and --thread-field, or use --json-preset reddit"
        )


def is_reddit(doc: object) -> bool:
    """Whether a document is Reddit's listing JSON (a listing, or a list of them)."""
    first = doc[0] if isinstance(doc, list) and doc else doc
    return isinstance(first, dict) and first.get("kind") == "Listing"


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterator[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`read_json` with the default mapping."""
    return read_json(text, thread=thread, source=source, warn=warn)
