"""Untrusted text made safe to show to a person: the one place that decides how.

Everything this tool shows was written by the people it moderates. :func:`displayable` is
what every human-facing output (the labeling screen, the tables of ``score``/``extract``/
``labels stats``, error messages that quote input, log lines) passes that text through:
control characters (C0, DEL, C1 — so no ``ESC``/CSI/OSC sequence, bell or carriage return
can act on a terminal or forge a log line), bidi overrides and isolates, line and paragraph
separators, and the other invisible format characters (Unicode categories ``Cc``, ``Cf``,
``Zl``, ``Zp`` and lone surrogates ``Cs``) are shown as visible escapes instead:

- C0 controls and DEL as their Unicode *control pictures*: ``ESC`` → ``␛``, ``BEL`` → ``␇``,
  ``CR`` → ``␍`` (newline and tab are kept, as the layout handles them, unless ``one_line``);
- every other one as ``\\uXXXX`` (``\\u009b`` for the 8-bit CSI, ``\\u202e`` for RIGHT-TO-LEFT
  OVERRIDE, ``\\U000e0041`` beyond the BMP).

The one exception is ZERO WIDTH JOINER between two emoji (a family, a profession), which
only joins pictures. Nothing is removed, so the moderator sees exactly what was posted.
Spans into the original text stay usable: :func:`display_map` gives, for each original
offset, where it lands in the shown text. Machine outputs (JSON, JSONL, CSV for pipelines)
do not use this module: they keep the text exact.

This module imports nothing of the package and nothing heavy (it sits with
:mod:`moderation.core` at the bottom of the layers), so every layer can use it.

Examples
--------
>>> displayable("ok\\x1b]0;pwned\\x07 \\u202eevil")
'ok␛]0;pwned␇ \\\\u202eevil'
>>> displayable("line one\\nline two"), displayable("line one\\nline two", one_line=True)
('line one\\nline two', 'line one␊line two')
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# Every code point of categories Cc, Cf, Zl, Zp and Cs (Unicode 14, Python 3.10/3.11; a test
# checks this class against unicodedata for every code point of the running Python).
_UNSAFE_CLASS = (
    "\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\ud800-\udfff"
)
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
_UNSAFE_KEEP_LAYOUT = re.compile(f"(?![\\n\\t])[{_UNSAFE_CLASS}]")
_ZWJ = "\u200d"


class Displayed(NamedTuple):
    """Text made displayable, and where each original offset went.

    Attributes
    ----------
    text : str
        What to show.
    offsets : list of int
        ``len(original) + 1`` entries: ``offsets[i]`` is where original character ``i``
        starts in :attr:`text` (the last entry is ``len(text)``), so an original span
        ``[a, b)`` is shown at ``[offsets[a], offsets[b])``.
    escapes : list of (int, int)
        The ranges of :attr:`text` that are escapes (to style them apart from the text).
    """

    text: str
    offsets: list[int]
    escapes: list[tuple[int, int]]


def _escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x20:
        return chr(0x2400 + cp)  # ␀ … ␟
    if cp == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _emoji(ch: str) -> bool:
    return ch == "\ufe0f" or (ord(ch) > 0x2000 and unicodedata.category(ch) in ("So", "Sk"))


def _kept_joiner(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and _emoji(text[i - 1]) and _emoji(text[i + 1])


def display_map(text: str, *, one_line: bool = False) -> Displayed:
    """:func:`displayable`, with the offsets that carry spans of ``text`` over.

    Parameters
    ----------
    text : str
        Untrusted text.
    one_line : bool
        Escape newlines and tabs too (``␊``, ``␉``): for a log line or a one-line message.

    Returns
    -------
    Displayed

    Examples
    --------
    >>> shown = display_map("a\\u202eb")
    >>> shown.text, shown.offsets, shown.escapes
    ('a\\\\u202eb', [0, 1, 7, 8], [(1, 7)])
    >>> a, b = shown.offsets[2], shown.offsets[3]    # the span [2, 3) of the original
    >>> shown.text[a:b]
    'b'
    """
    pattern = _UNSAFE if one_line else _UNSAFE_KEEP_LAYOUT
    if pattern.search(text) is None:
        return Displayed(text, list(range(len(text) + 1)), [])
    parts: list[str] = []
    offsets: list[int] = []
    escapes: list[tuple[int, int]] = []
    pos = 0
    for i, ch in enumerate(text):
        offsets.append(pos)
        if pattern.match(ch) and not (ch == _ZWJ and _kept_joiner(text, i)):
            shown = _escape(ch)
            escapes.append((pos, pos + len(shown)))
        else:
            shown = ch
        parts.append(shown)
        pos += len(shown)
    offsets.append(pos)
    return Displayed("".join(parts), offsets, escapes)


def displayable(text: object, *, one_line: bool = False) -> str:
    """Untrusted text as it is safe to show to a person (terminal, table, message, log).

    Control characters, bidi controls and invisible format characters are shown as visible
    escapes (see the module's description); everything else is kept as is.

    Parameters
    ----------
    text : object
        Untrusted text (anything else is shown as its ``str``; None as ``""``).
    one_line : bool
        Escape newlines and tabs too, so the result is one line (log lines, one-line
        messages).

    Returns
    -------
    str

    Examples
    --------
    >>> displayable("\\x9b2J\\x1b[2Jclear")
    '\\\\u009b2J␛[2Jclear'
    >>> displayable("👨\\u200d👩\\u200d👧 a\\u200db")       # a joiner between emoji only joins them
    '👨\\u200d👩\\u200d👧 a\\\\u200db'
    >>> displayable("ok\\r\\nforged entry", one_line=True)
    'ok␍␊forged entry'
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    pattern = _UNSAFE if one_line else _UNSAFE_KEEP_LAYOUT
    if pattern.search(text) is None:
        return text
    return display_map(text, one_line=one_line).text
