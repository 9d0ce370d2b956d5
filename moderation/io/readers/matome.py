"""Matome-blog exports (まとめブログ): thread posts re-published in a blog article.

The common templates (livedoor Blog and its clones) give each post a header block
``div.t_h`` (``12: 名無しさん 2023/01/01(日) 12:00:00.00 ID:abc``) followed by its body block
``div.t_b``; others put ``<dt>``/``<dd>`` pairs in the article body. Only those blocks are
read: the blog's menus, sidebars and reader comments are not posts of the thread.

Examples
--------
>>> page = '<title>【悲報】スレ : まとめ速報</title><div class="article-body">'
>>> page += '<div class="t_h">1: 名無しさん 2023/01/01(日) 12:00:00.00 ID:ab</div><div class="t_b">立てた</div>'
>>> page += '<div class="t_h">5: 名無しさん 2023/01/01(日) 12:01:00.00 ID:cd</div>'
>>> page += '<div class="t_b">&gt;&gt;1<br>乙</div>'
>>> [(r.kind, r.no, r.author, r.reply_to, r.text) for r in read(page, thread="t", source="")]
... # doctest: +NORMALIZE_WHITESPACE
[('title', None, None, [], '【悲報】スレ'), ('comment', 1, '名無しさん', [], '立てた'),
 ('comment', 5, '名無しさん', [1], '乙')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...core import Comment, Warn
from ..page import Page, Post, leading_number, looks_like_page, records
from .fivech import dl_posts

NAME = "matome"
_MARKERS = ('class="t_h"', "class=t_h", 'class="t_b"', "livedoor.blog", "blog.jp", "ldblog")
_HEAD_DATE = re.compile(r"\d{2,4}/\d{1,2}/\d{1,2}")
_LEAD = re.compile(r"\d{1,7}\s*(?:[:：]\s*)?")
_ARTICLE = (
    "//*[contains(@class, 'article-body') or contains(@class, 'entry-content') or contains(@class, 'article_body')"
    " or contains(@id, 'article-contents') or contains(@class, 'entry-body')]"
)


#: Where the article's title is: its heading in the blog's templates, else ``<h1>``/``<title>``.
TITLE_PATHS = (
    "//*[contains(@class, 'article-title') or contains(@class, 'entry-title')]",
    "//h1",
    "//title",
)


def sniff(sample: str) -> bool:
    """Whether a page is a matome-blog article with ``t_h``/``t_b`` post blocks or a blog host.

    Examples
    --------
    >>> sniff('<html><div class="t_h">1: 名無し</div>'), sniff("<html>")
    (True, False)
    """
    low = sample.lower()
    return looks_like_page(sample) and any(marker in low for marker in _MARKERS)


def split_head(head: str) -> tuple[int | None, str | None]:
    """The number and the poster's name of a matome header line.

    Examples
    --------
    >>> split_head("12: 風吹けば名無し 2023/01/01(日) 12:00:00.00 ID:ab")
    (12, '風吹けば名無し')
    """
    no = leading_number(head)
    head = head.lstrip()
    lead = _LEAD.match(head)
    rest = head[lead.end() :] if lead and no is not None else head
    date = _HEAD_DATE.search(rest)
    if date:
        end = date.start()
    else:  # "7: 名無しさん" or "7: 名無しさん ID:ab": blogs often drop the date
        end = rest.find("ID:") if "ID:" in rest else len(rest)
    name = rest[:end].strip(" :：\u3000")
    return no, name or None


def th_posts(page: Page) -> list[Post]:
    """Posts of the ``div.t_h`` / ``div.t_b`` template."""
    out: list[Post] = []
    for th in page.find(cls="t_h"):
        tb = th.getnext()
        while tb is not None and (not isinstance(tb.tag, str) or tb.tag.lower() == "br"):
            tb = tb.getnext()
        if tb is None or "t_b" not in (tb.get("class") or "").split():
            continue
        head = page.flat_text(th)
        no, name = split_head(head)
        out.append(Post(span=page.span(th, tb), head=head, body=page.inner_text(tb), no=no, author=name, date=head))
    return out


def posts(page: Page) -> list[Post]:
    """``t_h``/``t_b`` posts, else ``<dt>``/``<dd>`` posts inside the article body."""
    found = th_posts(page)
    if found:
        return found
    for article in page.xpath(_ARTICLE):
        found = dl_posts(page, article, strict=False)
        if found:
            for post in found:
                post.no, post.author = split_head(post.head)
            return found
    return []


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`."""
    page = Page(text)
    found = posts(page)
    if not found:
        from .html import read_page  # the other layouts, else meta (html imports this module)

        return read_page(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, found, thread=thread, source=source, fmt=NAME, title_paths=TITLE_PATHS)
