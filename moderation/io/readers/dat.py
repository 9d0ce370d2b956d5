"""2ch/5ch ``.dat`` threads: one post per line, ``name<>mail<>date ID<>body<>title``.

Examples
--------
>>> recs = parse_dat("名無し<>sage<>2025/08/01(金) 12:00:00.00 ID:ab<> >>1 どうも <>\\n")
>>> [(r.no, r.reply_to, r.text) for r in recs]
[(1, [1], 'どうも')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...core import Comment, Warn
from ..board_text import (
    URL_RE,
    head_lines,
    html_to_text,
    is_deletion_notice,
    iso_time,
    reply_numbers,
    stable_id,
    strip_span,
)

_DAT_LINE = re.compile(r"^[^\n]*<>[^\n]*<>[^\n]*<>[^\n]*<>", re.M)


def sniff(sample: str) -> bool:
    """Whether the start of a file reads as a ``.dat`` thread: at least half of its first
    non-blank lines have four ``<>`` separators.

    Examples
    --------
    >>> sniff("名無し<>sage<>2025/08/01<>本文<>スレ\\n"), sniff("ただの文章")
    (True, False)
    """
    lines = head_lines(sample)
    return bool(lines) and sum(bool(_DAT_LINE.match(ln)) for ln in lines) >= max(1, len(lines) // 2)


def parse_dat(text: str, *, thread: str = "thread", source: str = "") -> list[Comment]:
    """Read a 2ch/5ch ``.dat`` thread: ``name<>mail<>date ID<>body<>title`` per line.

    Line *n* is post *n*; ``あぼーん`` lines are deleted posts; the first line's last field
    is the thread title (its own ``title`` record). A line that is not in the format
    comes out as a ``meta`` record, never lost.

    Parameters
    ----------
    text : str
        The decoded file.
    thread, source : str
        Thread id and source path written into every record.

    Returns
    -------
    list of Comment

    Examples
    --------
    >>> recs = parse_dat("名無し<>sage<>2025/08/01(金) 12:00:00.00 ID:ab<> 本文 <br> 二行目 <>スレ\\n")
    >>> [(r.kind, r.no, r.text) for r in recs]
    [('title', None, 'スレ'), ('comment', 1, '本文\\n二行目')]
    """
    records: list[Comment] = []
    seen: dict = {}
    pos = 0
    for no, line in enumerate(text.splitlines(keepends=True), start=1):
        start, end = strip_span(text, pos, pos + len(line))
        pos += len(line)
        if start >= end:
            continue
        raw = text[start:end]
        fields = raw.split("<>")
        if len(fields) < 4:
            records.append(
                Comment(thread, stable_id(thread, "meta", raw, seen), no, "meta", raw, span=(start, end), source=source)
            )
            continue
        name, _mail, date, body = fields[0], fields[1], fields[2], fields[3]
        title = fields[4].strip() if len(fields) > 4 else ""
        if no == 1 and title:
            t = html_to_text(title)
            tstart = start + raw.rfind(fields[4])
            records.append(
                Comment(
                    thread,
                    stable_id(thread, "title", t, seen),
                    None,
                    "title",
                    t,
                    span=strip_span(text, tstart, tstart + len(fields[4])),
                    source=source,
                )
            )
        deleted = ("あぼーん" in name and "あぼーん" in date) or is_deletion_notice(html_to_text(body))
        reply_to, body_text = reply_numbers(html_to_text(body))
        if deleted:
            reply_to, body_text = [], ""
        author = html_to_text(name) or None
        records.append(
            Comment(
                thread,
                stable_id(thread, "comment", body_text or raw, seen),
                no,
                "comment",
                body_text,
                reply_to=reply_to,
                deleted=deleted,
                author=None if deleted else author,
                posted_at=None if deleted else iso_time(date),
                urls=URL_RE.findall(body_text),
                span=(start, end),
                source=source,
            )
        )
    return records


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`parse_dat` (``warn`` is unused)."""
    return parse_dat(text, thread=thread, source=source)
