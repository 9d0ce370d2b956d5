"""Saved thread pages as a parsed tree, shared by the page readers (5ch, open2ch, shitaraba,
futaba, matome blogs and the generic ``html`` reader).

Pages are parsed with lxml (libxml2's HTML parser: linear, forgiving of the unclosed
``<dt>``/``<dd>`` of old boards). lxml knows each element's source line (up to 65535) but not
its column, so :meth:`Page.offset` matches the start tags of a name found in the source to the
parsed elements of that name in document order, by line where the counts differ; script,
style and comment blocks are blanked first (same length), so tags quoted inside them are not
counted, and ``<br>`` become line breaks of the same length. Spans stay offsets into the page.

Examples
--------
>>> page = Page('<title>スレ</title><div class="m">本文<br>二行目</div>')
>>> el = page.root.xpath("//div")[0]
>>> page.inner_text(el), page.text[page.offset(el):page.offset(el) + 4]
('本文\\n二行目', '<div')
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core import Comment, ExtractError, Warn
from .board_text import (
    TAG,
    URL_RE,
    clean_lines,
    html_to_text,
    is_deletion_notice,
    iso_time,
    reply_numbers,
    stable_id,
    strip_span,
)

#: What a ``<br>`` becomes before a page is parsed (a noncharacter, then blanks to the tag's
#: length): a line break of the post, told apart from the source's own line breaks.
BR_MARK = "\ufdd0"
#: A ``<br>`` in any spelling (``<BR>``, ``<br/>``, ``<br clear=all>``); no nesting, so linear.
_BR_TAG = re.compile(r"<br(?=[\s/>])[^<>]*>", re.I)
_INNER_BLOCKS = ("p", "div", "dd", "li")
_CLOSE_WINDOW = 16384  # how far Page.close looks for an end tag
_RAW_BLOCK = re.compile(r"<(script|style|noscript|textarea)\b|<!--", re.I)
_CLOSERS = {name: re.compile(f"</{name}", re.I) for name in ("script", "style", "noscript", "textarea")}
_SITE_SEPARATORS = (" - ", "-", "|", "｜", "–", "—", " : ", " ： ")
_SITE_WORDS: tuple[str, ...] = (
    "ちゃんねる",
    "ch",
    "掲示板",
    "BBS",
    "bbs",
    "＠ふたば",
    "@ふたば",
    "ふたちゃ",
    "したらば",
)
_SITE_WORDS += ("まとめ", "速報", "ブログ", "blog")
# A title that is only a board's name (futaba's pages before 2019: "二次元裏＠ふたば"): no thread title.
_BOARD_ONLY = ("＠ふたば", "@ふたば", "＠ふたちゃ", "@ふたちゃ")
_BLOCK_TAGS = frozenset(
    [
        "br",
        "p",
        "div",
        "dd",
        "dt",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "article",
        "section",
        "header",
        "footer",
    ]
)


def blank_raw_blocks(text: str) -> str:
    """``text`` with script, style, noscript, textarea and comment blocks replaced by spaces
    (line breaks kept), found with ``str.find``: linear even when a block is never closed.

    Examples
    --------
    >>> page = "a<script>x='<div>'</script>b<!-- c -->d"
    >>> blank_raw_blocks(page).split(), len(blank_raw_blocks(page)) == len(page)
    (['a', 'b', 'd'], True)
    """
    # Searched case-blind in ``text`` itself: ``str.lower`` can change a string's length
    # ("İ" becomes two characters), which would shift every offset after it.
    out: list[str] = []
    pos = 0
    while True:
        m = _RAW_BLOCK.search(text, pos)
        if m is None:
            break
        if m.group(0) == "<!--":
            end = text.find("-->", m.end())
            end = len(text) if end < 0 else end + 3
        else:
            close = _CLOSERS[m.group(1).lower()].search(text, m.end())
            end = len(text) if close is None else text.find(">", close.end()) + 1 or len(text)
        out.append(text[pos : m.start()])
        out.append(_blank(text[m.start() : end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _blank(block: str) -> str:
    """``block`` as spaces, its line breaks kept."""
    if "\n" not in block:
        return " " * len(block)
    return "\n".join(" " * len(line) for line in block.split("\n"))


def looks_like_page(sample: str) -> bool:
    """Whether the start of a file is an HTML page (a doctype, ``<html>``, a ``<body>``, or post
    blocks with line breaks) rather than a ``.dat`` whose bodies hold links and ``<br>``.

    Examples
    --------
    >>> looks_like_page("<!DOCTYPE html><html>"), looks_like_page("<dl><dt>1</dt><dd>本文<br>二行目")
    (True, True)
    >>> looks_like_page('名無し<>sage<>2025/08/01<> <a href="../test/read.cgi/x/1/">&gt;&gt;1</a><br>本文 <>スレ')
    False
    """
    head = sample[:2048]
    low = head.lower()
    if low.startswith("<!doctype html") or low.startswith("<html"):
        return True
    lines = [ln for ln in sample[:16384].splitlines()[:20] if ln.strip()]
    if lines and sum(ln.count("<>") >= 4 for ln in lines) * 2 >= len(lines):
        return False
    return bool(("<body" in low and "</" in low) or (re.search(r"<(?:dl|dt|dd|div)\b", low) and "<br" in low))


def has_class(el, name: str) -> bool:
    """Whether the element's ``class`` attribute has the token ``name``."""
    return name in (el.get("class") or "").split()


