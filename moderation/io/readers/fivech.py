"""5ch/2ch thread pages of every layout in use since the ``<dt>``/``<dd>`` era.

- ``<dl><dt>N ：name：date ID</dt><dd>body`` (2ch until ~2014, also machi and 0ch pages);
- ``div.post`` with ``div.meta`` (``span.number``, ``span.name``, ``span.date``, ``span.uid``)
  and ``div.message`` (5ch 2015–2023, bbspink);
- ``<article class="post">`` / ``div.post`` with a ``post-header`` (``span.postid``,
  ``span.postusername``, ``span.date``) and a ``post-content`` section (5ch since 2024).

Examples
--------
>>> page = '<h1>スレ</h1><article class="post" id="3"><span class="postid">3</span>'
>>> page += '<span class="postusername"><b>名無し</b></span><span class="date">2024/05/01(水) 12:00:00.00</span>'
>>> page += '<section class="post-content"> &gt;&gt;1 どうも </section></article>'
>>> [(r.kind, r.no, r.author, r.posted_at, r.reply_to, r.text) for r in read(page, thread="t", source="")]
[('title', None, None, None, [], 'スレ'), ('comment', 3, '名無し', '2024-05-01T12:00:00', [1], 'どうも')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...core import Comment, Warn
from ..page import Page, Post, head_author, leading_number, looks_like_page, meta_records, records

NAME = "5ch"
_MARKERS = ("5ch.net", "2ch.net", "bbspink.com", "2ch.sc", "machi.to", "post-content", "read.cgi")


def sniff(sample: str) -> bool:
    """Whether a page is a 5ch/2ch/bbspink thread page: the board's host or its post markup.

    Examples
    --------
    >>> sniff('<html><link href="https://egg.5ch.net/test/read.cgi/x/1/">'), sniff("<html><p>x")
    (True, False)
    """
    low = sample.lower()
    return looks_like_page(sample) and any(marker in low for marker in _MARKERS) and "open2ch" not in low


# The class names of a post's parts, in the order each part is looked for.
_PARTS = {
    "no": ("number", "postid"),
    "name": ("postusername", "name"),
    "date": ("date",),
    "uid": ("uid",),
    "body": ("post-content", "message"),
}


# class name -> (part, rank): a part's first name wins over its later ones.
_CLASS_PART = {name: (key, rank) for key, names in _PARTS.items() for rank, name in enumerate(names)}


def _parts(el) -> dict:
    """The first descendant of ``el`` with each part's class (one pass over the post)."""
    found: dict = {}
    for d in el.iterdescendants():
        classes = d.get("class")
        if not classes:
            continue
        for name in classes.split():
            hit = _CLASS_PART.get(name)
            if hit is not None:
                key, rank = hit
                if key not in found or found[key][0] > rank:
                    found[key] = (rank, d)
    return {key: d for key, (_rank, d) in found.items()}


def div_posts(page: Page) -> list[Post]:
    """Posts of the ``div.post`` / ``article.post`` layouts (old and new 5ch)."""
    posts: list[Post] = []
    taken: set = set()
    for el in page.find("div", "article", cls="post"):
        if any(a in taken for a in el.iterancestors()):
            continue
        parts = _parts(el)
        body = parts.pop("body", None)
        if body is None:
            continue
        taken.add(el)
        texts = {key: page.flat_text(parts[key]) if key in parts else "" for key in ("no", "name", "date", "uid")}
        no = leading_number(texts["no"])
        if no is None:
            no = leading_number(el.get("data-id") or el.get("id") or "")
        head = " ".join(t for t in texts.values() if t)
        posts.append(
            Post(
                span=page.span(el),
                head=head,
                body=page.inner_text(body),
                no=no,
                author=texts["name"] or None,
                date=texts["date"] or head,
            )
        )
    return posts


def dl_posts(page: Page, under=None) -> list[Post]:
    """Posts of the ``<dt>`` header / ``<dd>`` body layout (old 2ch, open2ch, shitaraba, machi),
    in the whole page or in the element ``under``."""
    posts: list[Post] = []
    for dt in page.find("dt", under=under):
        dd = dt.getnext()
        while dd is not None and not isinstance(dd.tag, str):
            dd = dd.getnext()
        if dd is None or dd.tag != "dd":
            continue
        head = page.flat_text(dt)
        no = leading_number(dt.get("res") or "") or leading_number(head)
        if no is None and not re.search(r"\d", head):
            continue  # a definition list that is not a thread
        posts.append(
            Post(
                span=page.span(dt, dd),
                head=head,
                body=page.inner_text(dd),
                no=no,
                author=head_author(head),
                date=head,
            )
        )
    return posts


def page_posts(page: Page) -> list[Post]:
    """The posts of any 5ch layout: the ``div``/``article`` ones first, else ``<dt>``/``<dd>``."""
    return div_posts(page) or dl_posts(page)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: title and posts of a 5ch page;
    a page in none of its layouts comes out as ``meta`` records (with a warning)."""
    page = Page(text)
    posts = page_posts(page)
    if not posts:
        return meta_records(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, posts, thread=thread, source=source, fmt=NAME)
