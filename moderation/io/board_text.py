"""What board text looks like, shared by every reader: reply anchors, URLs, dates, deletion
notices, stable record ids, HTML fragments, and the cleaning of a post's text.

Examples
--------
>>> anchor_numbers(">>3-5,8")
[3, 4, 5, 8]
>>> URL_RE.findall("ソースhttps://example.com/a より")
['https://example.com/a']
>>> iso_time("2025/07/27(Sun) 10:58:14")
'2025-07-27T10:58:14'
"""

from __future__ import annotations

import bisect
import hashlib
import html as html_lib
import re

_DIGITS = "0-9０-９"
_ANCHOR_MARK = r"(?:>>|＞＞|≫|&gt;&gt;)"
_ANCHOR_NUM = rf"[{_DIGITS}]+(?:[ \t]?[-－−〜~][ \t]?[{_DIGITS}]+)?"
# ">>3-5,8 >>10": further numbers join the group after a comma, or after whitespace only
# with a new mark (">>3\n1万円…" is an anchor and a post that starts with a number).
#: A run of reply anchors (``>>3-5,8 >>10``, full-width ``＞＞１２``, HTML-escaped ``&gt;&gt;2``).
ANCHOR_GROUP = re.compile(
    rf"{_ANCHOR_MARK}[ \t]?{_ANCHOR_NUM}"
    rf"(?:[ \t]*[,、，][ \t]*(?:{_ANCHOR_MARK}[ \t]?)?{_ANCHOR_NUM}|\s*{_ANCHOR_MARK}[ \t]?{_ANCHOR_NUM})*"
)
_ANCHOR_NUMBERS = re.compile(rf"([{_DIGITS}]+)(?:\s?[-－−〜~]\s?([{_DIGITS}]+))?")
_MARK_CHARS = ">＞≫&gt; \t"  # what an anchor group can start with before its first digit
_DIGIT_CHARS = "0123456789０１２３４５６７８９"  # those of _DIGITS
#: A URL as boards write it (``ttp://`` included: a common way to post a link unlinked).
URL_RE = re.compile(r"(?:https?|ttps?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_MAX_RANGE = 50


def anchor_numbers(anchor: str) -> list[int]:
    """Post numbers named by an anchor group: ``>>3-5,8`` → ``[3, 4, 5, 8]``.

    Parameters
    ----------
    anchor : str
        Text matched by :data:`ANCHOR_GROUP`. A range wider than 50 posts counts as its first number.

    Returns
    -------
    list of int
        Each number once, in order of appearance.

    Examples
    --------
    >>> anchor_numbers("＞＞１０ ＞＞１１")
    [10, 11]
    """
    number = anchor.lstrip(_MARK_CHARS)
    if number and not number.strip(_DIGIT_CHARS):  # one number (">>12", "＞＞１２"): without the pattern
        return [int(number)]
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
    """An id from the content, so it stays put when posts before it are added or removed.

    Parameters
    ----------
    thread, kind, text : str
        What the id is computed from.
    seen : dict
        Per-thread counter of ``(kind, text)`` pairs, updated here, so repeated posts get distinct ids.

    Returns
    -------
    str
        ``<thread>-<12 hex digits>``.

    Examples
    --------
    >>> seen = {}
    >>> stable_id("t", "comment", "同じ", seen) != stable_id("t", "comment", "同じ", seen)
    True
    """
    key = (kind, text)
    seen[key] = seen.get(key, 0) + 1
    digest = hashlib.sha1(f"{thread}\0{kind}\0{text}\0{seen[key]}".encode()).hexdigest()[:12]
    return f"{thread}-{digest}"


_DELETED_BODY = re.compile(
    r"^(?:このレスは削除されています|このレスは削除されました|この投稿は削除されました|"
    r"このコメントは削除されました|このコメントは削除されています|削除されました|"
    r"投稿者により削除されました|管理者により削除されました|管理者によって削除されました|"
    r"このレスは管理人によって削除されました|管理人によって削除されました|削除済み|"
    r"あぼーん|あぼ～ん|あぼ〜ん|透明あぼーん|うふ～ん|うふ〜ん|"
    r"＜削除＞|<削除>|書き込みをした人によって削除されました|スレッドを立てた人によって削除されました|"
    r"削除依頼によって隔離されました)[。.\s]*$"
)


def is_deletion_notice(text: str) -> bool:
    """Whether a post's whole text is a board's notice that it was deleted.

    Examples
    --------
    >>> is_deletion_notice(" このレスは削除されています "), is_deletion_notice("あぼーんされた")
    (True, False)
    """
    if "削除" not in text and "あぼ" not in text and "うふ" not in text:
        return False  # every notice holds one of these: most posts are answered here
    return bool(_DELETED_BODY.match(text.strip()))


# Four-digit years (2025/08/01) and the two-digit ones of older boards and futaba (11/10/21(金)).
# No two unbounded runs are adjacent, so a search stays linear on any input.
_DATE = re.compile(
    r"(?<!\d)(?P<y>\d{4}|\d{2})[/\-年](?P<mo>\d{1,2})[/\-月](?P<d>\d{1,2})日?\s*(?:[(（][^)）\n]{1,4}[)）]\s*)?"
    r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\.\d+)?"
)


