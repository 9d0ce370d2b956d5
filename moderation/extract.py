"""Thread dumps in, one clean record per post out.

Forum operators have dumps, not clean data: scraped page text with posts glued
together, 2ch/5ch ``.dat`` files, saved HTML pages, or comments that were already
split into CSV/JSONL. Every reader here turns its input into :class:`Comment`
records with the same fields, so the rest of the tool (training, labeling,
scoring, the pre-moderation hook) never has to know where a comment came from.

Examples
--------
>>> from moderation.extract import parse_scrape
>>> records = parse_scrape("本文です。\\n>>1\\nそうだね>>2 違うと思う", thread="t")
>>> [(r.kind, r.reply_to, r.text) for r in records]
[('comment', [], '本文です。'), ('comment', [1], 'そうだね'), ('comment', [2], '違うと思う')]
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import html as html_lib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("article", "comment", "title", "meta")
INPUT_FORMATS = ("auto", "scrape", "dat", "html", "jsonl", "csv")
# Record fields in output order (CSV columns, JSONL keys).
FIELDS = ("thread", "id", "no", "kind", "text", "reply_to", "deleted", "author",
          "posted_at", "urls", "span", "source")

Warn = Callable[[str], None]


class ExtractError(Exception):
    """Input the extractor cannot read; the message says what to do about it."""


@dataclass
class Comment:
    """One unit of a thread: a post, a pasted article, the thread title or page furniture.

    Parameters
    ----------
    thread : str
        Thread id (by default the stem of the file it came from).
    id : str
        Stable id: the same input always gives the same id.
    no : int or None
        Post number where the source gives one.
    kind : {'article', 'comment', 'title', 'meta'}
        ``meta`` is anything that is neither a post nor an article nor the title
        (counters, share buttons, rows that could not be read); it is kept, never dropped.
    text : str
        The post's own text, reply anchors removed. Empty for deleted posts.
    reply_to : list of int
        Post numbers this post answers (from ``>>N`` anchors).
    deleted : bool
        The source shows the post as deleted.
    author, posted_at : str or None
        Poster name and ISO 8601 time where the source gives them.
    urls : list of str
        URLs in the unit (for an article, its source URL).
    span : tuple of int
        ``[start, end)`` character offsets into the decoded source text.
    source : str
        Path of the source file.
    extra : dict
        Columns of tabular input that are not record fields, passed through unchanged.
    """

    thread: str
    id: str
    no: int | None
    kind: str
    text: str
    reply_to: list[int] = field(default_factory=list)
    deleted: bool = False
    author: str | None = None
    posted_at: str | None = None
    urls: list[str] = field(default_factory=list)
    span: tuple[int, int] = (0, 0)
    source: str = ""
    extra: dict = field(default_factory=dict)
    # The reader that produced the record ('scrape', 'dat', 'html', 'jsonl', 'csv'); not output.
    source_format: str = field(default="", compare=False, repr=False)

    def to_dict(self, *, extra: bool = True) -> dict:
        """The record as a plain dict in :data:`FIELDS` order, pass-through columns after."""
        out = {name: getattr(self, name) for name in FIELDS}
        out["reply_to"] = list(self.reply_to)
        out["urls"] = list(self.urls)
        out["span"] = list(self.span)
        if extra:
            for key, value in self.extra.items():
                out.setdefault(key, value)
        return out


# --------------------------------------------------------------------------- decoding

_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_AUTO_ENCODINGS = ("utf-8", "cp932", "euc_jp")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_JA_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af\u3000-\u303f\uff01-\uff5e]")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head and not (head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE)):
        return True
    return False


def _plausibility(text: str) -> float:
    """How much a decoded sample looks like real text: share of CJK/kana and ASCII letters."""
    if not text:
        return 1.0
    cjk = len(_JA_CHAR.findall(text))
    ascii_text = sum(1 for ch in text if " " <= ch <= "~" or ch in "\n\r\t")
    # Half-width katakana and rare symbols are what a wrong decoding of CP932/EUC-JP produces.
    odd = sum(1 for ch in text if "\uff61" <= ch <= "\uff9f" or "\u0080" <= ch <= "\u00ff")
    return (cjk + ascii_text - 3 * odd) / len(text)


def detect_encoding(data: bytes, *, name: str = "input") -> str:
    """Name the encoding of ``data``: BOM first, then a declared HTML charset, then the
    candidate among UTF-8, CP932 and EUC-JP that decodes cleanly and reads most like text.

    Raises
    ------
    ExtractError
        When the bytes look binary or no candidate decodes them.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if _looks_binary(data):
        raise ExtractError(f"{name}: looks like a binary file, not a thread dump or comment file")
    sample = data[: 1 << 20]
    declared = _META_CHARSET.search(sample[:4096])
    candidates = list(_AUTO_ENCODINGS)
    if declared:
        enc = declared.group(1).decode("ascii").lower()
        enc = {"shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
               "windows-31j": "cp932", "euc-jp": "euc_jp"}.get(enc, enc)
        try:
            codecs.lookup(enc)
            candidates.insert(0, enc)
        except LookupError:
            pass
    scored = []
    for enc in candidates:
        try:
            decoder = codecs.getincrementaldecoder(enc)(errors="strict")
            text = decoder.decode(sample, final=len(sample) == len(data))
        except UnicodeDecodeError:
            continue
        if _BINARY_CONTROL.search(text[:8192]) and len(_BINARY_CONTROL.findall(text[:8192])) > 8:
            continue
        if declared and enc == candidates[0]:
            return enc
        scored.append((_plausibility(text[:65536]), -len(scored), enc))
    if not scored:
        raise ExtractError(
            f"{name}: could not detect the text encoding (tried UTF-8, Shift_JIS/CP932, EUC-JP); "
            "pass --encoding, e.g. --encoding cp932")
    return max(scored)[2]


