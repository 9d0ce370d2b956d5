"""The team's slur lexicon (``data/lexicon.tsv``), matched on normalised, obfuscation-folded text.

Its hits are features for the classifier and spans that explain a flag to a moderator; a hit
is never a verdict on its own (see ``data/LEXICON.md``).

Examples
--------
>>> lex = Lexicon.load()
>>> [(h.term, h.kind, h.span) for h in lex.find("あいつら チ ョ ン だろ")]
[('チョン', 'slur', (5, 10))]
>>> lex.find("鄭東泳(チョン・ドンヨン)長官")
[]
>>> lex.find("すまん、名前欄まちがえた")  # a short kana term is not matched inside a word
[]
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import ahocorasick

from ..core import LexiconError
from .text import INVISIBLE, WILDCARD, View, fold, fold_text, normalize, normalize_text

CATEGORIES = ("nationality_ethnicity", "race", "gender", "sexuality", "disability", "descent", "religion")
ENTRY_KINDS = ("slur", "mockery", "context")  # what a lexicon entry is (not a record kind)
LANGS = ("ja", "ko", "zh", "en")
_LATIN = re.compile(r"^[a-z0-9 '\-]+$")
_KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
_LATIN_WORD = re.compile(r"[a-z]{2}")
_KATAKANA_CHAR = re.compile(r"[\u30a1-\u30fa\u30fc]")
_KANA = re.compile(r"^[\u3041-\u3096\u30a1-\u30fa\u30fc]+$")
_KANA_CHAR = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc]")
# Particles and the copula may follow (or, for 3-kana spellings, precede) a short kana term:
# まーんは / あのかたわが. Any other kana next to it means it is part of a longer word
# (すまん, がまん, かたわら).
_PARTICLE = re.compile(r"[のはがをにともでやへだじなねよかっ]")


@dataclass(frozen=True)
class Entry:
    term: str
    spelling: str
    category: str
    lang: str
    kind: str
    weight: float


@dataclass(frozen=True)
class Hit:
    """A lexicon term found in a text: ``span`` is ``[start, end)`` in the original text."""

    term: str
    matched: str
    category: str
    lang: str
    kind: str
    weight: float
    span: tuple[int, int]


def _data_path(name: str) -> Path:
    return Path(str(resources.files("moderation") / "data" / name))


class Lexicon:
    """Slur, mockery and context terms with their categories, matched robustly.

    CJK spellings are matched on the folded view (separators inserted inside a word
    removed, masking marks such as ``○`` matching any one character), short katakana
    spellings only where they are not part of a longer katakana word, and Latin
    spellings on word boundaries. Known innocent phrases (``data/lexicon_exceptions.tsv``)
    mask the hits they contain.

    Parameters
    ----------
    entries : list of Entry
    exceptions : list of str
        Regular expressions, matched on normalised text.
    version : str
    sha256 : str
        Digest of the lexicon file the entries were read from.
    """

    def __init__(self, entries: Iterable[Entry], exceptions: Iterable[str] = (), version: str = "0", sha256: str = ""):
        self.entries = list(entries)
        self.exceptions = list(exceptions)
        self.version = version
        self.sha256 = sha256
        self._compile()

    @classmethod
    def load(cls, path: str | Path | None = None, exceptions: str | Path | None = None) -> Lexicon:
        """Read a lexicon TSV (default: the one shipped in the package)."""
        if path is None:
            return _default_lexicon()
        return cls._read(Path(path), Path(exceptions) if exceptions else None)

    @classmethod
    def _read(cls, path: Path, exceptions_path: Path | None) -> Lexicon:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LexiconError(f"{path}: cannot read the lexicon ({exc.strerror or exc})") from None
        text = raw.decode("utf-8")
        version = "0"
        entries: list[Entry] = []
        header = None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.startswith("#"):
                m = re.match(r"#\s*version:\s*(\S+)", line)
                if m and lineno == 1:
                    version = m.group(1)
                continue
            if not line.strip():
                continue
            row = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
            if header is None:
                header = row
                continue
            if len(row) != 7:
                raise LexiconError(f"{path}:{lineno}: expected 7 tab-separated fields, found {len(row)}")
            term, category, lang, kind, weight, variants, _note = row
            if category not in CATEGORIES or kind not in ENTRY_KINDS or lang not in LANGS:
                raise LexiconError(f"{path}:{lineno}: unknown category, kind or lang in {row[:4]}")
            for spelling in [term] + [v for v in variants.split("|") if v]:
                entries.append(Entry(term, spelling, category, lang, kind, float(weight)))
        exc_path = exceptions_path or path.with_name("lexicon_exceptions.tsv")
        patterns: list[str] = []
        if exc_path.exists():
            for line in exc_path.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or not line.strip() or line.startswith("pattern\t"):
                    continue
                patterns.append(line.split("\t", 1)[0])
            raw += exc_path.read_bytes()
        return cls(entries, patterns, version, hashlib.sha256(raw).hexdigest())

    def _compile(self) -> None:
        self._by_folded: dict[str, Entry] = {}
        self._by_latin: dict[str, Entry] = {}
        for entry in self.entries:
            spelling = normalize(entry.spelling).text
            if _LATIN.match(spelling):
                self._by_latin.setdefault(spelling, entry)
            else:
                self._by_folded.setdefault(fold(entry.spelling, kana=False).text, entry)
        cjk = sorted(self._by_folded, key=len, reverse=True)
        # A trie-shaped pattern keeps matching fast; texts with masking marks (支〇人) take a
        # second pattern where each character may also be the WILDCARD.
        self._cjk_re = re.compile(trie_pattern(cjk)) if cjk else None
        # The same leftmost-longest, non-overlapping matches from an Aho-Corasick automaton,
        # linear in the text; the pattern stays for the check that they agree
        # (tests/test_lexicon_automaton.py).
        self._cjk_finder = LiteralFinder(cjk) if cjk else None
        self._longest_cjk = max(map(len, cjk), default=0)
        self._cjk_masked_re = (
            re.compile("|".join("".join(f"[{re.escape(c)}{WILDCARD}]" for c in s) for s in cjk)) if cjk else None
        )
        latin = sorted(self._by_latin, key=len, reverse=True)
        self._latin_re = (
            re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(s) for s in latin) + r")(?![a-z])") if latin else None
        )
        self._exceptions_re = re.compile("|".join(f"(?:{p})" for p in self.exceptions)) if self.exceptions else None
        self._short_katakana = {k for k in self._by_folded if _KATAKANA.match(k) and len(k) <= 3}
        # Short kana spellings that are not plain katakana words (まん from ま～ん, めくら, かたわ):
        # matched only at a word boundary, as their letters occur inside ordinary words.
        self._short_kana = {
            k for k in self._by_folded if _KANA.match(k) and len(k) <= 3 and k not in self._short_katakana
        }
        self._by_term_kind = {(e.term, e.kind): e for e in self.entries}

    def __getstate__(self):
        return {"entries": self.entries, "exceptions": self.exceptions, "version": self.version, "sha256": self.sha256}

    def __setstate__(self, state):
        Lexicon.__init__(self, **state)

    def find(self, text: str) -> list[Hit]:
        """Every lexicon hit in ``text``, in order, spans in the original text."""
        if not text or not self.might_match(text):
            return []
        norm = normalize(text)
        view = fold(norm, kana=False)
        visible = _visible(norm)
        hits = [
            self._hit(entry, text, (view if where == "folded" else visible).span(a, b))
            for entry, where, a, b in self._matches(visible.text, view.text)
        ]
        if self._exceptions_re is not None and hits:
            masked = [
                norm.span(m.start(), m.end()) for m in self._exceptions_re.finditer(norm.text) if m.end() > m.start()
            ]
            # finditer's matches do not overlap and come in order: only the last one starting at
            # or before a hit can hold it (a binary search, not a scan per hit).
            starts = [a for a, _b in masked]
            hits = [h for h in hits if not _inside(h.span, masked, bisect.bisect_right(starts, h.span[0]) - 1)]
        hits.sort(key=lambda h: h.span)
        return hits

    def match_entries(self, text: str) -> list[Entry]:
        """The entries that hit ``text``, without spans: the fast path for features.

        Only texts in which an exception phrase occurs take the exact, mapped pass.
        """
        if not text:
            return []
        norm = normalize_text(text)
        if self._exceptions_re is not None and self._exceptions_re.search(norm):
            return [self._by_term_kind[(h.term, h.kind)] for h in self.find(text)]
        folded = fold_text(norm, kana=False, normalized=True) if self._cjk_re is not None else ""
        return [entry for entry, _where, _a, _b in self._matches(_INVISIBLE.sub("", norm), folded)]

    def _matches(self, norm: str, folded: str):
        """(entry, view, start, end) for every hit on the normalised (invisible characters
        removed) and folded texts, before exception phrases are applied."""
        if self._cjk_re is not None and folded:
            for start, end, matched in self._cjk_spans(folded):
                resolved = self._resolve(matched)
                if resolved is None:
                    continue
                key, entry = resolved
                if key in self._short_katakana:
                    before = folded[start - 1] if start else ""
                    after = folded[end] if end < len(folded) else ""
                    if _KATAKANA_CHAR.match(before) or _KATAKANA_CHAR.match(after):
                        continue  # part of a longer katakana word (シナリオ, キュウリ)
                elif key in self._short_kana and not _kana_boundary(folded, start, end, len(key)):
                    continue  # inside an ordinary word (すまん, がまん, かたわら)
                yield entry, "folded", start, end
        if self._latin_re is not None and _LATIN_WORD.search(norm):
            for m in self._latin_re.finditer(norm):
                yield self._by_latin[m.group(0)], "norm", m.start(), m.end()

    def _cjk_spans(self, folded: str) -> Iterable[tuple[int, int, str]]:
        """(start, end, matched text) of the leftmost-longest CJK spellings in ``folded``."""
        assert self._cjk_finder is not None and self._cjk_masked_re is not None  # compiled together
        if WILDCARD in folded:
            return self._masked_spans(folded)
        return self._cjk_finder.finditer(folded)

    def _masked_spans(self, folded: str) -> Iterable[tuple[int, int, str]]:
        """``finditer`` of the masked pattern, tried only where a match can start: where a
        spelling occurs as written (the automaton finds every such place) or close enough
        before a mask to reach it. Elsewhere the pattern cannot match, and trying it at every
        position of a long comment cost a millisecond per thousand characters."""
        assert self._cjk_finder is not None and self._cjk_masked_re is not None
        starts = self._cjk_finder.starts(folded)
        reach = self._longest_cjk - 1
        at = folded.find(WILDCARD)
        while at >= 0:
            starts.update(range(max(0, at - reach), at + 1))
            at = folded.find(WILDCARD, at + 1)
        pos = 0
        for start in sorted(starts):
            if start < pos:
                continue
            m = self._cjk_masked_re.match(folded, start)
            if m is not None:
                yield m.start(), m.end(), m.group(0)
                pos = m.end()

    def might_match(self, text: str) -> bool:
        """A fast screen on the views without offset maps: False means no hit for sure
        (up to normalisation corner cases), so most texts skip the slower exact pass."""
        norm = normalize_text(text)
        visible = _INVISIBLE.sub("", norm)
        if self._latin_re is not None and _LATIN_WORD.search(visible) and self._latin_re.search(visible):
            return True
        if self._cjk_re is None:
            return False
        folded = fold_text(norm, kana=False, normalized=True)
        if WILDCARD in folded:
            return self._cjk_masked_re is not None and self._cjk_masked_re.search(folded) is not None
        return self._cjk_finder is not None and self._cjk_finder.occurs_in(folded)

    def _resolve(self, matched: str) -> tuple[str, Entry] | None:
        """The (key, entry) a possibly masked match stands for; too many masks is no match."""
        if WILDCARD not in matched:
            entry = self._by_folded.get(matched)
            return (matched, entry) if entry is not None else None
        literal = sum(c != WILDCARD for c in matched)
        if literal < 2 or literal * 2 < len(matched):
            return None
        for key, entry in self._by_folded.items():
            if len(key) == len(matched) and all(m in (WILDCARD, k) for m, k in zip(matched, key)):
                return key, entry
        return None

    @staticmethod
    def _hit(entry: Entry, text: str, span: tuple[int, int]) -> Hit:
        return Hit(entry.term, text[span[0] : span[1]], entry.category, entry.lang, entry.kind, entry.weight, span)


_INVISIBLE = re.compile("[" + INVISIBLE + "]")


def _visible(view: View) -> View:
    """``view`` without Unicode format and combining characters (zero-width spaces, soft
    hyphens, variation selectors), each kept character still mapped to the original: Latin
    spellings are matched on it, so ``n\u200bigger`` is the word it shows.

    Examples
    --------
    >>> _visible(normalize("a\u200bs\u00ads")).text
    'ass'
    """
    if not _INVISIBLE.search(view.text):
        return view
    kept = [(ch, o) for ch, o in zip(view.text, view.origin) if not _INVISIBLE.match(ch)]
    return View("".join(ch for ch, _ in kept), tuple(o for _, o in kept), view.source_length)


def _kana_boundary(folded: str, start: int, end: int, length: int) -> bool:
    """Whether a short kana term at ``[start, end)`` stands as a word: no kana before it (a
    particle is allowed before a 3-kana term) and nothing but a particle or non-kana after.

    Examples
    --------
    >>> _kana_boundary("すまん", 1, 3, 2), _kana_boundary("まんは", 0, 2, 2)
    (False, True)
    """
    before = folded[start - 1] if start else ""
    after = folded[end] if end < len(folded) else ""
    if before and _KANA_CHAR.match(before) and (length <= 2 or not _PARTICLE.match(before)):
        return False
    return not (after and _KANA_CHAR.match(after) and not _PARTICLE.match(after))


def _inside(span: tuple[int, int], masked: list[tuple[int, int]], at: int) -> bool:
    return at >= 0 and masked[at][1] >= span[1]


class LiteralFinder:
    """Many literal words found in a text, leftmost-longest and not overlapping: what
    ``re.finditer`` of :func:`trie_pattern` gives, from an Aho-Corasick automaton
    (``pyahocorasick``), linear in the text (the pattern is tried at every position: a
    millisecond per few thousand characters).

    Examples
    --------
    >>> list(LiteralFinder(["チョン", "チョ", "ン"]).finditer("チョンとチョ"))
    [(0, 3, 'チョン'), (4, 6, 'チョ')]
    """

    def __init__(self, words: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        for word in words:
            if word:
                self._automaton.add_word(word, word)
        self._empty = not len(self._automaton)
        if not self._empty:
            self._automaton.make_automaton()

    def finditer(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, word) of each leftmost-longest occurrence, in order.

        Chosen here from every occurrence the automaton reports (overlapping ones included):
        pyahocorasick's own ``iter_long`` misses a short word inside an unfinished long one
        (ナンカ in 人権ナンカイラナ when 人権ナンカイラナイ is a word)."""
        if self._empty:
            return iter(())
        found = sorted((last + 1 - len(word), -len(word), word) for last, word in self._automaton.iter(text))
        chosen, pos = [], 0
        for start, minus_length, word in found:  # leftmost first; at one start, the longest first
            if start >= pos:
                pos = start - minus_length
                chosen.append((start, pos, word))
        return iter(chosen)

    def starts(self, text: str) -> set[int]:
        """Where any of the words starts (overlapping occurrences included)."""
        if self._empty:
            return set()
        return {last + 1 - len(word) for last, word in self._automaton.iter(text)}

    def occurs_in(self, text: str) -> bool:
        return not self._empty and next(self._automaton.iter(text), None) is not None


def trie_pattern(words: list[str]) -> str:
    """One regular expression for many words, factored by common prefix (longest match first)."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?"
        return body

    return build(trie)


@lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    return Lexicon._read(_data_path("lexicon.tsv"), None)
