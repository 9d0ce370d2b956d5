"""Saved thread pages of any board this package knows, and honest output for the others.

The page is parsed once (:class:`moderation.io.page.Page`) and each known layout is tried
in turn: futaba, 5ch's ``div``/``article`` posts, matome ``t_h``/``t_b`` blocks, then the
``<dt>``/``<dd>`` layout of old 2ch, open2ch, shitaraba and machi. Records say which layout
was read in ``source_format``. A page in none of them gives its title and ``meta`` records
(its menus and navigation cannot be told from posts), never ``comment``, and a warning.

Examples
--------
>>> page = '<h1>スレ</h1><div class="post" id="1"><div class="message">どうも</div></div>'
>>> [(r.kind, r.text, r.source_format) for r in parse_html(page)]
[('title', 'スレ', '5ch'), ('comment', 'どうも', '5ch')]
>>> [r.kind for r in parse_html("<html><body><p>ホーム</p><p>ログイン</p></body></html>")]
['meta', 'meta']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...core import Comment, Warn
from ..page import Page, Post, looks_like_page, meta_records, records
from . import fivech, futaba, matome

NAME = "html"

#: The layouts tried on a page, in order: (format name, posts of the page).
LAYOUTS: tuple[tuple[str, Callable[[Page], list[Post]]], ...] = (
    (futaba.NAME, futaba.posts),
    (fivech.NAME, fivech.div_posts),
    (fivech.NAME, fivech.li_posts),
    (matome.NAME, matome.th_posts),
    (fivech.NAME, fivech.dl_posts),
)


def sniff(sample: str) -> bool:
    """Whether the start of a file reads as an HTML page (see :func:`moderation.io.page.looks_like_page`).

    Examples
    --------
    >>> sniff("<!DOCTYPE html><html>"), sniff("<dl><dt>1</dt><dd>本文<br>二行目"), sniff("a<>b<>c<>d<>")
    (True, True, False)
    """
    return looks_like_page(sample)


def parse_html(text: str, *, thread: str = "thread", source: str = "", warn: Warn | None = None) -> list[Comment]:
    """Read a saved thread page in any known layout; ``meta`` records for an unknown one.

    Parameters
    ----------
    text : str
        The decoded page.
    thread, source : str
        Thread id and source path written into every record.
    warn : callable, optional
        Told when no layout matched.

    Returns
    -------
    list of Comment
        The title first (from ``<h1>``, else ``<title>``), then the posts; spans index the page.

    Examples
    --------
    >>> page = '<title>スレ</title><dl><dt>1 ：名無し：2025/08/01(金) 12:00:00</dt><dd> こんにちは </dd></dl>'
    >>> [(r.kind, r.no, r.text) for r in parse_html(page)]
    [('title', None, 'スレ'), ('comment', 1, 'こんにちは')]
    """
    return read_page(Page(text), thread=thread, source=source, warn=warn)


def read_page(page: Page, *, thread: str, source: str, warn: Warn | None = None, fmt: str = NAME) -> list[Comment]:
    """The records of a parsed page in the first layout of :data:`LAYOUTS` that finds posts;
    the title and ``meta`` records (and a warning) when none does. The board readers end here
    when their own layout finds nothing, so a page saved from one board in another's layout
    (or a layout they do not know) is still read, or honestly refused.

    Parameters
    ----------
    page : Page
    thread, source : str
    warn : callable, optional
    fmt : str
        The format named in ``source_format`` when no layout matched.
    """
    for name, posts_of in LAYOUTS:
        posts = posts_of(page)
        if posts:
            paths = matome.TITLE_PATHS if name == matome.NAME else ("//h1", "//title")
            return records(page, posts, thread=thread, source=source, fmt=name, title_paths=paths)
    return meta_records(page, thread=thread, source=source, warn=warn, fmt=fmt)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`parse_html`."""
    return parse_html(text, thread=thread, source=source, warn=warn)
