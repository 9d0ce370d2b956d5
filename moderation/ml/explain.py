"""Explanations: the spans of a comment that raised a label's score.

A linear model's score is a sum over features; every feature view knows which characters
of the original text each of its features came from (``char_contributions``), so a
label's score can be spread back over the characters and the heaviest runs shown.

Examples
--------
>>> from moderation.ml.artifacts import load_model
>>> from moderation.moderator import default_model_path
>>> model, _ = load_model(default_model_path())
>>> [r.excerpt for r in explain(model, "下朝鮮は黙ってろ", "", "slur") if r.source == "lexicon"]
['下朝鮮']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core import Reason

if TYPE_CHECKING:
    from .estimator import ModerationModel

#: A run of characters is part of a span when its score is at least this share of the maximum.
RUN_CUT = 0.35


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


def explain(model: ModerationModel, text: str, context: str, label: str, *, top: int = 3) -> list[Reason]:
    """The spans of ``text`` that raised ``label`` most: lexicon hits first, then the
    heaviest runs of characters by their n-gram and subword contributions."""
    reasons: list[Reason] = []
    lexicon = dict(model.featurizer_.transformer_list)["lexicon"].lexicon_
    if label in ("slur", "delete"):
        for hit in lexicon.find(text):
            reasons.append(Reason(label, hit.span, text[hit.span[0] : hit.span[1]], hit.weight, "lexicon"))
    scores = char_scores(model, text, context, label)
    if len(scores) and scores.max() > 0:
        cut = RUN_CUT * scores.max()
        runs, start = [], None
        for i, v in enumerate([*list(scores), 0.0]):
            if v >= cut and start is None:
                start = i
            elif v < cut and start is not None:
                runs.append((float(scores[start:i].sum()), start, i))
                start = None
        runs.sort(reverse=True)
        for weight, a, b in runs:
            if len([r for r in reasons if r.source == "model"]) >= top:
                break
            if any(r.span[0] <= a and b <= r.span[1] for r in reasons):
                continue
            a, b = widen(text, a, b)
            reasons.append(Reason(label, (a, b), text[a:b], weight, "model"))
    return reasons


def widen(text: str, a: int, b: int, minimum: int = 2) -> tuple[int, int]:
    """A span of at least ``minimum`` characters, without leading/trailing blanks.

    Examples
    --------
    >>> widen("abc ", 3, 4)
    (2, 3)
    """
    while b - a < minimum and (a > 0 or b < len(text)):
        if b < len(text):
            b += 1
        elif a > 0:
            a -= 1
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b
