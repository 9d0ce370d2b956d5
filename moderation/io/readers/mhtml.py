"""Pages saved as one file by a browser (MHTML: Chrome's "Webpage, single file", Internet
Explorer's ``.mht``): a MIME ``multipart/related`` message whose ``text/html`` part, usually
quoted-printable, is the page.

The page is taken out with :mod:`email` (the standard library's MIME parser), decoded in its
declared charset (else detected) and read by the reader of its layout, picked as for any page
(:func:`moderation.io.registry.detect_format`); a layout no reader knows gives ``meta``
records, as for a plain page. The page is not the file's text, so every record's ``span`` is
the html part's place in the file.

Examples
--------
>>> saved = "\\r\\n".join([
...     "From: <Saved by Blink>", "MIME-Version: 1.0",
...     'Content-Type: multipart/related; type="text/html"; boundary="B"', "", "--B",
...     "Content-Type: text/html", "Content-Transfer-Encoding: quoted-printable", "",
...     "<title>=E3=82=B9=E3=83=AC</title><dl><dt>1 =EF=BC=9A=E5=90=8D=E7=84=A1=E3=81=97=EF=BC=9A=",
...     "2023/05/01 10:00:00</dt><dd>=E6=9C=AC=E6=96=87</dd></dl>", "--B--", ""])
>>> [(r.kind, r.no, r.text, r.source_format) for r in read(saved, thread="t", source="")]
[('title', None, 'スレ', '5ch'), ('comment', 1, '本文', '5ch')]
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable

from ...core import Comment, ExtractError, Warn
from ..board_text import head_lines
from ..decode import decode

NAME = "mhtml"
_BOUNDARY_LINE = re.compile(r"^--", re.M)


def sniff(sample: str) -> bool:
    """Whether a file is a MIME ``multipart/related`` message (a page saved as one file).

    Examples
    --------
    >>> sniff('MIME-Version: 1.0\\nContent-Type: multipart/related; type="text/html"'), sniff("<html>")
    (True, False)
    """
    head = "\n".join(head_lines(sample)).lower()
    return "mime-version:" in head and "multipart/related" in head


def html_part(text: str) -> tuple[str, tuple[int, int]]:
    """The page of a saved MHTML file, decoded, and where its part sits in ``text``.

    Raises
    ------
    ExtractError
        When the message has no ``text/html`` part.
    """
    message = email.message_from_string(text, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_content_type() != "text/html":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset()
        try:
            page = decode(payload, charset) if charset else decode(payload)
        except ExtractError:
            page = decode(payload)
        location = _part_span(text, part.get("Content-Location") or part.get("Content-ID") or "")
        return page, location
    raise ExtractError("no text/html part in this MHTML file")


def _part_span(text: str, label: str) -> tuple[int, int]:
    """Where the html part's body lies in the file: after the header naming it (else the first
    ``text/html`` header), up to the next boundary line."""
    at = text.find(label) if label else -1
    if at < 0:
        at = text.lower().find("content-type: text/html")
    if at < 0:
        return 0, len(text)
    body = text.find("\n\n", at)
    crlf = text.find("\r\n\r\n", at)
    starts = [i for i in (body + 2 if body >= 0 else -1, crlf + 4 if crlf >= 0 else -1) if i >= 0]
    start = min(starts) if starts else at
    nxt = _BOUNDARY_LINE.search(text, start)
    return start, nxt.start() if nxt else len(text)


def read(text: str, *, thread: str, source: str, warn: Warn | None = None) -> Iterable[Comment]:
    """The reader's entry in :mod:`moderation.io.registry`: the saved page read by the reader of
    its layout."""
    from ..registry import detect_format, get_reader  # the registry imports this module

    try:
        page, span = html_part(text)
    except ExtractError as exc:
        raise ExtractError(f"{source or thread}: {exc}") from None
    fmt = detect_format("page.html", page[:65536])
    if fmt in (NAME, "scrape"):
        fmt = "html"
    records = list(get_reader(fmt).read(page, thread=thread, source=source, warn=warn))
    for rec in records:
        rec.span = span
        rec.source_format = rec.source_format or fmt
    return records