def decode(data: bytes, encoding: str | None = None, *, name: str = "input") -> str:
    """Decode a whole file's bytes, detecting the encoding unless one is given.

    A UTF-8 BOM is dropped, so UTF-8 copies with and without it give the same offsets.
    """
    enc = encoding or detect_encoding(data, name=name)
    try:
        text = data.decode(enc)
    except LookupError:
        raise ExtractError(f"{name}: unknown encoding {encoding!r}; use a Python codec name "
                           "such as utf-8, cp932 or euc_jp") from None
    except UnicodeDecodeError as exc:
        hint = "pass the right --encoding" if encoding else "pass --encoding"
        raise ExtractError(f"{name}: cannot decode byte {exc.start} as {enc}; {hint} "
                           "(e.g. --encoding cp932)") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _BINARY_CONTROL.search(text[:8192]) and len(_BINARY_CONTROL.findall(text[:8192])) > 8:
        raise ExtractError(f"{name}: looks like a binary file, not a thread dump or comment file")
    return text


# --------------------------------------------------------------------------- shared pieces

_DIGITS = "0-9０-９"
_ANCHOR_MARK = r"(?:>>|＞＞|≫|&gt;&gt;)"
_ANCHOR_NUM = rf"[{_DIGITS}]+(?:[ \t]?[-－−〜~][ \t]?[{_DIGITS}]+)?"
# ">>3-5,8 >>10": further numbers join the group after a comma, or after whitespace only
# with a new mark (">>3\n1万円…" is an anchor and a post that starts with a number).
_ANCHOR_GROUP = re.compile(
    rf"{_ANCHOR_MARK}[ \t]?{_ANCHOR_NUM}"
    rf"(?:[ \t]*[,、，][ \t]*(?:{_ANCHOR_MARK}[ \t]?)?{_ANCHOR_NUM}|\s*{_ANCHOR_MARK}[ \t]?{_ANCHOR_NUM})*")
