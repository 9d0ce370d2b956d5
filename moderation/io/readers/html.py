"""Saved 2ch/5ch/open2ch thread pages (modern ``div.post`` and old ``<dt>``/``<dd>`` layouts).

Examples
--------
>>> page = '<h1>スレ</h1><div class="post" id="1"><div class="message">どうも</div></div>'
>>> [(r.kind, r.text) for r in parse_html(page)]
[('title', 'スレ'), ('comment', 'どうも')]
"""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
from collections.abc import Iterable

from ...core import Comment, Warn
from ..board_text import (
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
from .scrape import parse_scrape


def sniff(sample: str) -> bool:
    """Whether the start of a file reads as an HTML page (a doctype, ``<html>``, a ``<body>``,
    or post blocks with line breaks).

    Examples
    --------
    >>> sniff("<!DOCTYPE html><html>"), sniff("<dl><dt>1</dt><dd>本文<br>二行目"), sniff("a<>b<>c<>d<>")
    (True, True, False)
    """
    low = sample[:2048].lower()
    return bool(
        low.startswith("<!doctype html")
        or low.startswith("<html")
        or ("<body" in low and "</" in low)
        or (re.search(r"<(?:dl|dt|dd|div)\b[^>]*>", low) and "<br" in sample.lower())
    )


_HTML_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.I | re.S)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_SITE_SUFFIX = re.compile(r"\s*(?:[-|｜–—]\s*[^-|｜]*(?:ちゃんねる|ch|掲示板|BBS|bbs)[^-|｜]*)$")
# Modern 5ch: <div class="post" id="N" ...> ... <div class="message">…</div></div>
_POST_DIV = re.compile(r"<div[^>]*class=\"[^\"]*\bpost\b[^\"]*\"[^>]*>", re.I)
_NUMBER_SPAN = re.compile(r"<span[^>]*class=\"[^\"]*number[^\"]*\"[^>]*>(.*?)</span>", re.I | re.S)
_NAME_SPAN = re.compile(r"<span[^>]*class=\"[^\"]*name[^\"]*\"[^>]*>(.*?)</span>", re.I | re.S)
_DATE_SPAN = re.compile(r"<span[^>]*class=\"[^\"]*date[^\"]*\"[^>]*>(.*?)</span>", re.I | re.S)
_MESSAGE_DIV = re.compile(r"<div[^>]*class=\"[^\"]*message[^\"]*\"[^>]*>(.*)", re.I | re.S)
# Old 2ch / open2ch: <dt>N ：name：date</dt><dd>body</dd>
_DT = re.compile(r"<dt\b[^>]*>(.*?)(?=<dd\b)", re.I | re.S)
_DD_END = re.compile(r"(?=<dt\b|</dl>|<div[^>]*class=\"[^\"]*post)", re.I)
_BLOCK_TAG = re.compile(r"<(?:br|p|div|dd|dt|li|tr|h\d)\b", re.I)
_TAG_FILLER = "\ue000"  # private use: never in a page's text
_SCRIPTS = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)


def _blank_out(text: str, pattern: re.Pattern) -> str:
    """Replace matches with spaces of the same length, so offsets stay those of the source."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def parse_html(text: str, *, thread: str = "thread", source: str = "") -> list[Comment]:
    """Read a saved 2ch/5ch/open2ch thread page.

    Knows the modern 5ch ``<div class="post">`` layout and the ``<dt>``/``<dd>`` layout of
    old 2ch and open2ch; any other page is reduced to text and read like scraped text.

    Parameters
    ----------
    text : str
        The decoded page.
    thread, source : str
        Thread id and source path written into every record.

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
    clean = _blank_out(text, _SCRIPTS)
    records: list[Comment] = []
    seen: dict = {}
    m = _HTML_H1.search(clean) or _HTML_TITLE.search(clean)
    if m:
        t = _SITE_SUFFIX.sub("", html_to_text(m.group(1)).replace("\n", " "))
        if t:
            records.append(
                Comment(
                    thread,
                    stable_id(thread, "title", t, seen),
                    None,
                    "title",
                    t,
                    span=strip_span(text, m.start(1), m.end(1)),
                    source=source,
                )
            )
    posts = _html_posts_div(clean) or _html_posts_dl(clean)
    if not posts:
        # Unknown layout: read the page's text like a scraped page. Tags are blanked to the
        # same length (a line break for block tags), so spans stay offsets into the page.
        # Inline tags become a filler character that is dropped from the texts afterwards.
        plain = TAG.sub(
            lambda m: (
                "\n" + " " * (len(m.group(0)) - 1) if _BLOCK_TAG.match(m.group(0)) else _TAG_FILLER * len(m.group(0))
            ),
            clean,
        )
        return records + [
            dataclasses.replace(r, text=clean_lines(html_lib.unescape(r.text.replace(_TAG_FILLER, ""))))
            for r in parse_scrape(plain, thread=thread, source=source)
            if r.kind != "title" or not records
        ]
    for start, end, head, body in posts:
        head_text = html_to_text(head)
        num = re.match(r"\s*(\d+)", head_text)
        no = int(num.group(1)) if num else None
        body_text = html_to_text(body)
        deleted = is_deletion_notice(body_text) or ("あぼーん" in head_text and not iso_time(head_text))
        reply_to, body_text = reply_numbers(body_text)
        if deleted:
            reply_to, body_text = [], ""
        name_m = _NAME_SPAN.search(head)
        author: str | None
        if name_m:
            author = html_to_text(name_m.group(1))
        else:
            parts = re.split(r"[：:]", head_text, maxsplit=2)
            author = parts[1].strip() if len(parts) > 2 else None
        records.append(
            Comment(
                thread,
                stable_id(thread, "comment", body_text or head_text, seen),
                no,
                "comment",
                body_text,
                reply_to=reply_to,
                deleted=deleted,
                author=None if deleted else (author or None),
                posted_at=None if deleted else iso_time(head_text),
                urls=URL_RE.findall(body_text),
                span=strip_span(text, start, end),
                source=source,
            )
        )
    return records


def _html_posts_div(html: str) -> list[tuple[int, int, str, str]]:
    starts = [m.start() for m in _POST_DIV.finditer(html)]
    posts = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(html)
        chunk = html[s:e]
        msg = _MESSAGE_DIV.search(chunk)
        if not msg:
            continue
        body = msg.group(1)
        # The message div ends at its closing tags; cut at the first block that follows it.
        body = re.split(r"</div>\s*</div>", body, maxsplit=1)[0]
        head = chunk[: msg.start()]
        posts.append((s, s + msg.start(1) + len(body), head, body))
    return posts


def _html_posts_dl(html: str) -> list[tuple[int, int, str, str]]:
    posts = []
    for m in _DT.finditer(html):
        dd = re.compile(r"<dd\b[^>]*>", re.I).match(html, m.end())
        if not dd:
            continue
        end_m = _DD_END.search(html, dd.end())
        end = end_m.start() if end_m else len(html)
        body = re.sub(r"</dd>.*", "", html[dd.end() : end], flags=re.I | re.S)
        posts.append((m.start(), dd.end() + len(body), m.group(1), body))
    return posts


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`parse_html` (``warn`` is unused)."""
    return parse_html(text, thread=thread, source=source)
