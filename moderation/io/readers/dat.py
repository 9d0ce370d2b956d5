"""``.dat`` threads: one post per line, in the dialects of 2ch/5ch, 0ch/ex0ch and bbspink
(``name<>mail<>date ID<>body<>title``) and of shitaraba/JBBS and machi, which put the post
number first (``no<>name<>mail<>date<>body<>title<>ID``).

Examples
--------
>>> recs = parse_dat("名無し<>sage<>2025/08/01(金) 12:00:00.00 ID:ab<> >>1 どうも <>\\n")
>>> [(r.no, r.reply_to, r.text) for r in recs]
[(1, [1], 'どうも')]
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass

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


def sniff(sample: str) -> bool:
    """Whether the start of a file reads as a ``.dat`` thread: at least half of its first
    non-blank lines have four ``<>`` separators.

    Examples
    --------
    >>> sniff("名無し<>sage<>2025/08/01<>本文<>スレ\\n"), sniff("ただの文章")
    (True, False)
    """
    lines = head_lines(sample)
    return bool(lines) and sum(ln.count("<>") >= 4 for ln in lines) >= max(1, len(lines) // 2)


@dataclass(frozen=True)
class Dialect:
    """Where a dialect of ``.dat`` keeps each field of a record.

    Parameters
    ----------
    name : str
        ``2ch`` (2ch/5ch, 0ch/ex0ch, bbspink: ``name<>mail<>date ID<>body<>title``) or
        ``numbered`` (shitaraba/JBBS ``no<>name<>mail<>date<>body<>title<>ID`` and machi
        ``no<>name<>mail<>date ID<>body<>title``).
    separators : int
        The ``<>`` a complete record has at least.
    """

    name: str
    separators: int
    numbered: bool


DAT_2CH = Dialect("2ch", 4, numbered=False)
DAT_NUMBERED = Dialect("numbered", 5, numbered=True)
_NUMBERED_HEAD = re.compile(r"(\d{1,7})<>")


def detect_dialect(lines: list[str]) -> Dialect:
    """The dialect of a ``.dat`` from its records: numbered when most start with a post
    number and have the six or seven fields of shitaraba and machi, in rising order.

    Examples
    --------
    >>> detect_dialect(["1<>名無し<>sage<>2011/10/21(金) 12:00:00<>本文<>スレ<>abc"]).name
    'numbered'
    >>> detect_dialect(["1<>sage<>2025/08/01 12:00<>本文<>スレ"]).name
    '2ch'
    """
    numbers = []
    records = [ln for ln in lines if ln.strip()][:50]
    for ln in records:
        m = _NUMBERED_HEAD.match(ln)
        if m and ln.count("<>") >= DAT_NUMBERED.separators:
            numbers.append(int(m.group(1)))
    rising = all(a < b for a, b in itertools.pairwise(numbers))
    return DAT_NUMBERED if records and len(numbers) * 2 > len(records) and rising else DAT_2CH


def _is_board_notice(date: str) -> bool:
    """The board's own line after the last post (``1001<><>Over 1000 Thread<>…``, a moved
    thread's ``移転``): a notice, kept as ``meta``, not a post."""
    low = date.lower()
    return "over 1000" in low or (date.strip() in ("移転", "移転済", "移転しました") and not iso_time(date))


_DELETION_KEYS = ("あぼ", "うふ", "削除")


def _is_deleted(name: str, date: str, body_text: str) -> bool:
    """A deleted post as the dialects mark it: ``あぼーん`` (2ch), ``うふ～ん`` and ``ID:DELETED``
    (bbspink), ``＜削除＞`` (shitaraba), or a deletion notice as the whole body."""
    if (
        "あぼ" not in name
        and "うふ" not in name
        and "削除" not in name
        and "あぼ" not in body_text
        and "うふ" not in body_text
        and "削除" not in body_text
        and "DELETED" not in date
    ):
        return False  # every mark and notice holds one of _DELETION_KEYS: most posts end here
    if is_deletion_notice(body_text):
        return True
    for mark in ("あぼーん", "うふ～ん", "うふ〜ん", "＜削除＞"):
        if mark in name and mark in date:
            return True
    return "ID:DELETED" in date and not body_text.strip("　 ")


_LINE_END = re.compile(r"\r\n|\r|\n")