def xpath_class(name: str) -> str:
    """An XPath test for an element whose ``class`` has the token ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


class Page:
    """A decoded page parsed once: the tree, source offsets of elements, and their text.

    Parameters
    ----------
    text : str
        The decoded page.

    Raises
    ------
    ExtractError
        When lxml is not installed or the page has no elements at all.
    """

    def __init__(self, text: str):
        try:
            from lxml import etree
        except ImportError:  # pragma: no cover - lxml is a dependency
            raise ExtractError("reading HTML pages needs lxml: pip install lxml") from None
        self.text = text
        self.blanked = blank_raw_blocks(text)
        head = self.blanked.lstrip()
        if head.startswith("<?xml"):  # lxml refuses a str with an encoding declaration
            at = len(self.blanked) - len(head)
            close = self.blanked.find("?>", at)
            close = len(self.blanked) if close < 0 else close + 2
            self.blanked = self.blanked[:at] + " " * (close - at) + self.blanked[close:]
        # <br> of every spelling becomes a line break of the same length before parsing, so a
        # post's text is the parsed tree's text (no serialise-and-reparse per post).
        self.blanked = _brs_to_newlines(self.blanked)
        parser = etree.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True, recover=True)
        root = etree.fromstring(self.blanked, parser) if self.blanked.strip() else None
        if root is None:
            root = etree.fromstring("<html><body></body></html>", parser)
        self.root = root
        self._offsets: dict = {}  # element -> offset of its start tag, filled per tag name
        self._indexed: set[str] = set()
        self._elements: dict[str, list] | None = None  # tag -> its elements in document order
        self._all: list = []  # every element in document order (one walk, on first use)
        self._attributes: dict[str, list[str | None]] = {}  # attribute name -> its value on each of _all
        self._starts: dict[str, list[int]] = {}  # tag -> offsets of its start tags in the source
        self._class_tags: dict[str, tuple[str, ...]] = {}
        self._closers: dict[str, re.Pattern] = {}

    def _index_tag(self, tag: str) -> None:
        """Offsets of every element named ``tag``: its start tags found in the source, matched in
        document order to the parsed elements (libxml2 keeps the source order); an element the
        parser implied (no start tag) or one whose line does not fit gets none. Linear."""
        self._indexed.add(tag)
        positions = self._start_tags(tag)
        elements = self.elements(tag)
        if len(positions) == len(elements):
            self._offsets.update(zip(elements, positions, strict=True))
            return
        # Counts differ (tags the parser dropped or implied): align by source line. libxml2
        # gives the line where a start tag ends (capped at 65535), so a tag's '<' may be on an
        # earlier line than the element's line.
        lines, line, prev = [], 1, 0
        for pos in positions:
            line += self.blanked.count("\n", prev, pos)
            lines.append(line)
            prev = pos
        i, n = 0, len(positions)
        for el in elements:
            want = el.sourceline or 0
            if want >= 65535:
                want = 1 << 62
            while i + 1 < n and lines[i] < want and lines[i + 1] <= want:
                i += 1
            if i < n and lines[i] <= want:
                self._offsets[el] = positions[i]
                i += 1

    def _start_tags(self, tag: str) -> list[int]:
        """Offsets of the start tags named ``tag`` in the source (any case), remembered."""
        found = self._starts.get(tag)
        if found is None:
            pattern = re.compile(rf"<{re.escape(tag)}(?=[\s/>])", re.I)
            found = self._starts[tag] = [m.start() for m in pattern.finditer(self.blanked)]
        return found

    def elements(self, tag: str) -> list:
        """The elements named ``tag`` (lower case) in document order.

        A walk of the tree costs as much as reading a few hundred posts, and lxml's
        iterators look one element ahead (even the first ``<title>`` costs a whole walk), so
        the tree is walked once, the first time any element is asked for, and its elements are
        kept by name for :meth:`find`, :meth:`offset` and :meth:`title`.

        Examples
        --------
        >>> page = Page("<title>t</title><p>a</p><div><p>b</p></div>")
        >>> [el.text for el in page.elements("p")], page.elements("h1")
        (['a', 'b'], [])
        """
        if self._elements is None:
            self._index_elements()
        return self._elements.get(tag, [])  # type: ignore[union-attr]

    def _index_elements(self) -> None:
        from lxml import etree

        self._all = list(self.root.iter(etree.Element))  # elements only: no comments, entities
        by_tag: dict[str, list] = {}
        for el in self._all:
            found = by_tag.get(el.tag)
            if found is None:
                by_tag[el.tag] = [el]
            else:
                found.append(el)
        self._elements = by_tag

    # ---------------------------------------------------------------- offsets

    def offset(self, el) -> int:
        """Offset of the element's start tag in the page (that of its parent when the parser
        implied the element)."""
        while el is not None:
            tag = el.tag if isinstance(el.tag, str) else ""
            if tag and tag not in self._indexed:
                self._index_tag(tag)
            found = self._offsets.get(el)
            if found is not None:
                return found
            el = el.getparent()
        return 0

    def end(self, el) -> int:
        """Where the element ends, approximately: the start of the next element after it."""
        node = el
        while node is not None:
            nxt = node.getnext()
            while nxt is not None and not isinstance(nxt.tag, str):
                nxt = nxt.getnext()
            if nxt is not None:
                return self.offset(nxt)
            node = node.getparent()
        return len(self.text)

    def close(self, el) -> int:
        """Where the element's end tag ends in the source (``</blockquote>``), found from its
        start tag; :meth:`end` when it has no end tag or holds an element of its own name."""
        tag = el.tag if isinstance(el.tag, str) else ""
        if not tag or next(el.iterdescendants(tag), None) is not None:
            return self.end(el)
        pattern = self._closers.get(tag)
        if pattern is None:
            pattern = self._closers[tag] = re.compile(rf"</{re.escape(tag)}\s*>", re.I)
        start = self.offset(el)
        m = pattern.search(self.blanked, start, start + _CLOSE_WINDOW)  # bounded: no rescans of a long page
        return m.end() if m else self.end(el)

    def span(self, el, end_el=None) -> tuple[int, int]:
        """``[start, end)`` of an element (through ``end_el`` when given), blanks stripped."""
        start = self.offset(el)
        end = self.end(end_el if end_el is not None else el)
        return strip_span(self.text, start, max(start, end))

    # ---------------------------------------------------------------- text

    def inner_html(self, el) -> str:
        """The element's content as HTML (its own tags excluded)."""
        parts = [_escape(el.text or "")]
        for child in el:
            if isinstance(child.tag, str):
                parts.append(_tostring(child))
            else:
                parts.append(_escape(child.tail or ""))
        return "".join(parts)

    def inner_text(self, el) -> str:
        """The element's text as a post body: ``<br>`` as line breaks, entities decoded, lines stripped.

        The text of the parsed tree (``<br>`` were made line breaks before parsing); a body with
        block elements inside (``<p>``, ``<div>``) goes through its HTML, where each block starts a line.
        """
        if not len(el):
            return clean_lines(as_rendered(el.text or ""))
        if next(el.iterdescendants(*_INNER_BLOCKS), None) is not None:
            return html_to_text(as_rendered(self.inner_html(_without_link_cards(el))))
        return clean_lines(as_rendered(_text_of(el)))

    def flat_text(self, el) -> str:
        """The element's text on one line (for headers: number, name, date)."""
        if not len(el):
            return " ".join((el.text or "").replace(BR_MARK, " ").split())
        if next(el.iterdescendants(*_INNER_BLOCKS), None) is not None:
            return " ".join(self.inner_text(el).split())
        return " ".join(_text_of(el).replace(BR_MARK, " ").split())

    def find(self, *tags: str, cls: str | None = None, under=None) -> list:
        """Elements named ``tags`` (any name when none) whose ``class`` has the token ``cls``,
        in document order, at or under ``under`` (default: the whole page). Faster than XPath
        (``//*[contains(concat(…))]`` walks the tree in XPath's engine); a class name that is
        nowhere in the page is answered without walking it.

        Examples
        --------
        >>> page = Page('<div class="a b">1</div><p class="b">2</p><div>3</div>')
        >>> [el.text for el in page.find(cls="b")], [el.text for el in page.find("div")]
        (['1', '2'], ['1', '3'])
        """
        if cls is not None and cls not in self.blanked:
            return []
        if under is None and cls is not None:  # the class of every element, read once per page
            classes = self.attribute("class")
            names = set(tags)
            return [
                el
                for el, value in zip(self._all, classes, strict=True)
                if value and cls in value and cls in value.split() and (not names or el.tag in names)
            ]
        if cls is not None and not tags:  # only the names of elements that can carry the class: fewer to walk
            tags = self._tags_with(cls)
            if not tags:
                return []
        if under is None:  # from the elements found once per page (see elements())
            if len(tags) == 1:
                found = self.elements(tags[0])
            else:
                self.elements("")
                names = set(tags)
                found = [el for el in self._all if el.tag in names] if tags else self._all
            if cls is None:
                return list(found)
            return [el for el in found if cls in (el.get("class") or "").split()]
        start = under
        found = start.iter(*tags) if tags else start.iter()
        if cls is None:
            return [el for el in found if isinstance(el.tag, str)]
        return [el for el in found if cls in (el.get("class") or "").split()]

    def _tags_with(self, word: str) -> tuple[str, ...]:
        """Names of the start tags in which ``word`` appears as an attribute value's token."""
        names = self._class_tags.get(word)
        if names is None:
            pattern = re.compile(rf"<([A-Za-z][A-Za-z0-9]*)[^<>]*[\s\"'=]{re.escape(word)}[\s\"'>]")
            names = tuple({m.group(1).lower() for m in pattern.finditer(self.blanked)})
            self._class_tags[word] = names
        return names

    def xpath(self, path: str) -> list:
        """Elements the XPath selects (comments and other non-elements left out).

        ``//*[contains(@class, 'a') or contains(@id, 'b')]``, the form the blog templates are
        found by, is answered from the page's elements and their attribute values, read once
        (libxml2's XPath walks the whole tree for each such path).

        Examples
        --------
        >>> page = Page('<div class="entry-body">1</div><p id="main-entry">2</p><p>3</p>')
        >>> [el.text for el in page.xpath("//*[contains(@class, 'entry-') or contains(@id, 'entry')]")]
        ['1', '2']
        """
        m = _CONTAINS_ANY.fullmatch(path)
        if m is None:
            return [el for el in self.root.xpath(path) if isinstance(getattr(el, "tag", None), str)]
        tests = [(self.attribute(name), part) for name, part in _CONTAINS.findall(m.group(1))]
        return [el for i, el in enumerate(self._all) if any(part in (values[i] or "") for values, part in tests)]

    def attribute(self, name: str) -> list[str | None]:
        """The value of the attribute ``name`` of every element, in the order of :meth:`elements`
        (read once per page)."""
        values = self._attributes.get(name)
        if values is None:
            self.elements("")
            values = self._attributes[name] = [el.get(name) for el in self._all]
        return values

    def title(self, paths: tuple[str, ...] = ("//h1", "//title")) -> tuple[str, tuple[int, int]] | None:
        """The thread title (``<h1>``, else ``<title>`` without the site's name) and its span."""
        for path in paths:
            simple = path[2:] if path.startswith("//") and path[2:].isalnum() else None
            for el in self.elements(simple) if simple else self.xpath(path):  # "//h1": no XPath walk
                t = site_suffix_removed(self.flat_text(el))
                if t and not t.endswith(_BOARD_ONLY):
                    return t, self.span(el)
        return None


