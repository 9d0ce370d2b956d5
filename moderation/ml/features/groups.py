"""Group-targeted hostility without a slur: a neutral group noun (``data/groups.tsv``) and a
hostile construction (``data/hostility.tsv``) in the same clause (see ``data/GROUPS.md``).

"<group> should die", "let's hunt <group>", "<group> are nothing but swindlers" carry no
lexicon word; character n-grams learn them only for the groups and phrasings seen in training.
This transformer names the pattern: group mention + call for death / violence / expulsion,
dehumanising comparison, sweeping generalisation, or contempt marker, within one clause (the
text between 。！？!? or line breaks, and at most ``max_gap`` characters apart). Its hits are
features and explanation spans (``朝鮮人 … 狩り``), never a verdict: quoting and condemning
such a sentence has the same pattern, and the model weighs the rest of the text.

Examples
--------
>>> gh = GroupHostility.load()
>>> [(p.group.term, p.hostile.kind, p.excerpt) for p in gh.pairs("朝鮮人狩りの時間だ")]
[('朝鮮人', 'violence', '朝鮮人 … 狩りの時間')]
>>> gh.pairs("韓国人の友達と狩りに行った。")  # bare 狩り counts only right after the group
[]
>>> [p.hostile.kind for p in gh.pairs("女なんて感情的で仕事できない")]
['contempt', 'generalise', 'generalise']
>>> gh.pairs("障害者の雇用を増やすべきだ")
[]
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ...core import LexiconError
from ..lexicon import CATEGORIES, LiteralFinder, trie_pattern
from ..text import normalize, normalize_text
from .base import string_input_tags, texts_of

HOSTILE_KINDS = ("death", "violence", "expulsion", "dehumanise", "generalise", "quantifier", "contempt")
_HIRA_START, _HIRA_END = 0x3041, 0x3096
_KANA_TABLE = {c: c + 0x60 for c in range(_HIRA_START, _HIRA_END + 1)}
_LATIN = re.compile(r"^[a-z0-9 '\-]+$")
_KATAKANA = re.compile(r"^[\u30a1-\u30fa\u30fc]+$")
_KATAKANA_CHAR = re.compile(r"[\u30a1-\u30fa\u30fc]")
_HAN_OR_KATAKANA = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\u30a1-\u30fa]")
_HAN = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf]$")
_CLAUSE_END = re.compile(r"[。．!?！？\n]")


@dataclass(frozen=True)
class Term:
    """One spelling of a group noun or hostile construction (``kind``: category or hostile kind)."""

    term: str
    spelling: str
    kind: str  # group category, or hostile kind
    lang: str
    weight: float


@dataclass(frozen=True)
class Mention:
    """A term found in a text."""

    term: str
    kind: str
    weight: float
    span: tuple[int, int]  # [start, end) in the original text
    vspan: tuple[int, int]  # in the matching view
    clause: int
    adjacent: bool = False  # a hostile spelling written ^...: counts only right after the group


@dataclass(frozen=True)
class Pair:
    """A group noun and a hostile construction in one clause: the pattern of group-targeted hostility."""

    group: Mention
    hostile: Mention
    weight: float
    excerpt: str

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [self.group.span, self.hostile.span]


def _data_path(name: str) -> Path:
    return Path(str(resources.files("moderation") / "data" / name))


def _key(spelling: str) -> str:
    return normalize(spelling).text.translate(_KANA_TABLE)


def _read(path: Path, group: bool) -> tuple[list[Term], bytes]:
    raw = path.read_bytes()
    terms, header = [], None
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        row = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if header is None:
            header = row
            continue
        if group:
            if len(row) != 5:
                raise LexiconError(f"{path}:{lineno}: expected 5 tab-separated fields, found {len(row)}")
            term, kind, lang, variants, _note = row
            weight = 1.0
            if kind not in CATEGORIES:
                raise LexiconError(f"{path}:{lineno}: unknown category {kind!r}")
        else:
            if len(row) != 6:
                raise LexiconError(f"{path}:{lineno}: expected 6 tab-separated fields, found {len(row)}")
            term, kind, lang, weight_text, variants, _note = row
            weight = float(weight_text)
            if kind not in HOSTILE_KINDS:
                raise LexiconError(f"{path}:{lineno}: unknown kind {kind!r}")
        for spelling in [term] + [v for v in variants.split("|") if v]:
            terms.append(Term(term, spelling, kind, lang, weight))
    return terms, raw


class _Matcher:
    """Literal spellings on the normalised text with hiragana read as katakana (a 1:1 map,
    so clause marks and offsets stay); Latin spellings on word boundaries; short katakana
    and single-kanji spellings only where they are not part of a longer word."""

    def __init__(self, terms: list[Term]):
        self.by_key: dict[str, Term] = {}
        self.latin: dict[str, Term] = {}
        self.adjacent: set[str] = set()
        for t in terms:
            key = _key(t.spelling.lstrip("^"))
            if t.spelling.startswith("^"):
                self.adjacent.add(key)
            (self.latin if _LATIN.match(key) else self.by_key).setdefault(key, t)
        self.cjk_re = re.compile(trie_pattern(sorted(self.by_key, key=len, reverse=True))) if self.by_key else None
        # The pattern's matches, linear in the text (the pattern stays for tests/test_lexicon_automaton.py).
        self.cjk = LiteralFinder(self.by_key)
        self.latin_re = (
            re.compile(
                r"(?<![a-z])(?:"
                + "|".join(re.escape(k) for k in sorted(self.latin, key=len, reverse=True))
                + r")(?![a-z])"
            )
            if self.latin
            else None
        )

    def find(self, view: str, raw: str):
        """Matches in ``view`` (kana folded); neighbours are judged on ``raw`` (the same
        text before hiragana became katakana: な after 女 is not part of the word)."""
        if self.cjk_re is not None:
            for a, b, key in self.cjk.finditer(view):
                t = self.by_key.get(key)
                if t is None:
                    continue
                before = raw[a - 1] if a else ""
                after = raw[b] if b < len(raw) else ""
                if (
                    _KATAKANA.match(key)
                    and len(key) <= 4
                    and (_KATAKANA_CHAR.match(before) or _KATAKANA_CHAR.match(after))
                ):
                    continue  # inside a longer katakana word (ハーフタイム, ノミネート)
                if _HAN.match(key) and (_HAN_OR_KATAKANA.match(before) or _HAN_OR_KATAKANA.match(after)):
                    continue  # one kanji inside a word (彼女, 長男, 獣医)
                yield t, a, b, key in self.adjacent
        if self.latin_re is not None:
            for m in self.latin_re.finditer(view):
                yield self.latin[m.group(0)], m.start(), m.end(), m.group(0) in self.adjacent


class GroupHostility:
    """Group nouns and hostile constructions, and the pairs of them within one clause."""

    def __init__(self, groups: list[Term], hostile: list[Term], *, max_gap: int = 30, sha256: str = ""):
        self.groups = groups
        self.hostile = hostile
        self.max_gap = max_gap
        self.sha256 = sha256
        self._g = _Matcher(groups)
        self._h = _Matcher(hostile)

    @classmethod
    def load(cls, groups: str | Path | None = None, hostility: str | Path | None = None) -> GroupHostility:
        """Read the group and hostility lists (default: the ones shipped in ``moderation/data``).

        Raises
        ------
        LexiconError
            A row with the wrong number of fields or an unknown category or kind.
        """
        if groups is None and hostility is None:
            return _default()
        g, rg = _read(Path(groups) if groups else _data_path("groups.tsv"), True)
        h, rh = _read(Path(hostility) if hostility else _data_path("hostility.tsv"), False)
        return cls(g, h, sha256=hashlib.sha256(rg + rh).hexdigest())

    def __getstate__(self):
        return {"groups": self.groups, "hostile": self.hostile, "max_gap": self.max_gap, "sha256": self.sha256}

    def __setstate__(self, state):
        GroupHostility.__init__(
            self, state["groups"], state["hostile"], max_gap=state["max_gap"], sha256=state["sha256"]
        )

    def mentions(self, text: str, *, spans: bool = True) -> tuple[list[Mention], list[Mention]]:
        """The group nouns and the hostile constructions of ``text``, spans in the original text
        (``spans=False``: the fast path for features, spans into the normalised view)."""
        span_of: Callable[[int, int], tuple[int, int]] = _same_span
        if spans:
            norm = normalize(text)
            raw, span_of = norm.text, norm.span
        else:
            raw = normalize_text(text)
        view = raw.translate(_KANA_TABLE)
        if not view:
            return [], []
        ends = [m.start() for m in _CLAUSE_END.finditer(view)]

        def build(matcher, weight_of):
            out = []
            for t, a, b, adjacent in matcher.find(view, raw):
                clause = bisect.bisect_right(ends, a)
                out.append(Mention(t.term, t.kind, weight_of(t), span_of(a, b), (a, b), clause, adjacent))
            return out

        return build(self._g, lambda t: 1.0), build(self._h, lambda t: t.weight)

    def pairs(self, text: str, found=None) -> list[Pair]:
        """Each hostile construction with the nearest group noun of its clause (within ``max_gap``)."""
        groups, hostile = found if found is not None else self.mentions(text)
        out = []
        for h in hostile:
            best = None
            for g in groups:
                if g.clause != h.clause:
                    continue
                if g.vspan[0] < h.vspan[1] and h.vspan[0] < g.vspan[1]:
                    continue  # one word read two ways
                gap = h.vspan[0] - g.vspan[1] if h.vspan[0] >= g.vspan[1] else g.vspan[0] - h.vspan[1]
                if h.adjacent and not (0 <= h.vspan[0] - g.vspan[1] <= 1):
                    continue  # 女ども, 朝鮮人狩り: right after the group only (one particle between)
                if gap > self.max_gap:
                    continue
                if best is None or gap < best[0]:
                    best = (gap, g)
            if best is not None:
                g = best[1]
                a, b = (g, h) if g.span[0] <= h.span[0] else (h, g)
                excerpt = f"{text[a.span[0] : a.span[1]]} … {text[b.span[0] : b.span[1]]}"
                out.append(Pair(g, h, h.weight, excerpt))
        return out


def _same_span(a: int, b: int) -> tuple[int, int]:
    return (a, b)


@lru_cache(maxsize=1)
def _default() -> GroupHostility:
    return GroupHostility.load(_data_path("groups.tsv"), _data_path("hostility.tsv"))


class GroupHostilityFeatures(TransformerMixin, BaseEstimator):
    """Features of group-targeted hostility (for ``slur``) and of hostility at anyone (for
    ``delete``), from :class:`GroupHostility`.

    Columns: the strongest pair; the strongest pair per hostile kind and per group category;
    whether a sweeping claim (group + quantifier + generalisation or dehumanisation) is made;
    pair count (capped at 3, scaled to 1); whether any group is mentioned; the strongest hostile
    construction per kind regardless of groups (quantifiers and ^-spellings, which mean nothing
    alone, excluded); their count (capped at 3, scaled to 1).

    Examples
    --------
    >>> f = GroupHostilityFeatures().fit([""])
    >>> X = f.transform(["クルド人は全員犯罪者だ", "クルド人の文化を学ぶ"]).toarray()
    >>> bool(X[0, 0] > 0), bool(X[1, 0] > 0), bool(X[1, f.feature_names().index("gh_group")] > 0)
    (True, False, True)
    """

    def __init__(self, matcher: GroupHostility | None = None):
        self.matcher = matcher

    def fit(self, X, y=None):
        """Fix the matcher (the shipped lists unless one is given); nothing is learned."""
        self.matcher_ = self.matcher or GroupHostility.load()
        return self

    @staticmethod
    def feature_names() -> list[str]:
        """The columns, in order."""
        return (
            ["gh_pair_max"]
            + [f"gh_pair_{k}" for k in HOSTILE_KINDS]
            + [f"gh_pair_cat_{c}" for c in CATEGORIES]
            + ["gh_sweeping", "gh_pair_count", "gh_group"]
            + [f"gh_hostile_{k}" for k in HOSTILE_KINDS]
            + ["gh_hostile_count"]
        )

    def _row(self, text: str, spans: bool = True):
        groups, hostile = self.matcher_.mentions(text, spans=spans) if text else ([], [])
        pairs = self.matcher_.pairs(text, (groups, hostile)) if groups and hostile else []
        nk, nc = len(HOSTILE_KINDS), len(CATEGORIES)
        row = np.zeros(1 + nk + nc + 3 + nk + 1)
        clauses: dict[tuple[int, str], set] = {}
        for p in pairs:
            row[0] = max(row[0], p.weight)
            k = 1 + HOSTILE_KINDS.index(p.hostile.kind)
            row[k] = max(row[k], p.weight)
            c = 1 + nk + CATEGORIES.index(p.group.kind)
            row[c] = max(row[c], p.weight)
            clauses.setdefault((p.group.clause, p.group.term), set()).add(p.hostile.kind)
        if any("quantifier" in kinds and kinds & {"generalise", "dehumanise"} for kinds in clauses.values()):
            row[1 + nk + nc] = 1.0
        row[2 + nk + nc] = min(len(pairs), 3) / 3.0
        row[3 + nk + nc] = 1.0 if groups else 0.0
        # Alone (no group needed), only constructions that are hostile by themselves: not the
        # quantifiers (全員, みんな) nor the ^-spellings that only mean something after a group
        # (共 in 共に, なんて).
        alone = [h for h in hostile if not h.adjacent and h.kind != "quantifier"]
        for h in alone:
            k = 4 + nk + nc + HOSTILE_KINDS.index(h.kind)
            row[k] = max(row[k], h.weight)
        row[-1] = min(len(alone), 3) / 3.0
        return row, pairs, groups, hostile

    def transform(self, X):
        check_is_fitted(self, "matcher_")
        rows = [self._row(t, spans=False)[0] for t in texts_of(X)]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float32).reshape(len(rows), len(self.feature_names())))

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        return np.array(self.feature_names(), dtype=object)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        """Each feature's ``coef * value`` spread over the spans that raised it: pair features
        over both the group and the hostile span, group/hostile-only features over theirs."""
        out = np.zeros(len(text), dtype=np.float64)
        row, pairs, groups, hostile = self._row(text)
        nk, nc = len(HOSTILE_KINDS), len(CATEGORIES)
        contrib = row * coef[: len(row)]
        pair_total = float(contrib[: 3 + nk + nc].sum())
        spans = [s for p in pairs for s in p.spans]
        for a, b in spans:
            out[a:b] += pair_total / len(spans) / max(1, b - a)
        g_total = float(contrib[3 + nk + nc])
        for m in groups:
            a, b = m.span
            out[a:b] += g_total / len(groups) / max(1, b - a)
        h_total = float(contrib[4 + nk + nc :].sum())
        alone = [h for h in hostile if not h.adjacent and h.kind != "quantifier"]
        for m in alone:
            a, b = m.span
            out[a:b] += h_total / len(alone) / max(1, b - a)
        return out

    def reasons(self, text: str) -> list[tuple[tuple[int, int], str, float]]:
        """(span covering group … hostile, excerpt, weight) for each pair: explanation spans."""
        return [
            ((min(p.group.span[0], p.hostile.span[0]), max(p.group.span[1], p.hostile.span[1])), p.excerpt, p.weight)
            for p in self.matcher_.pairs(text)
        ]
