"""A forum's own block and watch terms, compiled once into Aho–Corasick automata.

A policy may list 100,000 terms. Compiled into one regular expression they cost 13.5 s at
start-up and 8 s for a 10,000-character comment (an alternation is tried term by term at
every position); here they are two automata (``pyahocorasick``: C, linear in the text and
the matches whatever the number of terms), built in well under a second, and a comment is
searched in milliseconds.

How a term is matched depends on what it is written in:

- **Words** (a term without kana, CJK or Hangul: Latin, Cyrillic, digits, punctuation):
  on the *word view* of the text (NFKC, lower case, repeats folded as
  :func:`moderation.ml.text.normalize` does; format and combining characters dropped, so
  ``as\\u200bs`` and ``áss`` are ``ass``; runs of white space as one space), and only as a
  whole word: no letter right before or after it. Punctuation inside a term is part of the
  term: ``a.s.s`` matches ``A.S.S`` but not ``passed``; ``c++`` matches ``C++`` but not
  ``concert``.
- **Kana, CJK and Hangul terms**: on the *folded view* exactly as the slur lexicon matches
  (:class:`moderation.ml.lexicon.Lexicon`): separators and invisible characters inside a word
  dropped (``闇 バ イ ト``), masks (``○ 〇 * ×``) matching any one character when at least two
  characters and half of the match are real, short katakana terms not inside a longer
  katakana word, short kana terms only standing as a word.

At each place the longest term that matches there wins, and matches do not overlap.

Examples
--------
>>> m = TermMatcher(["a.s.s", "c++", "闇バイト"])
>>> [(h.term, h.span) for h in m.find("I passed the class; A.S.S! C++ in a 闇 バ イ ト")]
[('a.s.s', (20, 25)), ('c++', (27, 30)), ('闇バイト', (36, 43))]
>>> m.find("rock music concert")
[]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from .lexicon import _KATAKANA, _KATAKANA_CHAR, _kana_boundary
from .text import _MASKS, INVISIBLE, WILDCARD, View, fold, fold_text, normalize, normalize_text

#: Scripts written without spaces between words (and Hangul, whose words take particles):
#: a term with any of these is matched on the folded view, as the lexicon is.
_CJK = re.compile("[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")
_INVISIBLE = re.compile("[" + INVISIBLE + "]")
_KANA_TERM = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$")
# Terms of printable ASCII, kana and CJK ideographs only: their keys are computed on the whole
# string (C speed), which gives what the per-character views give for these characters.
_PLAIN = re.compile(r"^[\x20-\x7e\u3041-\u30ff\u4e00-\u9fff]*$")
_normalized = normalize_text.__wrapped__  # uncached: 100,000 terms would flush the features' cache


@dataclass(frozen=True)
class TermHit:
    """A term found in a text: ``span`` is ``[start, end)`` in the original text."""

    term: str
    span: tuple[int, int]


def is_word_term(term: str) -> bool:
    """Whether ``term`` is matched as a whole word (no kana, CJK, Hangul or mask in it).

    Examples
    --------
    >>> is_word_term("c++"), is_word_term("line id"), is_word_term("闇バイト"), is_word_term("f*ck")
    (True, True, False, False)
    """
    text = normalize(term).text
    return not _CJK.search(text) and not any(ch in _MASKS for ch in text)


def _is_letter(ch: str) -> bool:
    """A letter of a script written with spaces between words: what may not touch a word term."""
    return ch.isalpha() and not _CJK.match(ch)


def _base_letter(ch: str) -> str:
    """A Latin, Greek or Cyrillic letter without its accents (``á`` → ``a``); others unchanged."""
    if ch.isascii() or not ("\u00c0" <= ch <= "\u04ff" or "\u1e00" <= ch <= "\u1fff"):
        return ch
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        return base
    return ch


def word_view(text: str | View) -> View:
    """The view word terms are matched on: :func:`~moderation.ml.text.normalize`, then format
    and combining characters dropped, accents taken off letters, white space runs as one space.

    Examples
    --------
    >>> v = word_view("A\\u200bs\\u0301s  HOLE")
    >>> v.text, v.span(0, 3)
    ('ass hole', (0, 5))
    """
    base = normalize(text) if isinstance(text, str) else text
    out: list[str] = []
    origin: list[int] = []
    for ch, o in zip(base.text, base.origin):
        if _INVISIBLE.match(ch):
            continue
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        else:
            ch = _base_letter(ch)
        out.append(ch)
        origin.append(o)
    return View("".join(out), tuple(origin), base.source_length)


def _automaton(keys: dict[str, tuple[int, str]]) -> ahocorasick.Automaton | None:
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for key, value in keys.items():
        automaton.add_word(key, (len(key), *value))
    automaton.make_automaton()
    return automaton


@lru_cache(maxsize=1 << 18)  # the policy file's check and the automata ask for the same terms
def term_key(term: str) -> tuple[bool, str]:
    """``(is a word term, its key)``: the text the term is looked for as, in the word view or
    the folded view.

    Examples
    --------
    >>> term_key("Spam  Link"), term_key("闇 バイト")
    ((True, 'spam link'), (False, '闇バイト'))
    """
    if _PLAIN.match(term):
        norm = _normalized(term)
        if not (_CJK.search(norm) or "*" in norm):
            return True, " ".join(norm.split())
        return False, fold_text(norm, kana=False, normalized=True)
    if is_word_term(term):
        return True, word_view(term).text.strip()
    return False, fold(term, kana=False).text


class TermMatcher:
    """Terms compiled once; :meth:`find` gives every hit with its span in the original text.

    Parameters
    ----------
    terms : iterable of str
        As a policy file lists them; a term whose key is empty is left out (the policy file
        refuses such terms).
    """

    def __init__(self, terms: Iterable[str]):
        self.terms = list(terms)
        word: dict[str, tuple[int, str]] = {}
        folded: dict[str, tuple[int, str]] = {}
        for index, term in enumerate(self.terms):
            is_word, key = term_key(term)
            table = word if is_word else folded
            if key and key not in table:
                table[key] = (index, term)
        self._word = _automaton(word)
        self._folded = _automaton(folded)
        self._folded_keys = folded
        self._short_katakana = {k for k in folded if _KATAKANA.match(k) and len(k) <= 3}
        self._short_kana = {k for k in folded if _KANA_TERM.match(k) and len(k) <= 3 and k not in self._short_katakana}
        self._lengths: list[int] = []  # built on the first text with a mask (:meth:`_mask_tables`)
        self._at: dict[int, list[set[str]]] = {}

    def _mask_tables(self) -> None:
        """Per key length, the characters found at each offset: a cheap test before the
        automaton is asked for the keys a masked stretch can stand for."""
        self._lengths = sorted({len(k) for k in self._folded_keys}, reverse=True)
        for key in self._folded_keys:
            slots = self._at.setdefault(len(key), [set() for _ in key])
            for slot, ch in zip(slots, key):
                slot.add(ch)

    def __getstate__(self) -> dict:
        return {"terms": self.terms}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["terms"])  # type: ignore[misc]

    def find(self, text: str) -> list[TermHit]:
        """Every term hit in ``text``, in order, spans into ``text``."""
        if not text:
            return []
        hits: list[TermHit] = []
        if self._word is not None:
            view = word_view(text)
            hits.extend(TermHit(term, self._span(text, view, a, b)) for term, a, b in self._word_hits(view.text))
        if self._folded is not None:
            view = fold(normalize(text), kana=False)
            hits.extend(TermHit(term, view.span(a, b)) for term, a, b in self._folded_hits(view.text))
        hits.sort(key=lambda h: h.span)
        return hits

    @staticmethod
    def _span(text: str, view: View, a: int, b: int) -> tuple[int, int]:
        """A word's span, with the accents on its last letter (spans on the folded view are
        the lexicon's, unchanged)."""
        start, end = view.span(a, b)
        while end < len(text) and unicodedata.combining(text[end]):  # the accent on the last letter
            end += 1
        return start, end

    def _word_hits(self, view: str):
        assert self._word is not None
        longest: dict[int, tuple[int, int, str]] = {}
        for end, (length, index, term) in self._word.iter(view):
            start = end - length + 1
            if (start and _is_letter(view[start - 1])) or (end + 1 < len(view) and _is_letter(view[end + 1])):
                continue
            best = longest.get(start)
            if best is None or (length, -index) > (best[0], -best[1]):
                longest[start] = (length, index, term)
        last = 0
        for start in sorted(longest):
            if start < last:
                continue
            length, _index, term = longest[start]
            last = start + length
            yield term, start, last

    def _folded_hits(self, view: str):
        """The lexicon's rule, as its regular expressions applied it: at each place the longest
        key that matches (a mask in the text matching any character), matches not overlapping;
        then a match with masks counts only when two of its characters and half of them are
        real, and short kana keys only where they stand as a word."""
        assert self._folded is not None
        longest: dict[int, int] = {}
        for end, (length, _index, _term) in self._folded.iter(view):
            start = end - length + 1
            longest[start] = max(longest.get(start, 0), length)
        if WILDCARD in view:
            for start, length in self._masked(view).items():
                longest[start] = max(longest.get(start, 0), length)
        last = 0
        for start in sorted(longest):
            if start < last:
                continue
            end = start + longest[start]
            last = end
            key = self._resolve(view[start:end])
            if key is None:
                continue  # too many masks: it took its place, but is no match
            if key in self._short_katakana:
                before = view[start - 1] if start else ""
                after = view[end] if end < len(view) else ""
                if _KATAKANA_CHAR.match(before) or _KATAKANA_CHAR.match(after):
                    continue  # part of a longer katakana word (シナリオ, キュウリ)
            elif key in self._short_kana and not _kana_boundary(view, start, end, len(key)):
                continue  # inside an ordinary word (すまん, がまん)
            yield self._folded_keys[key][1], start, end

    def _resolve(self, piece: str) -> str | None:
        """The key a matched piece stands for (the first listed, when masks leave a choice)."""
        assert self._folded is not None
        if WILDCARD not in piece:
            return piece if piece in self._folded_keys else None
        real = len(piece) - piece.count(WILDCARD)
        if real < 2 or real * 2 < len(piece):
            return None
        keys = self._folded.keys(piece, WILDCARD, ahocorasick.MATCH_EXACT_LENGTH)
        return min(keys, key=lambda k: self._folded_keys[k][0], default=None)

    def _masked(self, view: str) -> dict[int, int]:
        """Per start near a mask, the length of the longest key matching there with the masks
        standing for any character."""
        assert self._folded is not None
        if not self._lengths:
            self._mask_tables()
        n = len(view)
        masks = [i for i, ch in enumerate(view) if ch == WILDCARD]
        longest = self._lengths[0]
        starts = sorted({p for m in masks for p in range(max(0, m - longest + 1), m + 1)})
        found: dict[int, int] = {}
        for p in starts:
            for length in self._lengths:
                if p + length > n:
                    continue
                piece = view[p : p + length]
                if WILDCARD not in piece:
                    continue  # the automaton's own pass found it, if it is a key
                slots = self._at[length]
                if any(ch != WILDCARD and ch not in slot for ch, slot in zip(piece, slots)):
                    continue
                if next(iter(self._folded.keys(piece, WILDCARD, ahocorasick.MATCH_EXACT_LENGTH)), None) is not None:
                    found[p] = length
                    break
        return found