def _tostring(el) -> str:
    from lxml import etree

    global _tostring
    _tostring = functools.partial(etree.tostring, encoding="unicode", method="html", with_tail=True)
    return _tostring(el)


def as_rendered(text: str) -> str:
    r"""Text of a page as a browser lays it out: a line break where a ``<br>`` was
    (:data:`BR_MARK`), and the source's own line breaks as blanks (in HTML they are
    whitespace: ``本文<br />\n二行目`` is two lines, not three).

    Examples
    --------
    >>> as_rendered("一行目" + BR_MARK + "\n二行目\r\n続き")
    '一行目\n 二行目  続き'
    """
    if "\n" in text or "\r" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text.replace(BR_MARK, "\n") if BR_MARK in text else text


def _without_link_cards(el):
    """``el`` itself, or a copy whose link cards (an ``<a>`` wrapping blocks: the page title,
    description and host a blog shows for a URL in a post) are replaced by the link's URL,
    the words the poster wrote."""
    cards = [a for a in el.iter("a") if next(a.iterdescendants(*_INNER_BLOCKS), None) is not None]
    if not cards:
        return el
    import copy

    el = copy.deepcopy(el)
    for a in el.iter("a"):
        if next(a.iterdescendants(*_INNER_BLOCKS), None) is not None:
            for child in list(a):
                a.remove(child)
            a.text = " " + (a.get("href") or "") + " "
    return el