_ANCHOR_NUMBERS = re.compile(rf"([{_DIGITS}]+)(?:\s?[-－−〜~]\s?([{_DIGITS}]+))?")
URL_RE = re.compile(r"(?:https?|ttps?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_MAX_RANGE = 50


def anchor_numbers(anchor: str) -> list[int]:
    """Post numbers named by an anchor group: ``>>3-5,8`` → ``[3, 4, 5, 8]``."""
    out: list[int] = []
    for m in _ANCHOR_NUMBERS.finditer(anchor):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo or hi - lo > _MAX_RANGE:
            hi = lo
        for n in range(lo, hi + 1):
            if n not in out:
                out.append(n)
    return out


def stable_id(thread: str, kind: str, text: str, seen: dict) -> str:
    """An id from the content, so it stays put when posts before it are added or removed."""
    key = (kind, text)
    seen[key] = seen.get(key, 0) + 1
    digest = hashlib.sha1(f"{thread}\0{kind}\0{text}\0{seen[key]}".encode()).hexdigest()[:12]
    return f"{thread}-{digest}"


_DELETED_BODY = re.compile(
    r"^(?:このレスは削除されています|このレスは削除されました|この投稿は削除されました|"
    r"このコメントは削除されました|このコメントは削除されています|削除されました|"
    r"投稿者により削除されました|管理者により削除されました|あぼーん|透明あぼーん)[。\s]*$")


def is_deletion_notice(text: str) -> bool:
    return bool(_DELETED_BODY.match(text.strip()))


_DATE = re.compile(
    r"(?P<y>\d{4})[/\-年](?P<mo>\d{1,2})[/\-月](?P<d>\d{1,2})日?\s*(?:[(（][^)）\n]{1,4}[)）])?\s*"
    r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\.\d+)?")


def iso_time(text: str) -> str | None:
    """The first date-time in ``text`` as ISO 8601 (board times carry no zone)."""
    m = _DATE.search(text)
    if not m:
        return None
    y, mo, d, h, mi = (int(m.group(k)) for k in ("y", "mo", "d", "h", "mi"))
    s = int(m.group("s") or 0)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"


def clean_text(text: str) -> str:
    r"""A comment's text as every entry point scores it: CRLF as LF, outer blanks removed.

    Examples
    --------
    >>> clean_text("  本文\r\n二行目 ")
    '本文\n二行目'
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _clean_lines(text: str) -> str:
    """Strip each line's ends and drop blank lines at the edges; keep inner line breaks."""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


# --------------------------------------------------------------------------- scraped page text

# A post header as scraped pages show it: ``名無し2025/07/27(Sun) 10:58:14(1/1)``, optionally
# with the post number on the line before (``- 5``) or in front (``5 ：名無し：…``).
_NUMBER_LINE = re.compile(r"^[ \t]*[-－‐―]?[ \t]*(\d{1,6})[ \t]*$")
_HEADER_LINE = re.compile(
    r"^[ \t]*(?:(?P<no>\d{1,6})[ \t]*[:：]?[ \t]*)?(?P<name>[^\n]{0,48}?)[ \t]*[:：]?[ \t]*"
    r"(?P<date>\d{4}/\d{1,2}/\d{1,2}[ \t]*(?:[(（][^)）\n]{1,4}[)）])?[ \t]*\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)"
    r"[ \t]*(?P<page>\(\d+/\d+\))?[ \t]*(?P<uid>ID[:：][ \t]*\S+)?[ \t]*$")
# A poster's name: short, and not a sentence (a post that ends with a date is not a header).
_NAME_LIKE = re.compile(r"^[^。、！!？?\s]{0,24}$")
_SHARE_LINE = re.compile(
    r"^(?:(?:ツイート|ポスト|LINE|お気に入り|シェア|はてブ|はてなブックマーク|Tweet|Facebook|"
    r"いいね|Pocket|B!|Share|印刷|コメント)[\s|・/]*){2,}$")
_COUNTER_LINE = re.compile(r"^[\d,]+$")
# Colloquial board speech: a paragraph with these is a poster talking, not a news article.
_COLLOQUIAL = re.compile(
    r"(?<![A-Za-z])[wｗ]+(?![A-Za-z])|[草☝✨😂🤣👍]|(?:だろ(?!う)|じゃん|よな|よね|なぁ|ねえ|んだよ|やん|かよ|だな|だわ|ですね|ますね|"
    r"じゃね|んじゃ|おまえ|お前|俺|オレ|ワイ|ぞ[。!！?？]?$|ね[。!！?？]?$|よ[。!！?？]?$|わ[。!！]?$|"
    r"な[。!！]?$|[?？!！]$|笑)")
# Plain-form sentence ends of news prose (です/ます is a poster being polite, not an article).
_FORMAL_END = re.compile(r"(?:た|だ|る|い|う|ず|ぬ|ある|いる|という|とした|見通し|模様|方針|予定)[」』)）]?。")
_SENTENCE = re.compile(r"[^。]+。")
_HEADING_START = re.compile(r"^[【◇◆■□●○▼▽＜<〈《]")
_CREDIT_LINE = re.compile(
    r"^[ \t]*[/／(（【〈<＜―—\-]?[ \t]*[^\n。、]{0,20}?"
    r"(?:News|NEWS|ニュース|新聞|通信|日報|時事|共同|聯合|ロイター|Reuters|AFP|AFPBB|ハンギョレ|"
    r"中央日報|朝鮮日報|東亜日報|産経|読売|毎日|朝日|日経|NHK|TBS|テレ朝|フジ|ブルームバーグ|Bloomberg|"
    r"CNN|BBC|Record China|レコードチャイナ|聯合ニュース|編集部|記者)"
    r"[^\n。]{0,20}?[)）】〉>＞]?[ \t]*$")
# Where a headline glued onto the end of a post may begin: a kanji/katakana/bracket right after
# the end of a sentence (punctuation, laughter, or a sentence-final form such as …ない, …だ, …ね).
_GLUE_BOUNDARY = re.compile(
    r"(?:[。！!？?wｗ☝✨♪\ufe0f]|(?<=[\u3040-\u309f])(?:よ|ね|な|わ|ぞ|だ|た|る|い|す|か|ん))"
    r"(?=[\u4e00-\u9fff\u30a0-\u30ff「『【◇<＜])")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
# Inside a headline a clause may end (…差し出した米国), but not a spoken sentence (…揉めてるな中国…).
_STRONG_BOUNDARY = re.compile(
    r"(?:[。！!？?wｗ]|(?<=[\u3040-\u309f])(?:よ|ね|な|わ|ぞ))(?=[\u4e00-\u9fff\u30a0-\u30ff「『【])")
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
    sentences = _SENTENCE.findall(line)
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
        tail = stripped[m.end():].strip()
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
    marker: str                   # 'start' | 'anchor' | 'after_url' | 'header' | 'title' | 'meta'
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
        if saw_share and i >= 0 and _is_heading(self.line(i)) and not _HEADER_LINE.match(self.line(i)):
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
            m = _HEADER_LINE.match(line)
            if not m or not iso_time(m.group("date")):
                continue
            name = m.group("name").strip(" :：")
            if not _NAME_LIKE.match(name) or URL_RE.search(name):
                continue
            no = int(m.group("no")) if m.group("no") else None
            start_line = i
            if i > 0 and (num := _NUMBER_LINE.match(self.line(i - 1))):
                no = int(num.group(1))
                start_line = i - 1
            if no is None and not (m.group("page") or m.group("uid")):
                continue  # a line that merely ends with a date, inside a post
            out.append((self.lines[start_line][0], "header", {
                "no": no, "author": name or None, "posted_at": iso_time(m.group("date")),
                "body_start": self.lines[i][1] + 1}))
            skip_lines.update({start_line, i})

        # Anchors that begin a post, and URLs glued onto the next post's text.
        for i in range(min(footer, len(self.lines))):
            if i in skip_lines:
                continue
            a, b = self.lines[i]
            line = text[a:b]
            if ">" not in line and "＞" not in line and "≫" not in line and "://" not in line \
                    and "&gt;" not in line:
                continue
            first = len(line) - len(line.lstrip())  # the line's text starts here …
            last = len(line.rstrip())               # … and ends here
            for m in _ANCHOR_GROUP.finditer(line):
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
            if item[1] == "anchor" and prev and prev[1] in ("header", "anchor") \
                    and not text[prev[2]["body_start"]:item[0]].strip():
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
            unit = _Unit(offset, end, marker, no=info.get("no"), author=info.get("author"),
                         posted_at=info.get("posted_at"), body_start=info.get("body_start"))
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
        if text[pending:unit.end].strip():
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
            if _is_heading(line) and not _HEADER_LINE.match(line) and i - 1 >= floor \
                    and _is_paragraph(texts[i - 1]) and paragraphs:
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
            if _is_heading(line) and not _HEADER_LINE.match(line):
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
        while i < len(texts) and (_is_paragraph(texts[i]) or not texts[i].strip()
                                  or (paragraphs and _is_heading(texts[i]) and i + 1 < len(texts)
                                      and _is_paragraph(texts[i + 1]))):
            paragraphs += bool(texts[i].strip())
            i += 1
        if paragraphs < 2 or start >= len(texts):
            return [unit]
        split = lines[i][0] if i < len(lines) else unit.end
        pieces = [_Unit(unit.start, split, "article", kind="article")]
        if self.text[split:unit.end].strip():
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
    start, end = _strip_span(text, unit.start, unit.end)
    if start >= end:
        return None
    raw = text[start:end]
    reply_to: list[int] = []
    body = raw
    if unit.marker == "anchor":
        m = _ANCHOR_GROUP.match(raw)
        if m:
            reply_to = anchor_numbers(m.group(0))
            body = raw[m.end():]
    elif unit.marker == "header" and unit.body_start is not None:
        body = text[max(unit.body_start, start):end] if unit.body_start < end else ""
        m = _ANCHOR_GROUP.match(body.lstrip())
        if m:
            reply_to = anchor_numbers(m.group(0))
            body = body.lstrip()[m.end():]
    kind = unit.kind
    urls = URL_RE.findall(raw)
    deleted = False
    if kind == "article":
        # The source URL is the article's provenance, not part of its text.
        body = _clean_lines(URL_RE.sub(lambda m: "" if m.end() == len(raw) or
                                       raw[m.end()] in "\r\n" else m.group(0), raw))
    else:
        body = _clean_lines(body)
    if kind == "comment":
        if is_deletion_notice(body):
            deleted, body = True, ""
        elif not body and not reply_to and unit.marker not in ("header",):
            kind = "meta"
            body = _clean_lines(raw)
        elif _NUMBER_LINE.match(body) and not reply_to and unit.marker != "header":
            kind = "meta"  # a stray post number with no header: page furniture
    return Comment(thread=thread, id=stable_id(thread, kind, body if body else raw, seen),
                   no=unit.no, kind=kind, text=body, reply_to=reply_to, deleted=deleted,
                   author=unit.author, posted_at=unit.posted_at, urls=urls, span=(start, end),
                   source=source)


# --------------------------------------------------------------------------- 2ch/5ch .dat

_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"\s*<br\s*/?>\s*", re.I)


