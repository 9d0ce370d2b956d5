"""Shitaraba (したらば, JBBS) thread pages: ``<dl id="thread-body"><dt>N ：name：date ID</dt>
<dd>body</dd>``, numbers kept as the page shows them (gaps stay gaps), ``＜削除＞`` posts flagged.

Examples
--------
>>> page = '<title>スレ - したらば掲示板</title><dl id="thread-body"><dt><a href="x">5</a>：<b>名無し</b>'
>>> page += '：2011/10/21(金) 12:00:00 ID:ab</dt><dd> 本文 <br><br></dd><dt>7：＜削除＞：＜削除＞</dt><dd>＜削除＞</dd>'
>>> [(r.kind, r.no, r.deleted, r.text) for r in read(page, thread="t", source="")]
[('title', None, False, 'スレ'), ('comment', 5, False, '本文'), ('comment', 7, True, '')]
"""

from __future__ import annotations

from collections.abc import Iterable

from ...core import Comment, Warn
from ..page import Page, looks_like_page, records
from .fivech import dl_posts

NAME = "shitaraba"
_MARKERS = ("shitaraba", "jbbs.livedoor", "したらば")


def sniff(sample: str) -> bool:
    """Whether a page is a shitaraba/JBBS thread page.

    Examples
    --------
    >>> sniff('<html><a href="https://jbbs.shitaraba.net/bbs/read.cgi/x/1/2/">'), sniff("<html>")
    (True, False)
    """
    low = sample.lower()
    return looks_like_page(sample) and any(marker in low for marker in _MARKERS)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`."""
    page = Page(text)
    bodies = [el for el in page.find("dl", "div") if el.get("id") == "thread-body"]
    posts = [post for body in bodies for post in dl_posts(page, body)] or dl_posts(page)
    if not posts:
        from .html import read_page  # the other layouts, else meta (html imports fivech)

        return read_page(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, posts, thread=thread, source=source, fmt=NAME)
