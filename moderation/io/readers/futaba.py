"""Futaba (ふたば☆ちゃんねる, 2chan.net) thread pages and their clones.

The opening post sits in ``div.thre`` (or directly in the delete form on older pages), each
reply in a ``<table><td class="rtd">``; the header gives the name (``span.cnm`` or after
``Name``), the date with a two-digit year (``25/11/08(土)13:42:53``) and the post number
``No.1364612084``, which is the post's ``no``. The body is the ``<blockquote>``; quoted
lines (``>…``) are part of it. Replies hidden as deleted (``table.deleted``) are flagged.

Examples
--------
>>> page = '<title>スレ - 二次元裏＠ふたば</title><div class="thre">Name<span class="cnm">としあき</span>'
>>> page += '<span class="cnw">25/11/08(土)13:42:53</span><span class="cno">No.100</span>'
>>> page += '<blockquote>立てた</blockquote>'
>>> page += '<table><tr><td class="rtd">Name としあき 25/11/08(土)13:43:10 No.101<blockquote>'
>>> page += '<font>&gt;立てた</font><br>乙</blockquote></td></tr></table></div>'
>>> [(r.kind, r.no, r.author, r.posted_at, r.text) for r in read(page, thread="t", source="")]
... # doctest: +NORMALIZE_WHITESPACE
[('title', None, None, None, 'スレ'), ('comment', 100, 'としあき', '2025-11-08T13:42:53', '立てた'),
 ('comment', 101, 'としあき', '2025-11-08T13:43:10', '>立てた\\n乙')]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from ...core import Comment, Warn
from ..board_text import TAG, strip_span, unescape
from ..page import BR_MARK, Page, Post, has_class, looks_like_page, records

NAME = "futaba"
_MARKERS = ("2chan.net", "futaba.php", 'class="thre"', "class=thre", 'class="cnw"', "class=rtd", 'class="rtd"')
_NUMBER = re.compile(r"No\.\s?(\d{1,12})")
_DATE = re.compile(r"\d{2,4}/\d{1,2}/\d{1,2}")
_STOP = frozenset({"table", "hr", "blockquote", "form"})


def sniff(sample: str) -> bool:
    """Whether a page is a futaba thread page.

    Examples
    --------
    >>> sniff('<html><form action="futaba.php?guid=on">'), sniff("<html>")
    (True, False)
    """
    low = sample.lower()
    return looks_like_page(sample) and any(marker in low for marker in _MARKERS)


def _head(quote) -> tuple[str, list, object]:
    """The header before ``quote`` in its parent (back to a table, rule or earlier post) as
    one line of text, the header's elements (for the span) and its ``span.cnm`` (the name) if any."""
    nodes: list = []
    name_el = None
    node = quote.getprevious()
    lead = None
    while node is not None:
        if node.tag in _STOP:
            lead = node.tail
            break
        nodes.append(node)
        if name_el is None and "cnm" in (node.get("class") or "").split():
            name_el = node
        node = node.getprevious()
    else:
        parent = quote.getparent()
        lead = parent.text if parent is not None else None
    nodes.reverse()
    text = (lead or "") + "".join(_text_with_tail(n) for n in nodes)
    return " ".join(text.replace(BR_MARK, " ").split()), nodes, name_el


def _reply_head(page: Page, cell, quote) -> tuple[str, str | None]:
    """A reply's header as one line of text, and its ``span.cnm`` name, cut from the page's
    source between the reply's cell and its quote (one slice instead of a walk over the
    header's elements); empty when the offsets do not frame a header."""
    start, end = page.offset(cell), page.offset(quote)
    if not 0 <= end - start <= 4096:
        return "", None
    html = page.blanked[start:end]
    name = None
    at = html.find("cnm")
    if at >= 0:
        opened = html.find(">", at)
        closed = html.find("</span", opened)
        if opened >= 0 and closed >= 0:
            name = " ".join(unescape(TAG.sub("", html[opened + 1 : closed])).split()) or None
    text = unescape(TAG.sub(" ", html)).replace(BR_MARK, " ")
    return " ".join(text.split()), name


def _text_with_tail(el) -> str:
    from lxml import etree

    global _text_with_tail
    _text_with_tail = functools.partial(etree.tostring, encoding="unicode", method="text", with_tail=True)
    return _text_with_tail(el)


def _author(page: Page, name_el, head: str, date_at: int) -> str | None:
    """The poster's name: ``span.cnm`` (pages since 2019), else the text between ``Name`` and
    the date (older pages, where it is a bold ``<font>``)."""
    if name_el is not None:
        return page.flat_text(name_el) or None
    at = head.find("Name")
    if at < 0 or date_at <= at:
        return None
    return head[at + 4 : date_at].strip() or None


def posts(page: Page) -> list[Post]:
    """The opening post and the replies of a futaba thread page."""
    out: list[Post] = []
    for quote in page.find("blockquote"):
        if quote.getparent() is None:
            continue
        cell = next(quote.iterancestors("td"), None)
        head: str = ""
        nodes: list = []
        name_el = author = None
        if cell is not None:  # a reply: its header read from the source, between the cell and the quote
            head, author = _reply_head(page, cell, quote)
        numbers = _NUMBER.findall(head)
        date = _DATE.search(head)
        if not numbers or date is None:
            head, nodes, name_el = _head(quote)
            numbers = _NUMBER.findall(head)
            date = _DATE.search(head)
            author = None
        if not numbers or date is None:
            continue  # a quotation somewhere else on the page, not a post
        table = next(quote.iterancestors("table"), None) if cell is not None else None
        deleted = bool(table is not None and has_class(table, "deleted"))
        if cell is not None:  # the cell's start to the quote's end tag: no walk to the next element
            span = strip_span(page.text, page.offset(cell), page.close(quote))
        else:
            span = page.span(nodes[0] if nodes else quote, quote)
        out.append(
            Post(
                span=span,
                head=head,
                body=page.inner_text(quote),
                no=int(numbers[-1]),
                author=author or _author(page, name_el, head, date.start()),
                date=head[date.start() :] if date else "",
                deleted=deleted,
            )
        )
    return out


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`."""
    page = Page(text)
    found = posts(page)
    if not found:
        from .html import read_page  # the other layouts, else meta (html imports this module)

        return read_page(page, thread=thread, source=source, warn=warn, fmt=NAME)
    return records(page, found, thread=thread, source=source, fmt=NAME)
