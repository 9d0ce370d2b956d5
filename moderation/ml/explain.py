"""Explanations: the words and phrases of a comment that raised a label's score.

A linear model's score is a sum over features; every feature view knows which characters
of the original text each of its features came from (``char_contributions``), so a
label's score can be spread back over the characters. Those are summed over whole units
(sentencepiece pieces snapped to words), neighbours merged: a moderator sees ``名前欄``
or ``出ていけ``, never two-character fragments such as ``なw``.

Examples
--------
>>> from moderation.ml.artifacts import load_model
>>> from moderation.moderator import default_model_path
>>> model, _ = load_model(default_model_path())
>>> [r.excerpt for r in explain(model, "下朝鮮は黙ってろ", "", "slur") if r.source == "lexicon"]
['下朝鮮']
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core import Reason
from .features.base import cached
from .text import normalize

if TYPE_CHECKING:
    from .estimator import ModerationModel

#: A unit (and a merged phrase) is shown when it weighs at least this share of the heaviest one.
MIN_SHARE = 0.25
#: An off-topic post without words to show is its own reason, up to this many characters.
OFF_TOPIC_SPAN = 200


def block_widths(model: ModerationModel) -> dict[str, int]:
    """How many columns each feature view of ``model``'s featurizer gives (cached on the model)."""
    widths = model.__dict__.get("_widths")
    if widths is None:
        sample = pd.DataFrame({"text": ["a"], "context": [""]})
        widths = {name: trans.transform(sample).shape[1] for name, trans in model.featurizer_.transformer_list}
        model.__dict__["_widths"] = widths
    return widths


def char_scores(model: ModerationModel, text: str, context: str, label: str) -> np.ndarray:
    """How much each character of ``text`` raised ``label``'s score (its share of w·x)."""
    coef = model.labels_[label].classifier.coef_[0]
    out = np.zeros(len(text))
    pos = 0
    widths = block_widths(model)
    for name, trans in model.featurizer_.transformer_list:
        width = widths[name]
        block = coef[pos : pos + width]
        pos += width
        if hasattr(trans, "char_contributions"):
            out += trans.char_contributions(text, context, block)
    return out


_PARTICLES = set("はがをにでとものへやかねよなわ")
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def _script(ch: str) -> str:
    if ch.isspace():
        return "space"
    o = ord(ch)
    if 0x3041 <= o <= 0x309F:
        return "hira"
    if 0x30A0 <= o <= 0x30FF or 0xFF66 <= o <= 0xFF9F:
        return "kata"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or ch in "々〆":
        return "han"
    if 0xAC00 <= o <= 0xD7AF:
        return "hangul"
    if ch.isalnum():
        return "alnum"
    return "punct" if unicodedata.category(ch)[0] in "PSZC" else "other"


def script_units(text: str) -> list[tuple[int, int]]:
    """Runs of one script (a kanji run, a katakana word, a Latin word...): a fallback
    segmentation when no sentencepiece model is at hand. Hiragana right after kanji stays
    with it (okurigana: 出ていけ)."""
    return list(_script_units(text))


_SCRIPTS = ("space", "hira", "kata", "han", "hangul", "alnum", "punct", "other")


@lru_cache(maxsize=32)
def _script_units(text: str) -> tuple[tuple[int, int], ...]:
    if not text:
        return ()
    # _script of each distinct character (a few hundred in a long comment), then numpy over
    # the text: the same runs as a loop over its characters, without a call per character.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    distinct, where = np.unique(codes, return_inverse=True)
    kinds = np.array([_SCRIPTS.index(_script(chr(c))) for c in distinct.tolist()], dtype=np.int8)[where]
    a, b = kinds[:-1], kinds[1:]
    han, hira = _SCRIPTS.index("han"), _SCRIPTS.index("hira")
    cuts = (np.flatnonzero((a != b) & ~((a == han) & (b == hira))) + 1).tolist()
    bounds = [0, *cuts, len(text)]
    return tuple((x, y) for x, y in itertools.pairwise(bounds) if text[x:y].strip())


def piece_units(model, text: str) -> list[tuple[int, int]]:
    """The sentencepiece pieces of ``text`` as original-text spans (gaps filled by script runs)."""
    subwords = dict(model.featurizer_.transformer_list).get("subwords")
    if subwords is None or getattr(subwords, "sp_model_", None) is None:
        return script_units(text)
    # Remembered with the view's other per-comment work: every label of a comment reads them.
    return cached(subwords, ("units", text), lambda _key: _piece_units(subwords, text))


def _piece_units(subwords, text: str) -> list[tuple[int, int]]:
    view = normalize(text)
    spans, pos = [], 0
    for piece in subwords.processor.encode(view.text, out_type=str):
        surface = piece.replace("\u2581", " ").strip()
        if not surface:
            continue
        found = view.text.find(surface, pos)
        if found < 0:
            continue
        pos = found + len(surface)
        spans.append(view.span(found, pos))
    covered = np.zeros(len(text), bool)
    for a, b in spans:
        covered[a:b] = True
    spans += [(a, b) for a, b in _script_units(text) if not covered[a:b].any()]
    return _snap(text, sorted(set(spans)))


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """Drop blanks and punctuation at both ends, and a particle hanging off a non-hiragana word
    (に in にｗ, は in 在日は)."""
    while a < b and (
        not text[a].isalnum() or (text[a] in _PARTICLES and b - a >= 2 and _script(text[a + 1]) != "hira")
    ):
        a += 1
    while b > a and (
        not text[b - 1].isalnum() or (text[b - 1] in _PARTICLES and b - a >= 2 and _script(text[b - 2]) != "hira")
    ):
        b -= 1
    if b - a == 1 and _script(text[a]) == "hira":
        return a, a  # a lone kana says nothing
    return a, b


