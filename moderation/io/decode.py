r"""Bytes to text: encoding detection, decoding, and the binary-file checks.

Thread dumps come in UTF-8 (with or without a BOM), Shift_JIS/CP932 and EUC-JP, and
directories of dumps hold images and archives too. Every reader gets its text from here,
so the same bytes always decode the same way and a binary file is refused with one line.

Examples
--------
>>> detect_encoding("スレッド".encode("cp932"))
'cp932'
>>> decode(b"\xef\xbb\xbf" + "本文".encode())
'本文'
"""

from __future__ import annotations

import codecs
import contextlib
import re
from pathlib import Path
from typing import NoReturn

from ..core import ExtractError

_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_AUTO_ENCODINGS = ("utf-8", "cp932", "euc_jp")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_ASCII_TEXT = re.compile(r"[ -~\n\r\t]")
_ODD = re.compile(r"[\uff61-\uff9f\u0080-\u00ff]")
_JA_CHAR = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af\u3000-\u303f\uff01-\uff5e]")


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    return b"\x00" in head and not (head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE))


def _plausibility(text: str) -> float:
    """How much a decoded sample looks like real text: share of CJK/kana and ASCII letters."""
    if not text:
        return 1.0
    # Counted by the regex engine (subn), not a Python loop per character.
    cjk = _JA_CHAR.subn("", text)[1]
    ascii_text = _ASCII_TEXT.subn("", text)[1]
    # Half-width katakana and rare symbols are what a wrong decoding of CP932/EUC-JP produces.
    odd = _ODD.subn("", text)[1]
    return (cjk + ascii_text - 3 * odd) / len(text)


def detect_encoding(data: bytes, *, name: str = "input") -> str:
    """Name the encoding of ``data``: BOM first, then a declared HTML charset, then the
    candidate among UTF-8, CP932 and EUC-JP that decodes cleanly and reads most like text.

    Parameters
    ----------
    data : bytes
        The file's bytes (or its first MiB and more; only that much is sampled).
    name : str
        What to call the input in error messages (its path).

    Returns
    -------
    str
        A Python codec name.

    Raises
    ------
    ExtractError
        When the bytes look binary or no candidate decodes them.

    Examples
    --------
    >>> detect_encoding("こんにちは".encode("euc_jp"))
    'euc_jp'
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
        enc = {
            "shift_jis": "cp932",
            "shift-jis": "cp932",
            "sjis": "cp932",
            "x-sjis": "cp932",
            "windows-31j": "cp932",
            "euc-jp": "euc_jp",
        }.get(enc, enc)
        try:
            codecs.lookup(enc)
            candidates.insert(0, enc)
        except LookupError:
            pass
    scored: list[tuple[float, int, str]] = []
    for enc in candidates:
        try:
            # Not final: a file cut inside a multibyte character (a truncated dump) still decodes.
            text = codecs.getincrementaldecoder(enc)(errors="strict").decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        if _BINARY_CONTROL.search(text[:8192]) and len(_BINARY_CONTROL.findall(text[:8192])) > 8:
            continue
        if declared and enc == candidates[0]:
            if enc not in ("utf-8", "utf_8", "utf8") and sample.isascii() is False and _is_utf8(sample):
                return "utf-8"  # a page saved again as UTF-8 that kept its old charset declaration
            return enc
        scored.append((_plausibility(text[:65536]), -len(scored), enc))
    if not scored:
        # A real dump with a few broken bytes (a post pasted in another encoding, a damaged
        # disk): the candidate that needs the fewest replacements, if they are rare.
        damaged = []
        for enc in candidates:
            text = codecs.getincrementaldecoder(enc)(errors="replace").decode(sample, final=False)
            damaged.append((text.count("\ufffd"), -_plausibility(text[:65536]), enc))
        bad, _, enc = min(damaged)
        if bad <= _tolerated(len(sample)):
            return enc
        raise ExtractError(
            f"{name}: could not detect the text encoding (tried UTF-8, Shift_JIS/CP932, EUC-JP); "
            "pass --encoding, e.g. --encoding cp932"
        )
    return max(scored)[2]


def decode(data: bytes, encoding: str | None = None, *, name: str = "input") -> str:
    """Decode a whole file's bytes, detecting the encoding unless one is given.

    A UTF-8 BOM is dropped, so UTF-8 copies with and without it give the same offsets.

    Parameters
    ----------
    data : bytes
        The whole file.
    encoding : str, optional
        A Python codec name; None detects it (:func:`detect_encoding`).
    name : str
        What to call the input in error messages (its path).

    Returns
    -------
    str

    Raises
    ------
    ExtractError
        For an unknown codec, bytes the codec cannot decode, or text that looks binary.

    Examples
    --------
    >>> decode("本文".encode("cp932"), "cp932")
    '本文'
    """
    enc = encoding or detect_encoding(data, name=name)
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        # A file cut inside its last character, or (when the encoding was detected) a few
        # broken bytes: replaced with U+FFFD rather than losing the whole file.
        text = data.decode(enc, errors="replace")
        cut_at_end = exc.end >= len(data) and exc.start >= len(data) - 4
        if not cut_at_end and (encoding or text.count("\ufffd") > _tolerated(len(data))):
            _raise_undecodable(data, enc, encoding, name, exc)
        if cut_at_end:
            text = text.rstrip("\ufffd")  # the half of a character the file was cut in
    except LookupError:
        raise ExtractError(
            f"{name}: unknown encoding {encoding!r}; use a Python codec name such as utf-8, cp932 or euc_jp"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if _BINARY_CONTROL.search(text[:8192]) and len(_BINARY_CONTROL.findall(text[:8192])) > 8:
        raise ExtractError(f"{name}: looks like a binary file, not a thread dump or comment file")
    return text


def _raise_undecodable(data: bytes, enc: str, encoding: str | None, name: str, exc: UnicodeDecodeError) -> NoReturn:
    guess = "cp932"
    if encoding:
        with contextlib.suppress(ExtractError):
            guess = detect_encoding(data, name=name)
    same = guess.replace("-", "_").lower() in (enc.replace("-", "_").lower(), "utf_8_sig")
    guess = "utf-8" if same else guess
    hint = "pass the right --encoding" if encoding else "pass --encoding"
    raise ExtractError(f"{name}: cannot decode byte {exc.start} as {enc}; {hint} (e.g. --encoding {guess})") from None


def _tolerated(size: int) -> int:
    """How many undecodable bytes a detected encoding may leave in ``size`` bytes (1 in 500)."""
    return max(4, size // 500)


def _is_utf8(sample: bytes) -> bool:
    """Whether ``sample`` is valid UTF-8 (a cut last character allowed)."""
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def read_bytes(path: Path) -> bytes:
    """The bytes of the file at ``path``: a regular file within the size limit
    (:func:`moderation.io.inputs.read_input`).

    Raises
    ------
    ExtractError
        When the file cannot be read; the message names it and says why.
    """
    from .inputs import read_input

    return read_input(path)
