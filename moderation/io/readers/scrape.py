"""Scraped page text: posts glued together, found again at the markers that start them.

What a copy of a board page's text looks like (as in ``seeds/``): posts run into each other,
a reply anchor or a URL glued onto the next post's first word, post headers on their own
lines, pasted news articles, and the page's footer (title, counters, share buttons).

Examples
--------
>>> records = parse_scrape("本文です。\\n>>1\\nそうだね>>2 違うと思う", thread="t")
>>> [(r.kind, r.reply_to, r.text) for r in records]
[('comment', [], '本文です。'), ('comment', [1], 'そうだね'), ('comment', [2], '違うと思う')]
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...core import Comment, Warn
from ..board_text import (
    ANCHOR_GROUP,
    URL_RE,
    anchor_numbers,
    clean_lines,
    is_deletion_notice,
    iso_time,
    stable_id,
    strip_span,
)

# A post header as scraped pages show it: ``名無し2025/07/27(Sun) 10:58:14(1/1)``, optionally
# with the post number on the line before (``- 5``) or in front (``5 ：名無し：…``).
#
# One pattern for the whole line ran in cubic time on a line of blanks (the optional
# separators around the lazy name are adjacent unbounded runs). The header is therefore
# matched in three linear steps on the stripped line: find the date, then check the bounded
# text before it (number and name) and the text after it (page and ID).
_NUMBER_LINE = re.compile(r"(?:[-－‐―][ \t]*)?(\d{1,6})")
_HEADER_DATE = re.compile(
    r"\d{4}/\d{1,2}/\d{1,2}(?:[ \t]*[(（][^)）\n]{1,4}[)）])?[ \t]*\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
)
_HEADER_PREFIX = re.compile(r"(?:(?P<no>\d{1,6})[ \t]*[:：]?[ \t]*)?(?P<name>[^\n]{0,48}?)[ \t]*[:：]?")
_HEADER_SUFFIX = re.compile(r"(?P<page>\(\d+/\d+\))?[ \t]*(?P<uid>ID[:：][ \t]*\S+)?")
_PREFIX_MAX = 6 + 48 + 8  # number, name and separators: the date starts within this


def _number_line(line: str) -> re.Match | None:
    """``- 5`` alone on a line: the post number of the header on the next line."""
    return _NUMBER_LINE.fullmatch(line.strip(" \t"))


class _Header:
    """A matched post header: ``group(name)`` for ``no``, ``name``, ``date``, ``page``, ``uid``."""

    __slots__ = ("_groups",)

    def __init__(self, groups: dict[str, str | None]):
        self._groups = groups

    def group(self, name: str) -> str:
        """The text of a part of the header, ``""`` when the header has none."""
        return self._groups[name] or ""


def _header_line(line: str) -> _Header | None:
    """The post header on ``line``, or None; linear in the line's length.

    Examples
    --------
    >>> _header_line("- 名無し2025/07/27(Sun) 10:58:14(1/1)").group("date")
    '2025/07/27(Sun) 10:58:14'
    >>> _header_line(" " * 800) is None
    True
    """
    stripped = line.strip(" \t")
    for m in _HEADER_DATE.finditer(stripped, 0, len(stripped)):
        if m.start() > _PREFIX_MAX + 16:
            return None
        before = stripped[: m.start()]
        prefix = _HEADER_PREFIX.fullmatch(before.rstrip(" \t")) if len(before) <= _PREFIX_MAX + 16 else None
        if prefix is None:
            continue
        suffix = _HEADER_SUFFIX.fullmatch(stripped[m.end() :].strip(" \t"))
        if suffix is None:
            continue
        return _Header({**prefix.groupdict(), "date": m.group(0), **suffix.groupdict()})
    return None


# A poster's name: short, and not a sentence (a post that ends with a date is not a header).
_NAME_LIKE = re.compile(r"^[^。、！!？?\s]{0,24}$")
_SHARE_LINE = re.compile(
    r"^(?:(?:ツイート|ポスト|LINE|お気に入り|シェア|はてブ|はてなブックマーク|Tweet|Facebook|"
    r"いいね|Pocket|B!|Share|印刷|コメント)[\s|・/]*){2,}$"
)
_COUNTER_LINE = re.compile(r"^[\d,]+$")
# Colloquial board speech: a paragraph with these is a poster talking, not a news article.
_COLLOQUIAL = re.compile(
    r"(?<![A-Za-z])[wｗ]+(?![A-Za-z])|[草☝✨😂🤣👍]|(?:だろ(?!う)|じゃん|よな|よね|なぁ|ねえ|んだよ|やん|かよ|だな|だわ|ですね|ますね|"
    r"じゃね|んじゃ|おまえ|お前|俺|オレ|ワイ|ぞ[。!！?？]?$|ね[。!！?？]?$|よ[。!！?？]?$|わ[。!！]?$|"
    r"な[。!！]?$|[?？!！]$|笑)"
)
# Plain-form sentence ends of news prose (です/ます is a poster being polite, not an article).
_FORMAL_END = re.compile(r"(?:た|だ|る|い|う|ず|ぬ|ある|いる|という|とした|見通し|模様|方針|予定)[」』)）]?。")
_HEADING_START = re.compile(r"^[【◇◆■□●○▼▽＜<〈《]")
_CREDIT_LINE = re.compile(
    # Matched on a stripped line: no leading or trailing blank runs (adjacent to the optional
    # mark they made a search quadratic, and cubic with the bounded name).
    r"^[/／(（【〈<＜―—\-]?[^\n。、]{0,20}?"
    r"(?:News|NEWS|ニュース|新聞|通信|日報|時事|共同|聯合|ロイター|Reuters|AFP|AFPBB|ハンギョレ|"
    r"中央日報|朝鮮日報|東亜日報|産経|読売|毎日|朝日|日経|NHK|TBS|テレ朝|フジ|ブルームバーグ|Bloomberg|"
    r"CNN|BBC|Record China|レコードチャイナ|聯合ニュース|編集部|記者)"
    r"[^\n。]{0,20}?[)）】〉>＞]?$"
)
# Where a headline glued onto the end of a post may begin: a kanji/katakana/bracket right after
# the end of a sentence (punctuation, laughter, or a sentence-final form such as …ない, …だ, …ね).
_GLUE_BOUNDARY = re.compile(
    r"(?:[。！!？?wｗ☝✨♪\ufe0f]|(?<=[\u3040-\u309f])(?:よ|ね|な|わ|ぞ|だ|た|る|い|す|か|ん))"
    r"(?=[\u4e00-\u9fff\u30a0-\u30ff「『【◇<＜])"
)
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
# Inside a headline a clause may end (…差し出した米国), but not a spoken sentence (…揉めてるな中国…).
_STRONG_BOUNDARY = re.compile(
    r"(?:[。！!？?wｗ]|(?<=[\u3040-\u309f])(?:よ|ね|な|わ|ぞ))(?=[\u4e00-\u9fff\u30a0-\u30ff「『【])"
)
_HEADLINE_START = re.compile(r"^(?:[「『【◇<＜(（]|[^\u3040-\u309f\s]{2})")
# A URL glued to text that still belongs to the same post ("…を参照", "ソースhttp…より").
# What follows an anchor that is a reference inside a post rather than the start of one.
_ANCHOR_REFERENCE = re.compile(r"[ \t]?(?:の|が|は|を|に|へ|と|で|も|って|さん|氏|参照|みたい|より|から)")
_URL_CONTINUATION = re.compile(r"(?:を|の|が|は|に|で|より|から|参照|って|とか|など|[(（)）」』、。,.!?！？])")


_QUOTED = re.compile(r"「[^「」]*」|『[^『』]*』")


def _colloquial(line: str) -> bool:
    """Board speech outside quotations (a quoted remark in an article is not the writer's voice)."""
    return bool(_COLLOQUIAL.search(_QUOTED.sub("「」", line)))


def _is_paragraph(line: str) -> bool:
    """A line that reads like a paragraph of a news article, not like a poster talking."""
    line = line.strip()
    if len(line) < 30 or _colloquial(line):
        return False
    if not (line.endswith("。") or line.endswith("。」") or line.endswith("。）")):
        return False
    sentences = [s + "。" for s in line.split("。")[:-1] if s]  # linear, unlike a [^。]+。 search
    if not sentences:
        return False
    formal = sum(1 for s in sentences if _FORMAL_END.search(s))
    return formal / len(sentences) >= 0.5


def _is_heading(line: str) -> bool:
    """A short headline or cross-heading: no terminal 。 and no colloquial speech."""
    line = line.strip()
    if not (4 <= len(line) <= 90) or line.endswith("。"):
        return False
    if _colloquial(line.rstrip("?？!！")) and not _HEADING_START.match(line):
        return False
    return not URL_RE.search(line)


def _is_credit(line: str) -> bool:
    """A source credit (``/AFPBB News``, ``（聯合ニュース）``): short, a news name, no sentence."""
    line = line.strip()
    return 2 <= len(line) <= 40 and len(_HIRAGANA.findall(line)) <= 2 and bool(_CREDIT_LINE.match(line))


def _glued_title_start(line: str) -> int | None:
    """Offset in ``line`` where a headline glued onto the end of a post starts, if any.

    The longest tail after a sentence end that reads like a headline wins: no board speech,
    no 。, and kanji-dense (headlines have few hiragana; a post's clause has many).
    """
    stripped = line.rstrip()
    for m in _GLUE_BOUNDARY.finditer(stripped):
        tail = stripped[m.end() :].strip()
        if len(tail) < 6 or not _is_heading(tail):
            continue
        if len(_HIRAGANA.findall(tail)) > 0.3 * len(tail) or not _HEADLINE_START.match(tail):
            continue
        if _STRONG_BOUNDARY.search(tail):
            continue
        return m.end()
    return None


@dataclass
class _Unit:
    start: int
    end: int
    marker: str  # 'start' | 'anchor' | 'after_url' | 'header' | 'title' | 'meta'
    kind: str = "comment"
    no: int | None = None
    author: str | None = None
    posted_at: str | None = None
    urls: list[str] = field(default_factory=list)
    body_start: int | None = None  # where the post's own text starts (after anchors/header)


def _line_offsets(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each line (without its newline) between two offsets."""
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        if nl == -1:
            out.append((pos, end))
            break
        out.append((pos, nl))
        pos = nl + 1
    return out


class _ScrapeParser:
    """Splits scraped page text at the markers that reveal where a post starts."""

    def __init__(self, text: str):
        self.text = text
        self.lines = _line_offsets(text, 0, len(text))

    def line(self, i: int) -> str:
        a, b = self.lines[i]
        return self.text[a:b].rstrip("\r")

    def footer_start(self) -> tuple[int, int | None]:
        """Index of the first footer line, and of the title line within it (or None)."""
        i = len(self.lines) - 1
        saw_share = False
        while i >= 0:
            line = self.line(i).strip()
            if not line or _COUNTER_LINE.match(line):
                i -= 1
                continue
            if _SHARE_LINE.match(line):
                saw_share = True
                i -= 1
                continue
            break
        first = i + 1
        if saw_share and i >= 0 and _is_heading(self.line(i)) and not _header_line(self.line(i)):
            return i, i
        return first, None

    def breaks(self) -> list[tuple[int, str, dict]]:
        """(offset, marker, info) for every place a new unit starts."""
        text = self.text
        out: list[tuple[int, str, dict]] = [(0, "start", {})]
        footer, title_line = self.footer_start()

        # Post headers (a number line before them belongs to the same post).
        skip_lines = set()
        for i in range(min(footer, len(self.lines))):
            line = self.line(i)
            header = _header_line(line)
            if header is None or not iso_time(header.group("date")):
                continue
            name = header.group("name").strip(" :：")
            if not _NAME_LIKE.match(name) or URL_RE.search(name):
                continue
            no = int(header.group("no")) if header.group("no") else None
            start_line = i
            if i > 0 and (num := _number_line(self.line(i - 1))):
                no = int(num.group(1))
                start_line = i - 1
            if no is None and not (header.group("page") or header.group("uid")):
                continue  # a line that merely ends with a date, inside a post
            out.append(
                (
                    self.lines[start_line][0],
                    "header",
                    {
                        "no": no,
                        "author": name or None,
                        "posted_at": iso_time(header.group("date")),
                        "body_start": self.lines[i][1] + 1,
                    },
                )
            )
            skip_lines.update({start_line, i})

        # Anchors that begin a post, and URLs glued onto the next post's text.
        for i in range(min(footer, len(self.lines))):
            if i in skip_lines:
                continue
            a, b = self.lines[i]
            line = text[a:b]
            if ">" not in line and "＞" not in line and "≫" not in line and "://" not in line and "&gt;" not in line:
                continue
            first = len(line) - len(line.lstrip())  # the line's text starts here …
            last = len(line.rstrip())  # … and ends here
            for m in ANCHOR_GROUP.finditer(line):
                if m.start() > first and _ANCHOR_REFERENCE.match(line, m.end()):
                    continue  # "…>>5の言う通り", "詳しくは>>12参照": a reference inside a post
                out.append((a + m.start(), "anchor", {"anchor": m.group(0), "body_start": a + m.end()}))
            for m in URL_RE.finditer(line):
                end = m.end()
                if end < last and not line[end].isspace() and not _URL_CONTINUATION.match(line, end):
                    out.append((a + end, "after_url", {"url": m.group(0)}))

        # Page footer: the thread title and each counter / share-button line.
        for i in range(footer, len(self.lines)):
            line = self.line(i).strip()
            if line:
                out.append((self.lines[i][0], "title" if i == title_line else "meta", {}))
        out.sort(key=lambda item: (item[0], item[1] != "header"))
        merged: list[tuple[int, str, dict]] = []
        for item in out:
            if merged and item[0] == merged[-1][0]:
                continue
            prev = merged[-1] if merged else None
            if (
                item[1] == "anchor"
                and prev
                and prev[1] in ("header", "anchor")
                and not text[prev[2]["body_start"] : item[0]].strip()
            ):
                # Anchors that open a header's body, or that follow other anchors with only
                # blanks between (">>2\n>>6\n本文"), belong to the post already started.
                continue
            merged.append(item)
        return merged

    def units(self) -> list[_Unit]:
        breaks = self.breaks()
        units = []
        for k, (offset, marker, info) in enumerate(breaks):
            end = breaks[k + 1][0] if k + 1 < len(breaks) else len(self.text)
            unit = _Unit(
                offset,
                end,
                marker,
                no=info.get("no"),
                author=info.get("author"),
                posted_at=info.get("posted_at"),
                body_start=info.get("body_start"),
            )
            if marker in ("title", "meta"):
                unit.kind = marker
            units.append(unit)
        out: list[_Unit] = []
        for unit in units:
            if unit.marker in ("title", "meta"):
                out.append(unit)
            else:
                out.extend(self.split_articles(unit, first=unit.marker == "start"))
        return out

    def split_articles(self, unit: _Unit, *, first: bool) -> list[_Unit]:
        """Find pasted news articles in a unit: paragraphs that end at a source URL or a credit
        line (or open the page), with the headline that may be glued onto the post before."""
        text = self.text
        body_start = unit.body_start if unit.body_start is not None else unit.start
        lines = _line_offsets(text, body_start, unit.end)
        if not lines:
            return [unit]
        texts = [text[a:b].rstrip("\r") for a, b in lines]
        # Where an article can end: a credit line or a URL-only line (part of the article),
        # or a source URL glued onto the end of the unit's last line.
        ends: list[tuple[int, bool]] = []
        for j, line in enumerate(texts):
            s = line.strip()
            if j and (_is_credit(s) or URL_RE.fullmatch(s)):
                ends.append((j, True))
        last = texts[-1].rstrip()
        glued = [m for m in URL_RE.finditer(last) if m.end() == len(last)]
        if glued and not (ends and ends[-1][0] == len(texts) - 1):
            ends.append((len(texts) - 1, False))
        pieces: list[_Unit] = []
        cursor, pending = 0, unit.start
        for end_line, whole_line in ends:
            if end_line < cursor:
                continue
            j = end_line - 1
            if not whole_line:
                before_url = texts[end_line][: glued[0].start()]
                if before_url.strip():
                    if not _is_paragraph(before_url):
                        continue  # a post that ends with a link
                    j = end_line
            found = self._paragraphs_up(texts, j, cursor)
            if found is None:
                continue
            start_line, title_offset = found
            art_start = lines[start_line][0] + (title_offset or 0)
            art_end = lines[end_line][1]
            if text[pending:art_start].strip():
                if pieces or pending != unit.start:
                    pieces.append(_Unit(pending, art_start, "rest"))
                else:
                    pieces.append(dataclasses.replace(unit, end=art_start))
            pieces.append(_Unit(art_start, art_end, "article", kind="article"))
            pending, cursor = art_end, end_line + 1
        if not pieces:
            return self.leading_article(unit, lines, texts) if first else [unit]
        if text[pending : unit.end].strip():
            pieces.append(_Unit(pending, unit.end, "rest"))
        return pieces

    def _paragraphs_up(self, texts: list[str], j: int, floor: int) -> tuple[int, int | None] | None:
        """Walk up from line ``j`` over article paragraphs and cross-headings.

        Returns the first article line and, when the headline is glued onto the end of a
        post, its offset in that line; None when there is no paragraph to speak of.
        """
        paragraphs = 0
        i = j
        top = j + 1
        while i >= floor:
            line = texts[i]
            if not line.strip():
                i -= 1
                continue
            if _is_paragraph(line):
                paragraphs += 1
                top = i
                i -= 1
                continue
            if (
                _is_heading(line)
                and not _header_line(line)
                and i - 1 >= floor
                and _is_paragraph(texts[i - 1])
                and paragraphs
            ):
                top = i  # a cross-heading such as 【図表】… between paragraphs
                i -= 1
                continue
            break
        if not paragraphs:
            return None
        if i >= floor:
            line = texts[i]
            glue = _glued_title_start(line)
            if glue is not None and (line[:glue].strip()):
                return i, glue
            if _is_heading(line) and not _header_line(line):
                return i, None
        return top, None

    def leading_article(self, unit: _Unit, lines, texts) -> list[_Unit]:
        """An article that opens the page with no source marker: two or more paragraphs
        (with an optional headline) at the top, the rest of the unit is the first post."""
        i = 0
        while i < len(texts) and not texts[i].strip():
            i += 1
        start = i
        if i < len(texts) and _is_heading(texts[i]) and i + 1 < len(texts) and _is_paragraph(texts[i + 1]):
            i += 1
        paragraphs = 0
        while i < len(texts) and (
            _is_paragraph(texts[i])
            or not texts[i].strip()
            or (paragraphs and _is_heading(texts[i]) and i + 1 < len(texts) and _is_paragraph(texts[i + 1]))
        ):
            paragraphs += bool(texts[i].strip())
            i += 1
        if paragraphs < 2 or start >= len(texts):
            return [unit]
        split = lines[i][0] if i < len(lines) else unit.end
        pieces = [_Unit(unit.start, split, "article", kind="article")]
        if self.text[split : unit.end].strip():
            pieces.append(_Unit(split, unit.end, "rest"))
        return pieces


def parse_scrape(text: str, *, thread: str = "thread", source: str = "") -> list[Comment]:
    """Split scraped page text (posts glued together, as in ``seeds/``) into records.

    A new record starts at every marker that reveals a post: a ``>>N`` reply anchor that
    begins a post (mid-line too), the text right after a URL glued onto it, and a post
    header (``- 5`` / ``名無し2025/07/27(Sun) 10:58:14(1/1)``). Pasted news articles
    become one ``article`` record each; the page footer becomes ``title`` and ``meta``
    records. Text between markers stays one post, line breaks included.

    Parameters
    ----------
    text : str
        The decoded page text.
    thread, source : str
        Thread id and source path written into every record.

    Returns
    -------
    list of Comment

    Examples
    --------
    >>> recs = parse_scrape("いいね>>3 그건 아니다", thread="t")
    >>> [(r.reply_to, r.text) for r in recs]
    [([], 'いいね'), ([3], '그건 아니다')]
    """
    parser = _ScrapeParser(text)
    seen: dict = {}
    records = []
    for unit in parser.units():
        rec = _unit_record(text, unit, thread, source, seen)
        if rec is not None:
            records.append(rec)
    return records


def _unit_record(text: str, unit: _Unit, thread: str, source: str, seen: dict) -> Comment | None:
    start, end = strip_span(text, unit.start, unit.end)
    if start >= end:
        return None
    raw = text[start:end]
    reply_to: list[int] = []
    body = raw
    if unit.marker == "anchor":
        m = ANCHOR_GROUP.match(raw)
        if m:
            reply_to = anchor_numbers(m.group(0))
            body = raw[m.end() :]
    elif unit.marker == "header" and unit.body_start is not None:
        body = text[max(unit.body_start, start) : end] if unit.body_start < end else ""
        m = ANCHOR_GROUP.match(body.lstrip())
        if m:
            reply_to = anchor_numbers(m.group(0))
            body = body.lstrip()[m.end() :]
    kind = unit.kind
    urls = URL_RE.findall(raw)
    deleted = False
    if kind == "article":
        # The source URL is the article's provenance, not part of its text.
        body = clean_lines(
            URL_RE.sub(lambda m: "" if m.end() == len(raw) or raw[m.end()] in "\r\n" else m.group(0), raw)
        )
    else:
        body = clean_lines(body)
    if kind == "comment":
        if is_deletion_notice(body):
            deleted, body = True, ""
        elif not body and not reply_to and unit.marker not in ("header",):
            kind = "meta"
            body = clean_lines(raw)
        elif _number_line(body) and not reply_to and unit.marker != "header":
            kind = "meta"  # a stray post number with no header: page furniture
    return Comment(
        thread=thread,
        id=stable_id(thread, kind, body if body else raw, seen),
        no=unit.no,
        kind=kind,
        text=body,
        reply_to=reply_to,
        deleted=deleted,
        author=unit.author,
        posted_at=unit.posted_at,
        urls=urls,
        span=(start, end),
        source=source,
    )


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: :func:`parse_scrape` (``warn`` is unused)."""
    return parse_scrape(text, thread=thread, source=source)