def html_to_text(fragment: str) -> str:
    """A post body's HTML as plain text: ``<br>`` to newlines, tags dropped, entities decoded."""
    fragment = _BR.sub("\n", fragment)
    fragment = re.sub(r"</?(?:p|div|dd|li)\b[^>]*>", "\n", fragment, flags=re.I)
    fragment = _TAG.sub("", fragment)
    return _clean_lines(html_lib.unescape(fragment))


def _split_leading_anchors(body: str) -> tuple[list[int], str]:
    """Leading reply anchors of a post body, and the body without them."""
    stripped = body.lstrip()
    m = _ANCHOR_GROUP.match(stripped)
    if not m:
        return [], body
    return anchor_numbers(m.group(0)), _clean_lines(stripped[m.end():])


def _reply_numbers(body: str) -> tuple[list[int], str]:
    """All anchors of a post that was already split (``.dat``, HTML): the leading ones
    are removed from the text, later ones stay in it as references but count as replies."""
    reply_to, text = _split_leading_anchors(body)
    for m in _ANCHOR_GROUP.finditer(text):
        for n in anchor_numbers(m.group(0)):
            if n not in reply_to:
                reply_to.append(n)
    return reply_to, text


def parse_dat(text: str, *, thread: str = "thread", source: str = "") -> list[Comment]:
    """Read a 2ch/5ch ``.dat`` thread: ``name<>mail<>date ID<>body<>title`` per line.

    Line *n* is post *n*; ``あぼーん`` lines are deleted posts; the first line's last field
    is the thread title (its own ``title`` record). A line that is not in the format
    comes out as a ``meta`` record, never lost.

    Examples
    --------
    >>> recs = parse_dat("名無し<>sage<>2025/08/01(金) 12:00:00.00 ID:ab<> 本文 <br> 二行目 <>スレ\\n")
    >>> [(r.kind, r.no, r.text) for r in recs]
    [('title', None, 'スレ'), ('comment', 1, '本文\\n二行目')]
    """
    records: list[Comment] = []
    seen: dict = {}
    pos = 0
    for no, line in enumerate(text.splitlines(keepends=True), start=1):
        start, end = _strip_span(text, pos, pos + len(line))
        pos += len(line)
        if start >= end:
            continue
        raw = text[start:end]
        fields = raw.split("<>")
        if len(fields) < 4:
            records.append(Comment(thread, stable_id(thread, "meta", raw, seen), no, "meta", raw,
                                   span=(start, end), source=source))
            continue
        name, _mail, date, body = fields[0], fields[1], fields[2], fields[3]
        title = fields[4].strip() if len(fields) > 4 else ""
        if no == 1 and title:
            t = html_to_text(title)
            tstart = start + raw.rfind(fields[4])
            records.append(Comment(thread, stable_id(thread, "title", t, seen), None, "title", t,
                                   span=_strip_span(text, tstart, tstart + len(fields[4])),
                                   source=source))
        deleted = "あぼーん" in name and "あぼーん" in date or is_deletion_notice(html_to_text(body))
        reply_to, body_text = _reply_numbers(html_to_text(body))
        if deleted:
            reply_to, body_text = [], ""
        author = html_to_text(name) or None
        records.append(Comment(
            thread, stable_id(thread, "comment", body_text or raw, seen), no, "comment", body_text,
            reply_to=reply_to, deleted=deleted, author=None if deleted else author,
            posted_at=None if deleted else iso_time(date), urls=URL_RE.findall(body_text),
            span=(start, end), source=source))
    return records