def _snap(text: str, units: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A piece inside a katakana, Latin or hangul word becomes the whole word (トリップ, not ップ)."""
    runs = [(a, b) for a, b in _script_units(text) if _script(text[a]) in ("kata", "alnum", "hangul")]
    starts = [ra for ra, _rb in runs]
    out = []
    for a, b in units:
        k = bisect.bisect_right(starts, a) - 1  # runs are disjoint: only this one can hold [a, b)
        if k >= 0 and b <= runs[k][1]:
            a, b = runs[k]
        out.append((a, b))
    return sorted(set(out))


def unit_sums(scores: np.ndarray, units: list[tuple[int, int]]) -> list[float]:
    """``float(scores[a:b].sum())`` of every unit, bit for bit, without a numpy call per unit:
    numpy sums fewer than 8 numbers one after the other, which is done here for all short
    units at once; longer ones are summed by numpy itself.

    Examples
    --------
    >>> s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    >>> unit_sums(s, [(0, 3), (2, 2), (0, 9)]) == [float(s[0:3].sum()), 0.0, float(s.sum())]
    True
    """
    if not units:
        return []
    bounds = np.asarray(units, dtype=np.int64).reshape(-1, 2)
    a, lengths = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    short = lengths < 8
    width = 7
    idx = np.minimum(a[:, None] + np.arange(width), max(len(scores) - 1, 0))
    vals = np.where(np.arange(width) < lengths[:, None], scores[idx] if len(scores) else 0.0, 0.0)
    acc = np.zeros(len(units))
    for j in range(width):  # left to right, as numpy does below 8 numbers (adding 0.0 changes nothing)
        acc = acc + vals[:, j]
    out = acc.tolist()
    for i in np.flatnonzero(~short).tolist():
        ua, ub = units[i]
        out[i] = float(scores[ua:ub].sum())
    return out


def phrases(
    text: str, scores: np.ndarray, units: list[tuple[int, int]], *, min_share: float = 0.25, max_gap: int = 1
) -> list[tuple[float, int, int]]:
    """(weight, start, end) of merged heavy units, heaviest first."""
    scored = [(s, a, b) for s, (a, b) in zip(unit_sums(scores, units), units)]
    best = max((s for s, _a, _b in scored), default=0.0)
    if best <= 0:
        return []
    keep = sorted((a, b, s) for s, a, b in scored if s >= min_share * best)
    merged: list[list] = []
    for a, b, s in keep:
        if merged and a - merged[-1][1] <= max_gap and not text[merged[-1][1] : a].strip("\u3000 ・、"):
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2] += s
        else:
            merged.append([a, b, s])
    out = []
    for a, b, s in merged:
        a, b = _trim(text, a, b)
        if b > a:
            out.append((s, a, b))
    top = max((s for s, _a, _b in out), default=0.0)
    return sorted([p for p in out if p[0] >= min_share * top], reverse=True)


def explain(
    model: ModerationModel, text: str, context: str, label: str, *, top: int = 3, min_share: float = MIN_SHARE
) -> list[Reason]:
    """The spans of ``text`` that raised ``label`` most, as a moderator can read them.

    1. Lexicon hits (exact spans, ``source="lexicon"``) and group-hostility pairs (the span
       from the group noun to the hostile construction: ``朝鮮人狩り``), for ``slur`` and ``delete``;
    2. per-character contributions of every view (:func:`char_scores`), summed over units:
       the model's sentencepiece pieces mapped back to the original text, snapped to whole
       katakana, Latin and hangul words (:func:`piece_units`);
    3. units raising the score by at least ``min_share`` of the best unit kept, neighbours
       merged into phrases, trimmed of punctuation and hanging particles, phrases under
       ``min_share`` of the best dropped; the ``top`` heaviest shown (``source="model"``).
    """
    reasons: list[Reason] = []
    blocks = dict(model.featurizer_.transformer_list)
    if label in ("slur", "delete"):
        lexicon = blocks.get("lexicon")
        if lexicon is not None:
            for hit in cached(lexicon, ("hits", text), lambda _key: lexicon.lexicon_.find(text)):
                reasons.append(Reason(label, hit.span, text[hit.span[0] : hit.span[1]], hit.weight, "lexicon"))
        groups = blocks.get("groups")
        if groups is not None and label == "slur":
            for (a, b), _excerpt, weight in groups.reasons(text):
                if not any(r.span[0] <= a and b <= r.span[1] for r in reasons):
                    reasons.append(Reason(label, (a, b), text[a:b], weight, "model"))
    scores = char_scores(model, text, context, label)
    if len(scores) and scores.max() > 0:
        n = 0
        for weight, a, b in phrases(text, scores, piece_units(model, text), min_share=min_share):
            if n >= top:
                break
            if any(r.span[0] <= a and b <= r.span[1] for r in reasons):
                continue
            reasons.append(Reason(label, (a, b), text[a:b], weight, "model"))
            n += 1
    if not reasons and label == "off_topic" and text.strip():
        # Off-topic is the post as a whole against its thread (relevance has no single words to
        # show): the reason is the post, up to OFF_TOPIC_SPAN characters of it.
        a = len(text) - len(text.lstrip())
        b = min(len(text.rstrip()), a + OFF_TOPIC_SPAN)
        reasons.append(Reason(label, (a, b), text[a:b], 1.0, "model"))
    return reasons