def _text_of(el) -> str:
    from lxml import etree

    global _text_of
    _text_of = functools.partial(etree.tostring, encoding="unicode", method="text", with_tail=False)
    return _text_of(el)


def _brs_to_newlines(text: str) -> str:
    """Each ``<br>`` as :data:`BR_MARK` padded to its length: the spellings the page uses
    (``<br>``, ``<BR />``, ``<br clear=all>``) found in one pass of :data:`_BR_TAG`, then each
    replaced with ``str.replace`` (a tag holds no ``<`` or ``>``, so an exact spelling is found
    only where the pattern matches it).

    Examples
    --------
    >>> _brs_to_newlines("a<br>b<BR />c<bread>") == "a" + BR_MARK + "   b" + BR_MARK + "     c<bread>"
    True
    """
    for br in set(_BR_TAG.findall(text)):
        text = text.replace(br, BR_MARK + " " * (len(br) - 1))
    return text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def site_suffix_removed(title: str) -> str:
    """A page title without the board's name after a separator (linear: one split).

    Examples
    --------
    >>> site_suffix_removed("スレタイ - おーぷん2ちゃんねる"), site_suffix_removed("A - B")
    ('スレタイ', 'A - B')
    """
    title = title.strip()
    cut = max(title.rfind(sep) for sep in _SITE_SEPARATORS)
    if cut > 0 and any(word in title[cut:] for word in _SITE_WORDS):
        return title[:cut].strip()
    return title