# --------------------------------------------------------------------------- saved HTML pages

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
            records.append(Comment(thread, stable_id(thread, "title", t, seen), None, "title", t,
                                   span=_strip_span(text, m.start(1), m.end(1)), source=source))
    posts = _html_posts_div(clean) or _html_posts_dl(clean)
    if not posts:
        # Unknown layout: read the page's text like a scraped page. Tags are blanked to the
        # same length (a line break for block tags), so spans stay offsets into the page.
        # Inline tags become a filler character that is dropped from the texts afterwards.
        plain = _TAG.sub(lambda m: "\n" + " " * (len(m.group(0)) - 1) if _BLOCK_TAG.match(m.group(0))
                         else _TAG_FILLER * len(m.group(0)), clean)
        return records + [dataclasses.replace(r, text=_clean_lines(html_lib.unescape(r.text.replace(_TAG_FILLER, ""))))
                          for r in parse_scrape(plain, thread=thread, source=source)
                          if r.kind != "title" or not records]
    for start, end, head, body in posts:
        head_text = html_to_text(head)
        num = re.match(r"\s*(\d+)", head_text)
        no = int(num.group(1)) if num else None
        body_text = html_to_text(body)
        deleted = is_deletion_notice(body_text) or ("あぼーん" in head_text and not iso_time(head_text))
        reply_to, body_text = _reply_numbers(body_text)
        if deleted:
            reply_to, body_text = [], ""
        name_m = _NAME_SPAN.search(head)
        if name_m:
            author = html_to_text(name_m.group(1))
        else:
            parts = re.split(r"[：:]", head_text, maxsplit=2)
            author = parts[1].strip() if len(parts) > 2 else None
        records.append(Comment(
            thread, stable_id(thread, "comment", body_text or head_text, seen), no, "comment",
            body_text, reply_to=reply_to, deleted=deleted, author=None if deleted else (author or None),
            posted_at=None if deleted else iso_time(head_text), urls=URL_RE.findall(body_text),
            span=_strip_span(text, start, end), source=source))
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
        body = re.sub(r"</dd>.*", "", html[dd.end():end], flags=re.I | re.S)
        posts.append((m.start(), dd.end() + len(body), m.group(1), body))
    return posts


