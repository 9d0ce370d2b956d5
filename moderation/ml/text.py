"""Text normalisation, with a map back to the original characters.

Two views of a comment feed the classifier:

- :func:`normalize`: NFKC (full/half width, ``ﾁｮﾝ`` → ``チョン``), lower case, and runs of a
  repeated character folded (``ｗｗｗｗｗ`` → ``ww``, ``ーーーー`` → ``ーー``). Punctuation and
  kana type are kept: they carry tone.
- :func:`fold`: the obfuscation-resistant view on top of it: spaces and symbols inserted inside
  a word removed (``チ ョ ン``, ``チ.ョ.ン``), hiragana folded to katakana (``ちょん``), and
  masking marks (``○``, ``〇``, ``●``, ``*``, ``×``) turned into one wildcard :data:`WILDCARD`
  that the lexicon matches against any character (``朝○人``).

Both return a :class:`View`: the text and, for every character of it, the offset of the
original character it came from, so a hit in either view can be shown in the original text.

Examples
--------
>>> normalize("ﾁｮﾝｗｗｗｗ").text
'チョンww'
>>> v = fold("チ ョ ン は")
>>> v.text, v.span(0, 3)
('チョンハ', (0, 5))
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

WILDCARD = "\ufffd"
_MASKS = set("○〇◯●◎□■×✕✖*＊※")
_HIRA_START, _HIRA_END, _KATA_OFFSET = 0x3041, 0x3096, 0x60
# Characters that are dropped inside a word in the folded view: separators people insert to
# dodge word filters. Long-vowel marks and kana are kept.
# Unicode format characters (Cf: soft hyphen, zero-width and bidi controls, tags) and combining
# marks that NFKC could not merge into a letter (U+0301 after a kana, variation selectors) are
# invisible or decorative inside a word: in the folded view they are obfuscation, dropped too.
INVISIBLE = (
    "\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb\u3164\u115f\u1160\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\ufe00-\ufe0f\U000e0100-\U000e01ef"
)
_SEPARATORS = re.compile(r"[\s" + INVISIBLE + r".,・･、。/／\\\-‐―—_|｜'’\"”`~^:;!！・=+]")


@dataclass(frozen=True)
class View:
    """A derived text and, per character, the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]
    source_length: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original ``[start, end)`` behind ``[start, end)`` of this view."""
        if start >= end or not self.origin:
            return (0, 0)
        a = self.origin[min(start, len(self.origin) - 1)]
        b = self.origin[min(end, len(self.origin)) - 1] + 1
        return (a, b)


def _nfkc_pieces(text: str):
    """NFKC one character at a time, recombining voiced marks (``ｶﾞ`` → ``ガ``)."""
    if text.isascii() or ("\u3099" not in text and "\u309a" not in text and unicodedata.is_normalized("NFKC", text)):
        # Already NFKC as a whole: every character is its own NFKC and no two adjacent ones
        # compose (they would have been composed), so the loop below would change nothing.
        return list(text), list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            piece = ch
        else:
            piece = unicodedata.normalize("NFKC", ch)
        for p in piece:
            if out and unicodedata.combining(p):
                combined = unicodedata.normalize("NFC", out[-1] + p)
                if len(combined) == 1:
                    out[-1] = combined
                    continue
            if p in _VOICED_MARKS:  # a voiced mark that does not combine: drop it
                continue
            out.append(p)
            origin.append(i)
    return out, origin


@lru_cache(maxsize=64)
def normalize(text: str, *, max_repeat: int = 2) -> View:
    """NFKC, lower case, repeated characters folded to ``max_repeat``.

    Cached (a few dozen texts): every view's explanation of one comment starts from it.

    Examples
    --------
    >>> normalize("ＡＢＣ！！！！").text
    'abc!!'
    """
    chars, origin = _nfkc_pieces(text)
    out: list[str] = []
    out_origin: list[int] = []
    run_char, run = "", 0
    for ch, o in zip(chars, origin):
        ch = ch.lower()
        if ch == run_char:
            run += 1
            if run > max_repeat:
                continue
        else:
            run_char, run = ch, 1
        out.append(ch)
        out_origin.append(o)
    return View("".join(out), tuple(out_origin), len(text))


_VOICED_MARKS = "\u3099\u309a"
_REPEAT = re.compile(r"(.)\1{2,}", re.S)
_MASK_TABLE = str.maketrans({c: WILDCARD for c in _MASKS})
_KANA_TABLE = str.maketrans({chr(c): chr(c + _KATA_OFFSET) for c in range(_HIRA_START, _HIRA_END + 1)})
_WILDCARD_RUN = re.compile(WILDCARD + "{2,}")
_MASK_CHARS = re.compile("[" + re.escape("".join(sorted(_MASKS))) + "]")
_HIRAGANA_CHARS = re.compile(f"[{chr(_HIRA_START)}-{chr(_HIRA_END)}]+")


def _hiragana_to_katakana(m: re.Match) -> str:
    return m.group(0).translate(_KANA_TABLE)


@lru_cache(maxsize=1 << 16)
def normalize_text(text: str) -> str:
    """The text of :func:`normalize` without the offset map: fast, for feature extraction.

    Cached: every feature view of a batch starts from the same normalised text.

    Examples
    --------
    >>> normalize_text("ﾁｮﾝｗｗｗｗ")
    'チョンww'
    """
    text = unicodedata.normalize("NFKC", text)
    if "\u3099" in text or "\u309a" in text:  # voiced marks NFKC could not combine
        text = text.replace("\u3099", "").replace("\u309a", "")
    return _REPEAT.sub(r"\1\1", text.lower())


def fold_text(text: str, *, kana: bool = True, normalized: bool = False) -> str:
    """The text of :func:`fold` without the offset map.

    Examples
    --------
    >>> fold_text("ち ょ ん")
    'チョン'
    """
    out = text if normalized else normalize_text(text)
    if _MASK_CHARS.search(out):  # translate() is slow on non-ASCII text: only when needed
        out = _WILDCARD_RUN.sub(WILDCARD, out.translate(_MASK_TABLE))
    out = _SEPARATORS.sub("", out)
    if kana and _HIRAGANA_CHARS.search(out):
        out = _HIRAGANA_CHARS.sub(_hiragana_to_katakana, out)
    return _WILDCARD_RUN.sub(WILDCARD, out) if WILDCARD in out else out


def _to_katakana(ch: str) -> str:
    code = ord(ch)
    if _HIRA_START <= code <= _HIRA_END:
        return chr(code + _KATA_OFFSET)
    return ch


def fold(text: str | View, *, kana: bool = True) -> View:
    """The obfuscation-resistant view: separators dropped, hiragana → katakana (unless
    ``kana=False``), masks → wildcard.

    Examples
    --------
    >>> fold("支〇人").text == "支" + WILDCARD + "人"
    True
    >>> fold("ち.ょ.ん").text
    'チョン'

    Cached for texts (a few dozen): the n-gram view and the lexicon explain from the same one.
    """
    return _fold_text(text, kana) if isinstance(text, str) else _fold_cached_view(text, kana)


@lru_cache(maxsize=64)
def _fold_text(text: str, kana: bool) -> View:
    return _fold_view(normalize(text), kana)


@lru_cache(maxsize=64)
def _fold_cached_view(base: View, kana: bool) -> View:
    return _fold_view(base, kana)


def _fold_view(base: View, kana: bool) -> View:
    out: list[str] = []
    origin: list[int] = []
    for ch, o in zip(base.text, base.origin):
        if ch in _MASKS:
            ch = WILDCARD
        elif _SEPARATORS.match(ch):
            continue
        elif kana:
            ch = _to_katakana(ch)
        if ch == WILDCARD and out and out[-1] == WILDCARD:
            continue
        out.append(ch)
        origin.append(o)
    return View("".join(out), tuple(origin), base.source_length)
