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
from ..page import Page, Post, head_author, is_post_head, leading_number, looks_like_page, records

NAME = "5ch"
_MARKERS = ("5ch.net", "2ch.net", "bbspink.com", "2ch.sc", "machi.to", "read.cgi", "threadview_response")


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
        if no is None:
            continue  # a blog's article.post with a post-content: no post number, not a board post
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


def dl_posts(page: Page, under=None, *, strict: bool = True) -> list[Post]:
    """Posts of the ``<dt>`` header / ``<dd>`` body layout (old 2ch, open2ch, shitaraba, machi),
    in the whole page or in the element ``under``. A ``<dt>`` counts as a post's header only
    when it reads as one (:func:`moderation.io.page.is_post_head`; with ``strict=False``, when
    it starts with a number), so a glossary or a FAQ is not read as a thread."""
    posts: list[Post] = []
    for dt in page.find("dt", under=under):
        dd = dt.getnext()
        while dd is not None and not isinstance(dd.tag, str):
            dd = dd.getnext()
        if dd is None or dd.tag != "dd":
            continue
        head = page.flat_text(dt)
        res = leading_number(dt.get("res") or "")
        if res is None and not (is_post_head(head) if strict else leading_number(head) is not None):
            continue  # a definition list that is not a thread
        no = res if res is not None else leading_number(head)
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


_LI_PARTS = {
    "no": "threadview_response_info_no",
    "name": "threadview_response_info_name",
    "date": "threadview_response_info_date",
}


def li_posts(page: Page) -> list[Post]:
    """Posts of 5ch's smartphone pages (itest.5ch.net saved from a browser): ``li.threadview_response``
    with a ``threadview_response_info`` header (``0012 名無しさん(ID) 2025/10/27(月) 18:36:16.48``)
    and a ``threadview_response_body``; the ads among them (``li.res_ad``) are left out."""
    posts: list[Post] = []
    for li in page.find("li", cls="threadview_response"):
        classes = (li.get("class") or "").split()
        if "res_ad" in classes:
            continue
        info = body = None
        named: dict = {}
        for d in li.iterdescendants():
            for name in (d.get("class") or "").split():
                if name == "threadview_response_info" and info is None:
                    info = d
                elif name in ("threadview_response_body", "threadview_response_detail") and body is None:
                    body = d
                else:
                    for key, wanted in _LI_PARTS.items():
                        if name == wanted and key not in named:
                            named[key] = page.flat_text(d)
        if body is None or info is None:
            continue
        head = page.flat_text(info)
        no = leading_number(named.get("no", "")) or leading_number(head)
        if no is None:
            no = leading_number((li.get("id") or "").removeprefix("res_"))
        if no is None:
            continue
        author = named.get("name")
        if author is None:  # "12 名無しさん(ID) 2025/…": the name runs to the ID or the date
            rest = head.lstrip("0123456789 ")
            cut = min((i for i in (rest.find("("), rest.find("（"), _date_at(rest)) if i >= 0), default=-1)
            author = rest[:cut].strip() if cut > 0 else None
        posts.append(
            Post(
                span=page.span(li),
                head=head,
                body=page.inner_text(body),
                no=no,
                author=author or None,
                date=named.get("date") or head,
            )
        )
    return posts


def _date_at(text: str) -> int:
    m = _DATE_START.search(text)
    return m.start() if m else -1


_DATE_START = re.compile(r"\d{2,4}/\d{1,2}/\d{1,2}")


def page_posts(page: Page) -> list[Post]:
    """The posts of any 5ch layout: ``div``/``article`` posts, else the smartphone ``li`` posts,
    else ``<dt>``/``<dd>``."""
    return div_posts(page) or li_posts(page) or dl_posts(page)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: title and posts of a 5ch page;
    a page in none of its layouts comes out as ``meta`` records (with a warning)."""
    page = Page(text)
    posts = page_posts(page)
    if not posts:
        from .html import read_page  # the other layouts, else meta (html imports this module)

        return read_page(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, posts, thread=thread, source=source, fmt=NAME)