# --------------------------------------------------------------------------- CSV / JSONL

TABULAR_FIELDS = ("id", "thread", "no", "reply_to", "thread_title", "kind", "deleted", "author",
                  "posted_at")


def _as_int(value) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _as_int_list(value) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [n for n in (_as_int(v) for v in value) if n is not None]
    if isinstance(value, (int, float)) and value == value:
        return [int(value)]
    return [int(n) for n in re.findall(r"\d+", str(value))]


def _tabular_record(row: dict, *, thread: str, source: str, span: tuple[int, int], seen: dict,
                    where: str, warn: Warn | None) -> Comment:
    """One comment from a CSV row or JSONL object; a row without usable text is kept as meta."""
    text = row.get("text")
    thread_id = str(row.get("thread") or thread)
    if not isinstance(text, str):
        raw = json.dumps(row, ensure_ascii=False, default=str)
        if warn:
            what = "no 'text' field" if text is None else f"'text' is {type(text).__name__}, not text"
            warn(f"{where}: {what}; kept as a meta record")
        return Comment(thread_id, stable_id(thread_id, "meta", raw, seen), None, "meta", raw,
                       span=span, source=source)
    if not is_encodable(text):
        if warn:
            warn(f"{where}: text has characters that are not valid Unicode (lone surrogates); "
                 "replaced with U+FFFD")
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = clean_text(text)
    extra = {k: v for k, v in row.items() if k not in TABULAR_FIELDS and k != "text"}
    if row.get("thread_title") not in (None, ""):
        extra["thread_title"] = row["thread_title"]
    kind = row.get("kind") if row.get("kind") in KINDS else "comment"
    rid = row.get("id")
    deleted = row.get("deleted")
    deleted = str(deleted).strip().lower() in ("1", "true", "yes") if deleted not in (None, "") else False
    return Comment(
        thread=thread_id,
        id=str(rid) if rid not in (None, "") else stable_id(thread_id, kind, text, seen),
        no=_as_int(row.get("no")), kind=kind, text=text, reply_to=_as_int_list(row.get("reply_to")),
        deleted=deleted, author=(str(row["author"]) if row.get("author") not in (None, "") else None),
        posted_at=(str(row["posted_at"]) if row.get("posted_at") not in (None, "") else None),
        urls=URL_RE.findall(text), span=span, source=source, extra=extra)


def _offset_lines(stream: Iterable[str]) -> Iterator[tuple[int, str]]:
    pos = 0
    for line in stream:
        yield pos, line
        pos += len(line)


def iter_jsonl(stream: Iterable[str], *, thread: str = "thread", source: str = "",
               warn: Warn | None = None) -> Iterator[Comment]:
    """Comments from JSON Lines, one object per line, streamed.

    A line that is not a JSON object is reported through ``warn`` with its line number
    and kept as a ``meta`` record holding the raw line.
    """
    seen: dict = {}
    name = source or "input"
    first = True
    for lineno, (pos, line) in enumerate(_offset_lines(stream), start=1):
        if first and line.startswith("\ufeff"):
            line = line[1:]
            pos += 1
        first = False
        start, end = pos, pos + len(line.rstrip("\r\n"))
        stripped = line.strip()
        if not stripped:
            continue
        try:
            row = json.loads(stripped)
        except json.JSONDecodeError as exc:
            row = exc
        if not isinstance(row, dict):
            what = f"not valid JSON ({row.msg})" if isinstance(row, json.JSONDecodeError) else "not a JSON object"
            if warn:
                warn(f"{name}:{lineno}: {what}; kept as a meta record")
            yield Comment(thread, stable_id(thread, "meta", stripped, seen), None, "meta", stripped,
                          span=(start, end), source=source)
            continue
        yield _tabular_record(row, thread=thread, source=source, span=(start, end), seen=seen,
                              where=f"{name}:{lineno}", warn=warn)