# --------------------------------------------------------------------------- posts to records


@dataclass
class Post:
    """One post as a page reader found it, before it becomes a :class:`~moderation.core.Comment`."""

    span: tuple[int, int]
    head: str  # number, name, date and ID as one line of text
    body: str  # the post's text (entities decoded, line breaks kept)
    no: int | None = None
    author: str | None = None
    date: str | None = None  # the date as the page shows it (parsed with iso_time)
    deleted: bool = False
    extra_urls: list[str] = field(default_factory=list)


_LEADING_NUMBER = re.compile(r"\d{1,7}")


def leading_number(text: str) -> int | None:
    """The post number a header starts with (``12 ：名無し：…`` → 12)."""
    m = _LEADING_NUMBER.match(text.lstrip())
    return int(m.group(0)) if m else None


# A post's header is read twice (is it a header? then its date): its date-time is computed once.
_head_time = functools.lru_cache(maxsize=512)(iso_time)
_NAMAE = re.compile(r"名前\s*[：:]")
_COLON = re.compile(r"[：:]")
# An XPath that selects elements by parts of their attributes: //*[contains(@class, 'a') or contains(@id, 'b')].
_CONTAINS_ANY = re.compile(r"//\*\[(contains\(@[\w-]+, '[^']*'\)(?: or contains\(@[\w-]+, '[^']*'\))*)\]")
_CONTAINS = re.compile(r"contains\(@([\w-]+), '([^']*)'\)")
_HEAD_START = re.compile(r"(\d{1,7})(?:\s|[：:]|名前|$)")  # matched after lstrip (no leading \s*: linear search)
_DELETED_HEAD = ("あぼーん", "削除", "うふ～ん", "うふ〜ん")


def head_author(head: str) -> str | None:
    """The name in a ``N ：name：date`` header (between the first two colons), or in the
    ``N 名前：name 投稿日：date`` header of 2ch pages before 2008.

    Examples
    --------
    >>> head_author("12 ：名無しさん：2013/01/01(火) 00:00:00.00 ID:a")
    '名無しさん'
    >>> head_author("3 名前：名無しさん 投稿日：05/03/01 12:00 ID:b")
    '名無しさん'
    """
    named = _NAMAE.search(head)
    if named:
        end = head.find("投稿日", named.end())
        return head[named.end() : end if end >= 0 else len(head)].strip() or None
    parts = _COLON.split(head, maxsplit=2)
    return parts[1].strip() or None if len(parts) > 2 else None