def iso_time(text: str) -> str | None:
    """The first date-time in ``text`` as ISO 8601 (board times carry no zone).

    Returns
    -------
    str or None
        None when there is no date-time, or it is not a valid one.

    Examples
    --------
    >>> iso_time("2025/08/01(金) 12:34:56.78 ID:AbCd1234")
    '2025-08-01T12:34:56'
    >>> iso_time("11/10/21(金)12:34:56 No.123")
    '2011-10-21T12:34:56'
    >>> iso_time("2025/13/01 12:00") is None
    True
    """
    m = _DATE.search(text)
    if not m:
        return None
    y_text, mo_text, d_text, h_text, mi_text, s_text = m.groups()
    if len(y_text) == 4 and len(mo_text) == len(d_text) == len(h_text) == 2 and s_text:
        # The usual 2025/08/01(金) 12:34:56: checked as strings (same-length digit strings
        # compare as their numbers), no conversions.
        if "01" <= mo_text <= "12" and "01" <= d_text <= "31" and h_text < "24" and mi_text < "60" and s_text < "61":
            return f"{y_text}-{mo_text}-{d_text}T{h_text}:{mi_text}:{s_text}"
        return None
    y, mo, d, h, mi = int(y_text), int(mo_text), int(d_text), int(h_text), int(mi_text)
    s = int(s_text) if s_text else 0
    if len(y_text) == 2:
        y += 1900 if y >= 90 else 2000  # boards began in the late 1990s
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (y, mo, d, h, mi, s)  # noqa: UP031 (faster than an f-string with specs)


def clean_text(text: str) -> str:
    r"""A comment's text as every entry point scores it: CRLF as LF, outer blanks removed.

    Examples
    --------
    >>> clean_text("  本文\r\n二行目 ")
    '本文\n二行目'
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


class CleanedText:
    r""":func:`clean_text` of ``original`` and the way back: :meth:`span` maps a span of the
    cleaned text to the same characters of the original, so a span reported to a caller is
    always into the text the caller sent.

    Parameters
    ----------
    original : str

    Attributes
    ----------
    original, text : str
        The text as sent and as scored (``clean_text(original)``).

    Examples
    --------
    >>> c = CleanedText("  一行\r\n二行 ")
    >>> c.text, c.span(3, 5), c.original[slice(*c.span(3, 5))]
    ('一行\n二行', (6, 8), '二行')
    """

    __slots__ = ("_crlf", "_lead", "original", "text")

    def __init__(self, original: str):
        self.original = original
        self.text = clean_text(original)
        self._lead = len(original) - len(original.lstrip())
        inner = original[self._lead : self._lead + len(original.strip())]
        # Where each CRLF (one character once cleaned) sits in the cleaned text.
        self._crlf = [m.start() - k for k, m in enumerate(re.finditer("\r\n", inner))] if "\r\n" in inner else []

    @property
    def changed(self) -> bool:
        """Whether cleaning changed the text (else every span is the same in both)."""
        return self.text != self.original

    def offset(self, i: int) -> int:
        """The offset in the original of offset ``i`` of the cleaned text."""
        return self._lead + i + bisect.bisect_left(self._crlf, i)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """``[start, end)`` of the cleaned text as ``[start, end)`` of the original."""
        return self.offset(start), self.offset(end)


def is_encodable(text: str) -> bool:
    r"""Whether ``text`` can be written as UTF-8 (no lone surrogates).

    Examples
    --------
    >>> is_encodable("ok"), is_encodable("bad \ud800")
    (True, False)
    """
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past surrounding whitespace.

    Examples
    --------
    >>> strip_span("  本文 \\n", 0, 6)
    (2, 4)
    """
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def clean_lines(text: str) -> str:
    r"""Strip each line's ends and drop blank lines at the edges; keep inner line breaks.

    Examples
    --------
    >>> clean_lines("\n 一行目 \r\n\n 三行目\n\n")
    '一行目\n\n三行目'
    """
    if "\n" not in text and "\r" not in text:  # one line: the common case, done without a list
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # a lone CR ends a line too
    return "\n".join([line.strip() for line in text.split("\n")]).strip("\n")