def iter_csv(stream: Iterable[str], *, thread: str = "thread", source: str = "",
             warn: Warn | None = None, delimiter: str | None = None) -> Iterator[Comment]:
    """Comments from CSV (or TSV) with a header row and a ``text`` column, streamed.

    Raises
    ------
    ExtractError
        When there is no ``text`` column.
    """
    name = source or "input"
    tracked = _offset_lines(stream)
    position = {"pos": 0, "line": 0}

    pending_lines: list[str] = []  # the physical lines of the row being read

    def lines():
        for pos, line in tracked:
            position["line"] += 1
            position["pos"] = pos + len(line)
            pending_lines.append(line)
            yield line

    it = lines()
    first = next(it, None)
    if first is None:
        return
    header_line = first.lstrip("\ufeff")
    if delimiter is None:
        delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    header = [h.strip() for h in header]
    if "text" not in header:
        raise ExtractError(f"{name}: no 'text' column (columns: {', '.join(header) or 'none'}); "
                           "name the column that holds the comment 'text'")
    csv.field_size_limit(1 << 26)  # a long comment is still a comment (the default is 128 KiB)
    reader = csv.reader(it, delimiter=delimiter)
    seen: dict = {}
    while True:
        start = position["pos"]
        line_no = position["line"] + 1
        pending_lines.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if warn:
                warn(f"{name}:{line_no}: unreadable CSV row ({exc}); kept as a meta record")
            end = position["pos"]
            raw = "".join(pending_lines) if pending_lines else ""
            yield Comment(thread, stable_id(thread, "meta", f"{line_no}:{raw}", seen), None, "meta", raw,
                          span=(start, end), source=source)
            continue
        end = position["pos"]
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            if warn:
                warn(f"{name}:{line_no}: {len(row)} fields where the header has {len(header)}; "
                     "kept as a meta record")
            raw = delimiter.join(row)
            yield Comment(thread, stable_id(thread, "meta", raw, seen), None, "meta", raw,
                          span=(start, end), source=source)
            continue
        yield _tabular_record(dict(zip(header, row)), thread=thread, source=source,
                              span=(start, end), seen=seen, where=f"{name}:{line_no}", warn=warn)


# --------------------------------------------------------------------------- files and formats

_EXTENSIONS = {".dat": "dat", ".html": "html", ".htm": "html", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".csv": "csv", ".tsv": "csv", ".txt": "scrape", ".text": "scrape"}
_DAT_LINE = re.compile(r"^[^\n]*<>[^\n]*<>[^\n]*<>[^\n]*<>", re.M)


def detect_format(path: str | os.PathLike, head: str) -> str:
    """Pick a reader from the file's content, then its extension.

    Examples
    --------
    >>> detect_format("x.txt", '{"text": "hi"}')
    'jsonl'
    """
    sample = head.lstrip("\ufeff \t\r\n")[:65536]
    low = sample[:2048].lower()
    if low.startswith("<!doctype html") or low.startswith("<html") or (
            "<body" in low and "</" in low) or re.search(r"<(?:dl|dt|dd|div)\b[^>]*>", low) and "<br" in sample.lower():
        return "html"
    lines = [ln for ln in sample.splitlines()[:20] if ln.strip()]
    if lines and sum(bool(_DAT_LINE.match(ln)) for ln in lines) >= max(1, len(lines) // 2):
        return "dat"
    if lines and lines[0].startswith("{"):
        try:
            if isinstance(json.loads(lines[0]), dict):
                return "jsonl"
        except json.JSONDecodeError:
            pass
    ext = _EXTENSIONS.get(Path(path).suffix.lower())
    if ext:
        return ext
    if lines and re.match(r"^\ufeff?[\w\"' ]+([,\t][\w\"' ]+)+$", lines[0]) and re.search(
            r"(?:^|[,\t])\"?text\"?(?:$|[,\t])", lines[0]):
        return "csv"
    return "scrape"


def walk(paths: Iterable[str | os.PathLike], *, suffixes: Iterable[str] | None = None,
         describe: str = "files to read (.txt, .dat, .html, .csv, .jsonl, …)") -> list[Path]:
    """The files named, with directories walked: sorted, hidden files and folders skipped,
    and only files with one of ``suffixes`` (default: the readable formats' extensions, or
    none), so a README.md or an expected.json beside the dumps is not read as a thread.

    Raises
    ------
    ExtractError
        For a path that does not exist or a directory with no such files in it.
    """
    allowed = {s.lower() for s in suffixes} if suffixes is not None else set(_EXTENSIONS) | {""}
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise ExtractError(f"{p}: no such file or directory")
        if path.is_dir():
            found = sorted(
                f for f in path.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts)
                and f.suffix.lower() in allowed)
            if not found:
                raise ExtractError(f"{p}: directory has no {describe}")
            files.extend(found)
        else:
            files.append(path)
    return files


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path}: cannot read ({exc.strerror or exc})") from None


