"""A thread page saved or copied as text, and matome articles exported as text: each post
starts with a header line that holds its number, the poster's name and the date-time.

What the header lines look like::

    12 名無しさん＠お腹いっぱい。 (ﾜｯﾁｮｲ 1a2b-3c4d) 2023/05/01(月) 10:00:00.12 ID:Ab1Cd2Ef0
    12 ：名無しさん：2013/01/01(火) 00:00:00.00 ID:abc          (the <dt>/<dd> pages)
    12 名前：名無しさん 投稿日：05/03/01 12:00 ID:abc             (before 2008)
    12: 名無しさん 2023/01/01(日) 12:00:00.00 ID:ab               (matome articles)
    12 あぼーん                                                  (a deleted post)

A line is a header only when it starts with a post number larger than the last one, has a
date-time, and nothing but an ID, BE points or a host follows the date-time; so a quoted
header (``>3: 名無しさん …``) or a line of a post that mentions a date stays in its post. The
lines before the first header give the title (the first that is not a menu) and ``meta`` records; the
page's footer after the last post (``掲示板に戻る``, ``新着レスの表示``, the ``1001`` notice) is
``meta`` too.

Examples
--------
>>> text = "スレタイ\\n1 名無し 2023/05/01(月) 10:00:00 ID:a\\n本文\\n\\n"
>>> text += "2 名無し 2023/05/01(月) 10:01:00 ID:b\\n>>1\\n乙\\n"
>>> [(r.kind, r.no, r.author, r.reply_to, r.text) for r in read(text, thread="t", source="")]
... # doctest: +NORMALIZE_WHITESPACE
[('title', None, None, [], 'スレタイ'), ('comment', 1, '名無し', [], '本文'),
 ('comment', 2, '名無し', [1], '乙')]
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ...core import Comment, Warn
from ..board_text import URL_RE, clean_lines, is_deletion_notice, iso_time, reply_numbers, stable_id, strip_span
from .dat import line_spans

NAME = "text"
_HEAD_NUMBER = re.compile(r"(\d{1,5})(?=[ \t\u3000:：]|名前)")  # matched after lstrip: no leading blank run
# A date-time as board headers write it; the year has 2 or 4 digits.
_HEAD_DATE = re.compile(
    r"(?<!\d)(?:\d{4}|\d{2})/\d{1,2}/\d{1,2}[ \t]*(?:[(（][^)）\n]{1,4}[)）][ \t]*)?\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
)
_TAIL_TOKEN = ("ID:", "ID：", "BE:", "[", "]", "(", "IP:", "HOST:", "発信元:")
_DELETED_HEAD = ("あぼーん", "うふ～ん", "うふ〜ん", "＜削除＞", "削除")
_FOOTER = ("掲示板に戻る", "新着レスの表示", "read.cgi ver", "全部 前100 次100", "Over 1000 Thread", "■ このスレッドは")
_MENU = (*_FOOTER, "全部", "最新50", "前100", "次100", "このスレッドは")  # not a title
_MAX_HEAD = 300
# The start of a line that may be a header: blanks anchored at the line start, then a number.
_CANDIDATE = re.compile(r"^[ \t\u3000]*(\d{1,5})(?=[ \t\u3000:：]|名前)", re.M)
_SEPARATORS = re.compile(r"[ \t\u3000:：]+")


@dataclass
class Head:
    """A post header line: number, name, date text and whether it marks a deleted post."""

    no: int
    name: str | None
    date: str | None
    deleted: bool


def parse_head(line: str) -> Head | None:
    """The header a line holds, if it is one (see the module docstring).

    Examples
    --------
    >>> parse_head("3 名前：名無しさん 投稿日：05/03/01 12:00 ID:b")
    Head(no=3, name='名無しさん', date='05/03/01 12:00', deleted=False)
    >>> parse_head("5 ：あぼーん：あぼーん").deleted, parse_head("3月 2023/05/01(月) 10:00 に行く")
    (True, None)
    """
    if len(line) > _MAX_HEAD:
        return None
    line = line.lstrip(" \t\u3000")
    m = _HEAD_NUMBER.match(line)
    if m is None:
        return None
    rest = line[m.end() :].strip(" \t\u3000")
    date = _HEAD_DATE.search(rest)
    if date is None:  # a deleted post's header holds nothing but deletion marks
        words = [w for w in _SEPARATORS.split(rest) if w and w not in ("名前", "投稿日")]
        if words and all(w in _DELETED_HEAD or w.startswith("ID") for w in words):
            return Head(int(m.group(1)), None, None, True)
        return None
    tail = rest[date.end() :].strip(" \t\u3000")
    if tail and not tail.startswith(_TAIL_TOKEN):
        return None  # a post's line that mentions a date: something other than an ID follows it
    name = rest[: date.start()].strip(" \t\u3000:：")
    if name.startswith("名前"):
        name = name[2:].lstrip(" :：")
    if name.endswith("投稿日"):
        name = name[:-3].rstrip(" :：\t\u3000")
    return Head(int(m.group(1)), name.strip(" :：\t\u3000") or None, date.group(0), False)


def sniff(sample: str) -> bool:
    """Whether a text has at least three header lines in rising order (two in a short one).

    Examples
    --------
    >>> sniff("1 名無し 2023/05/01(月) 10:00:00\\n本文\\n2 名無し 2023/05/01(月) 10:01:00\\n乙\\n")
    True
    >>> sniff("本文です。\\n>>1\\nそうだね")
    False
    """
    if "<>" in sample[:4096] or sample.lstrip().startswith(("<", "{", "[")):
        return False
    found, last = 0, 0
    lines = sample.split("\n")
    for line in lines[:2000]:
        head = parse_head(line)
        if head is not None and head.no > last:
            found, last = found + 1, head.no
            if found >= 3:
                return True
    return found >= 2 and len(lines) < 40


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`."""
    spans = line_spans(text)
    starts = [a for a, _ in spans]
    heads: list[tuple[int, Head]] = []
    last = k = 0
    for m in _CANDIDATE.finditer(text):  # only lines that start with a number are looked at
        if int(m.group(1)) <= last:
            continue  # not above the last post's number (a quoted header): not a header, whatever follows
        # A match starts a line (after a LF: a line start of line_spans too), later than the last
        # one: its line is found by a forward scan in C from there.
        try:
            k = starts.index(m.start(), k)
        except ValueError:  # not a line start after all (cannot happen with line_spans): look it up
            k = bisect.bisect_right(starts, m.start()) - 1
        if heads and heads[-1][0] == k:
            continue
        a, b = spans[k]
        head = parse_head(text[a:b].rstrip("\r\n"))
        if head is not None and head.no > last:
            heads.append((k, head))
            last = head.no
    seen: dict = {}
    out: list[Comment] = []

    def meta(a: int, b: int) -> None:
        a, b = strip_span(text, a, b)
        if a < b:
            line = text[a:b]
            out.append(Comment(thread, stable_id(thread, "meta", line, seen), None, "meta", line, span=(a, b)))

    first = heads[0][0] if heads else len(spans)
    titled = False
    for a, b in spans[:first]:  # the page's top: the thread title first, then menus
        a, b = strip_span(text, a, b)
        if a >= b:
            continue
        if not titled and heads and not any(mark in text[a:b] for mark in _MENU):
            titled = True
            title = " ".join(text[a:b].split())
            out.append(Comment(thread, stable_id(thread, "title", title, seen), None, "title", title, span=(a, b)))
        else:
            meta(a, b)
    for i, (k, head) in enumerate(heads):
        end = heads[i + 1][0] if i + 1 < len(heads) else len(spans)
        footer = end
        if i + 1 == len(heads):  # the last post ends where the page's footer begins
            for j in range(k + 1, end):
                if any(mark in text[spans[j][0] : spans[j][1]] for mark in _FOOTER):
                    footer = j
                    break
        body_start = spans[k + 1][0] if k + 1 < len(spans) else spans[k][1]
        body_end = spans[footer - 1][1] if footer > k + 1 else body_start
        body = clean_lines(text[body_start:body_end])
        deleted = head.deleted or is_deletion_notice(body)
        reply_to, body = ([], "") if deleted else reply_numbers(body)
        span = strip_span(text, spans[k][0], max(body_end, spans[k][1]))
        out.append(
            Comment(
                thread,
                stable_id(thread, "comment", body or text[spans[k][0] : spans[k][1]], seen),
                head.no,
                "comment",
                body,
                reply_to=reply_to,
                deleted=deleted,
                author=None if deleted else head.name,
                posted_at=None if deleted or head.date is None else iso_time(head.date),
                urls=URL_RE.findall(body) if "tp" in body else [],
                span=span,
            )
        )
        for a, b in spans[footer:end]:
            meta(a, b)
    for rec in out:
        rec.source = source
        rec.source_format = NAME
    return out