def line_spans(text: str) -> list[tuple[int, int]]:
    r"""``(start, end)`` of each line, its end of line included: LF, CRLF or a lone CR, mixed
    as they come. Not ``str.splitlines``, which also breaks at U+2028, NEL and form feeds,
    characters a post's body may hold.

    Examples
    --------
    >>> line_spans("a\r\nb\rc\u2028d\n")
    [(0, 3), (3, 5), (5, 9)]
    """
    if "\r" not in text:  # line i starts after i line breaks and the lengths of the lines before it
        lengths = itertools.accumulate(map(len, text.split("\n")), initial=0)
        bounds = list(map(operator.add, lengths, itertools.count()))
        bounds[-1] = len(text)  # the last line has no line break
        out = list(itertools.pairwise(bounds))
        if out[-1][0] >= len(text):
            out.pop()
        return out
    out, pos = [], 0
    for m in _LINE_END.finditer(text):
        out.append((pos, m.end()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def _physical_records(text: str, dialect: Dialect) -> list[tuple[int, int, int]]:
    """``(start, end, physical line number)`` of each record; a record broken across two
    lines is rejoined when each half lacks separators and together they have exactly enough."""
    lines = line_spans(text)
    out: list[tuple[int, int, int]] = []
    need = dialect.separators
    k = 0
    while k < len(lines):
        a, b = lines[k]
        count = text.count("<>", a, b)
        if 0 < count < need and k + 1 < len(lines):
            a2, b2 = lines[k + 1]
            count2 = text.count("<>", a2, b2)
            starts_record = bool(_NUMBERED_HEAD.match(text, a2)) if dialect.numbered else False
            if 0 < count2 < need and count + count2 in (need, need + 1, need + 2) and not starts_record:
                out.append((a, b2, k + 1))
                k += 2
                continue
        out.append((a, b, k + 1))
        k += 1
    return out


def parse_dat(
    text: str, *, thread: str = "thread", source: str = "", warn: Warn | None = None, dialect: Dialect | None = None
) -> list[Comment]:
    """Read a ``.dat`` thread in any of its dialects (see :class:`Dialect`).

    In 2ch/5ch dats line *n* is post *n*; numbered dats (shitaraba, machi) give each post's
    number, and gaps stay gaps. Deleted posts (``あぼーん``, ``うふ～ん``, ``ID:DELETED``,
    ``＜削除＞``) are flagged with empty text. The first record's title field is the thread
    title (its own ``title`` record). A record broken across two lines is rejoined when that is
    unambiguous; any other line that is not in the format comes out as a ``meta`` record,
    never lost.

    Parameters
    ----------
    text : str
        The decoded file.
    thread, source : str
        Thread id and source path written into every record.
    warn : callable, optional
        Told about each line kept as ``meta``.
    dialect : Dialect, optional
        Default: detected from the content (:func:`detect_dialect`).

    Returns
    -------
    list of Comment

    Examples
    --------
    >>> recs = parse_dat("名無し<>sage<>2025/08/01(金) 12:00:00.00 ID:ab<> 本文 <br> 二行目 <>スレ\\n")
    >>> [(r.kind, r.no, r.text) for r in recs]
    [('title', None, 'スレ'), ('comment', 1, '本文\\n二行目')]
    >>> gone = "<>".join(["＜削除＞"] * 4)
    >>> recs = parse_dat(f"1<>名無し<><>11/10/21(金) 12:00:00<>一<>スレ<>ab\\n3<>{gone}<><>\\n")
    >>> [(r.no, r.deleted, r.posted_at) for r in recs if r.kind == "comment"]
    [(1, False, '2011-10-21T12:00:00'), (3, True, None)]
    """
    dialect = dialect or detect_dialect([text[a:b] for a, b in line_spans(text[:65536])])
    records: list[Comment] = []
    seen: dict = {}
    authors: dict[str, str | None] = {}  # a thread has few names: each one's text found once
    rejoined = 0
    titled = False
    numbered = dialect.numbered
    least = 5 if numbered else 4
    for start, end, line_no in _physical_records(text, dialect):
        raw = text[start:end]
        stripped = raw.strip()  # strip_span's result, found by str.strip (no loop in Python)
        if not stripped:
            continue
        start += len(raw) - len(raw.lstrip())
        end = start + len(stripped)
        raw = stripped
        fields = raw.split("<>")
        num = _NUMBERED_HEAD.match(raw) if numbered else None
        if len(fields) < least or (numbered and num is None):
            if warn:
                warn(f"{source or thread}: line {line_no} is not a {dialect.name} .dat record; kept as meta")
            records.append(
                Comment(
                    thread, stable_id(thread, "meta", raw, seen), None, "meta", raw, span=(start, end), source=source
                )
            )
            continue
        if num is not None:
            no = int(num.group(1))
            del fields[0]
        else:
            no = line_no - rejoined
        if "\n" in raw or "\r" in raw:  # a record rejoined from two lines: the break was a line of its body
            rejoined += 1
            fields = raw.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>").split("<>")
            fields = fields[1:] if num else fields
        name, _mail, date, body = fields[0], fields[1], fields[2], fields[3]
        if _is_board_notice(date):
            records.append(
                Comment(
                    thread, stable_id(thread, "meta", raw, seen), None, "meta", raw, span=(start, end), source=source
                )
            )
            continue
        if not titled:
            titled = True
            title_field = fields[4] if len(fields) > 4 else ""
            t = html_to_text(title_field).replace("\n", " ")
            if t:
                found = title_field in raw
                tstart = start + raw.rfind(title_field) if found else start
                records.append(
                    Comment(
                        thread,
                        stable_id(thread, "title", t, seen),
                        None,
                        "title",
                        t,
                        span=strip_span(text, tstart, tstart + len(title_field)) if found else (start, end),
                        source=source,
                    )
                )
        body_text = html_to_text(body)
        if _is_deleted(name, date, body_text):
            records.append(
                Comment(
                    thread,
                    stable_id(thread, "comment", raw, seen),
                    no,
                    "comment",
                    "",
                    deleted=True,
                    span=(start, end),
                    source=source,
                )
            )
            continue
        reply_to, body_text = reply_numbers(body_text)
        records.append(
            Comment(
                thread,
                stable_id(thread, "comment", body_text or raw, seen),
                no,
                "comment",
                body_text,
                reply_to=reply_to,
                author=authors[name] if name in authors else authors.setdefault(name, html_to_text(name) or None),
                posted_at=iso_time(date),
                urls=URL_RE.findall(body_text) if "tp" in body_text else [],
                span=(start, end),
                source=source,
            )
        )
    return records


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`parse_dat`."""
    return parse_dat(text, thread=thread, source=source, warn=warn)