def head_lines(sample: str) -> list[str]:
    """The non-blank lines among the first 20 lines of ``sample``: what format sniffers look at.

    Examples
    --------
    >>> head_lines("a\\n\\n b\\n")
    ['a', ' b']
    """
    return [ln for ln in sample.splitlines()[:20] if ln.strip()]


# --------------------------------------------------------------------------- HTML fragments

#: Any HTML tag (a ``<`` inside one starts the next: linear on any input).
TAG = re.compile(r"<[^<>]*>")
_BR = re.compile(r"<br(?=[\s/>])[^<>]*>", re.I)  # <br>, <BR>, <br/>, <br clear=all>
_BLOCK = re.compile(r"</?(?:p|div|dd|li)\b[^<>]*>", re.I)


def html_to_text(fragment: str) -> str:
    """A post body's HTML as plain text: ``<br>`` to newlines, tags dropped, entities decoded.

    Examples
    --------
    >>> html_to_text(' <a href="x">&gt;&gt;1</a> 本文 <br> 二行目 ')
    '>>1 本文\\n二行目'
    """
    if "<" not in fragment and "&" not in fragment:  # plain text: nothing to parse
        return clean_lines(fragment)
    if "<" in fragment:
        # Line breaks as "\n", then the blanks around them go with clean_lines (a pattern
        # that matched the blanks around each <br> would be quadratic on a run of blanks).
        fragment = fragment.replace("<br>", "\n")
        if "<" in fragment:
            fragment = _BR.sub("\n", fragment)
            fragment = _BLOCK.sub("\n", fragment)
            fragment = TAG.sub("", fragment)
    return clean_lines(unescape(fragment))


def unescape(text: str) -> str:
    """HTML entities decoded: :func:`html.unescape`, with the entities boards use most
    (``&gt;``, ``&lt;``, ``&quot;``) replaced first when no ``&amp;`` can make that ambiguous.

    Examples
    --------
    >>> unescape("&gt;&gt;1 &quot;x&quot; &amp;gt; &#128557;")
    '>>1 "x" &gt; 😭'
    """
    if "&" not in text:
        return text
    if "&amp;" not in text:
        text = text.replace("&gt;", ">").replace("&lt;", "<").replace("&quot;", '"')
        if "&" not in text:
            return text
    return html_lib.unescape(text)


def _split_leading_anchors(body: str) -> tuple[list[int], str]:
    """Leading reply anchors of a post body, and the body without them."""
    stripped = body.lstrip()
    m = ANCHOR_GROUP.match(stripped)
    if not m:
        return [], body
    return anchor_numbers(m.group(0)), clean_lines(stripped[m.end() :])


def reply_numbers(body: str) -> tuple[list[int], str]:
    """All anchors of a post that was already split (``.dat``, HTML): the leading ones
    are removed from the text, later ones stay in it as references but count as replies.

    Returns
    -------
    reply_to : list of int
    text : str
        The body without its leading anchors.

    Examples
    --------
    >>> reply_numbers(">>2 それは>>5の話")
    ([2, 5], 'それは>>5の話')
    """
    if ">" not in body and "＞" not in body and "≫" not in body and "&gt;" not in body:
        return [], body  # no anchor mark: the common case, answered without a pattern
    reply_to, text = _split_leading_anchors(body)
    if ">>" not in text and "＞＞" not in text and "≫" not in text and "&gt;&gt;" not in text:
        return reply_to, text  # no anchor mark left after the leading ones
    for m in ANCHOR_GROUP.finditer(text):
        for n in anchor_numbers(m.group(0)):
            if n not in reply_to:
                reply_to.append(n)
    return reply_to, text
