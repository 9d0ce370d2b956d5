"""open2ch (おーぷん2ちゃんねる) thread pages: ``<dl><dt>N ：name：date ID</dt><dd>body</dd>``,
newer pages with the number in ``<dt res="N">``; the title from ``<h1>`` without the site's name.

Examples
--------
>>> page = '<title>スレ - おーぷん2ちゃんねる</title><dl><dt res="2">2 ：名無し：2025/08/01(金)20:41:07 ID:a</dt>'
>>> page += '<dd> どうも<br>よろしく</dd></dl>'
>>> [(r.kind, r.no, r.text) for r in read(page, thread="t", source="")]
[('title', None, 'スレ'), ('comment', 2, 'どうも\\nよろしく')]
"""

from __future__ import annotations

from collections.abc import Iterable

from ...core import Comment, Warn
from ..page import Page, looks_like_page, records
from .fivech import dl_posts

NAME = "open2ch"


def sniff(sample: str) -> bool:
    """Whether a page is an open2ch thread page (its host or its name in the page).

    Examples
    --------
    >>> sniff('<html><title>x - おーぷん2ちゃんねる</title>'), sniff("<html>")
    (True, False)
    """
    low = sample.lower()
    return looks_like_page(sample) and ("open2ch" in low or "おーぷん2ちゃんねる" in sample)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`."""
    page = Page(text)
    posts = dl_posts(page)
    if not posts:
        from .html import read_page  # the other layouts, else meta (html imports this module)

        return read_page(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, posts, thread=thread, source=source, fmt=NAME)