_STREAM_THRESHOLD = 8 << 20  # tabular files above this are decoded as a stream


def extract_file(path: str | os.PathLike, *, input_format: str = "auto", encoding: str | None = None,
                 thread: str | None = None, warn: Warn | None = None) -> Iterator[Comment]:
    """Records from one file. CSV and JSONL are streamed, so memory stays flat.

    Parameters
    ----------
    path : path-like
    input_format : {'auto', 'scrape', 'dat', 'html', 'jsonl', 'csv'}
    encoding : str, optional
        Skip detection and decode with this codec.
    thread : str, optional
        Thread id for records that carry none (default: the file stem).
    warn : callable, optional
        Called with a one-line message for each row that had to be kept as ``meta``.
    """
    path = Path(path)
    if input_format not in INPUT_FORMATS:
        raise ExtractError(f"unknown input format {input_format!r}; choose one of {', '.join(INPUT_FORMATS)}")
    thread = thread or path.stem.replace(".sjis", "")
    source = str(path)
    size = path.stat().st_size if path.exists() else 0
    records = None
    if size > _STREAM_THRESHOLD and input_format in ("auto", "jsonl", "csv"):
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        enc = encoding or detect_encoding(head + b"\n", name=source)
        fmt = input_format if input_format != "auto" else detect_format(path, head.decode(enc, "replace"))
        if fmt in ("jsonl", "csv"):
            records = _stream_tabular(path, fmt, enc, thread, source, warn)
    if records is None:
        text = decode(_read_bytes(path), encoding, name=source)
        fmt = input_format if input_format != "auto" else detect_format(path, text[:65536])
        if fmt == "scrape":
            records = parse_scrape(text, thread=thread, source=source)
        elif fmt == "dat":
            records = parse_dat(text, thread=thread, source=source)
        elif fmt == "html":
            records = parse_html(text, thread=thread, source=source)
        elif fmt == "jsonl":
            records = iter_jsonl(io.StringIO(text, newline=""), thread=thread, source=source, warn=warn)
        else:
            records = iter_csv(io.StringIO(text, newline=""), thread=thread, source=source, warn=warn)
    for rec in records:
        rec.source_format = fmt
        yield rec


def _stream_tabular(path: Path, fmt: str, enc: str, thread: str, source: str,
                    warn: Warn | None) -> Iterator[Comment]:
    try:
        with open(path, encoding=enc, newline="", errors="strict") as fh:
            reader = iter_jsonl if fmt == "jsonl" else iter_csv
            yield from reader(fh, thread=thread, source=source, warn=warn)
    except UnicodeDecodeError as exc:
        raise ExtractError(f"{source}: cannot decode byte {exc.start} of a chunk as {enc}; "
                           "pass --encoding") from None


def extract(paths: Iterable[str | os.PathLike] | str | os.PathLike, *, input_format: str = "auto",
            encoding: str | None = None, warn: Warn | None = None,
            skip_unreadable_in_dirs: bool = True) -> Iterator[Comment]:
    """Records from files and directories, in order.

    Inside a directory, a file that cannot be read as text (an image, say) is reported
    through ``warn`` and skipped; a directory with nothing readable is an error. A file
    named directly that cannot be read is always an error.

    Examples
    --------
    >>> from moderation.extract import extract
    >>> recs = list(extract("seeds"))                      # doctest: +SKIP
    >>> sum(r.kind == "comment" for r in recs)             # doctest: +SKIP
    16
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    for p in paths:
        path = Path(p)
        if path.is_dir():
            readable = 0
            for f in walk([path]):
                records = extract_file(f, input_format=input_format, encoding=encoding, warn=warn)
                try:
                    first = next(records, None)  # a file that cannot be read fails here …
                except ExtractError as exc:
                    if not skip_unreadable_in_dirs:
                        raise
                    if warn:
                        warn(f"skipped {exc}")
                    continue
                readable += 1
                if first is not None:
                    yield first
                    yield from records  # … and the rest streams
            if not readable:
                raise ExtractError(f"{p}: nothing readable in this directory (no text thread dumps "
                                   "or comment files)")
        else:
            walk([path])  # raises a clear error for a missing path
            yield from extract_file(path, input_format=input_format, encoding=encoding, warn=warn)


def extract_frame(paths, **kwargs):
    """:func:`extract` as a pandas DataFrame, one row per record, columns :data:`FIELDS` first."""
    import pandas as pd

    rows = [r.to_dict() for r in extract(paths, **kwargs)]
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(FIELDS))
    return frame