def is_post_head(head: str) -> bool:
    """Whether a line reads as a board post's header: a post number first (``12 ：``,
    ``12：``, ``0012 ``, ``3 名前：``), then a date-time, an ``ID:`` or a deletion mark.
    What keeps a FAQ's ``<dt>Q1. …</dt>`` or a spec table from being read as posts.

    Examples
    --------
    >>> is_post_head("12 ：名無しさん：2013/01/01(火) 00:00:00.00"), is_post_head("5 ：あぼーん：あぼーん")
    (True, True)
    >>> is_post_head("Q1. 2023年の予定は？"), is_post_head("1. はじめに")
    (False, False)
    """
    if not _HEAD_START.match(head.lstrip()):
        return False
    return bool(_head_time(head)) or "ID:" in head or any(mark in head for mark in _DELETED_HEAD)


def records(
    page: Page,
    posts: Iterable[Post],
    *,
    thread: str,
    source: str,
    fmt: str,
    title_paths: tuple[str, ...] = ("//h1", "//title"),
) -> list[Comment]:
    """The title record (when the page has one) and one ``comment`` record per post."""
    seen: dict = {}
    out: list[Comment] = []
    found = page.title(title_paths)
    if found:
        t, span = found
        out.append(Comment(thread, stable_id(thread, "title", t, seen), None, "title", t, span=span, source=source))
    for post in posts:
        deleted = post.deleted or is_deletion_notice(post.body)
        head = post.head
        if (
            not deleted
            and ("あぼーん" in head or "削除" in head or "うふ～ん" in head or "うふ〜ん" in head)  # _DELETED_HEAD
            and not _head_time(head)
        ):
            deleted = True  # "5 ：あぼーん：あぼーん", "7：＜削除＞：＜削除＞": no date, a deletion mark
        reply_to, body = reply_numbers(post.body)
        if deleted:
            reply_to, body = [], ""
        date_text = post.date if post.date is not None else post.head
        out.append(
            Comment(
                thread,
                stable_id(thread, "comment", body or post.head, seen),
                post.no,
                "comment",
                body,
                reply_to=reply_to,
                deleted=deleted,
                author=None if deleted else (post.author or None),
                posted_at=None if deleted else _head_time(date_text),
                urls=(URL_RE.findall(body) if "tp" in body else []) + post.extra_urls,
                span=post.span,
                source=source,
            )
        )
    for rec in out:
        rec.source_format = fmt
    return out


def meta_records(page: Page, *, thread: str, source: str, warn: Warn | None, fmt: str = "html") -> list[Comment]:
    """A page no reader recognises: its title, and each line of its text as a ``meta`` record.

    Never ``comment``: menus, navigation and ads are what such a page is mostly made of, and
    the extractor cannot tell its posts from them. Tags are blanked to the same length (a line
    break for block tags), so spans are offsets into the page.
    """
    if warn:
        warn(f"{source or thread}: no reader recognises this page's layout; its text is kept as meta records")
    seen: dict = {}
    out: list[Comment] = []
    found = page.title()
    if found:
        t, span = found
        out.append(Comment(thread, stable_id(thread, "title", t, seen), None, "title", t, span=span, source=source))
    body_start = 0
    for el in page.find("body"):
        body_start = page.offset(el)
        break
    plain = page.blanked.replace(BR_MARK, "\n")
    plain = TAG.sub(
        lambda m: "\n" + " " * (len(m.group(0)) - 1) if _is_block_tag(m.group(0)) else "\ue000" * len(m.group(0)),
        plain,
    )
    pos = 0
    for line in plain.splitlines(keepends=True):
        start, end = strip_span(plain, pos, pos + len(line))
        pos += len(line)
        if start >= end or start < body_start:
            continue
        text = html_to_text(plain[start:end].replace("\ue000", "")).replace("\n", " ").strip()
        if not text:
            continue
        out.append(
            Comment(thread, stable_id(thread, "meta", text, seen), None, "meta", text, span=(start, end), source=source)
        )
    for rec in out:
        rec.source_format = fmt
    return out


def _is_block_tag(tag: str) -> bool:
    name = tag[1:].lstrip("/").split(None, 1)[0].rstrip("/>").lower() if len(tag) > 2 else ""
    return name in _BLOCK_TAGS
