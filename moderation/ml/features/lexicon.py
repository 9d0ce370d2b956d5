"""Features of the slur lexicon's hits."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..lexicon import CATEGORIES, ENTRY_KINDS, Lexicon
from .base import cached, string_input_tags, texts_of, without_cache


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Hits of the slur lexicon: the strongest weight per kind and per category, and a count.

    Parameters
    ----------
    lexicon : Lexicon, optional
        Default: the lexicon shipped in ``moderation/data``.

    Attributes
    ----------
    lexicon_ : Lexicon
        The lexicon fixed at fit time (its version is recorded in the model manifest).

    Examples
    --------
    >>> [round(float(v), 2) for v in LexiconFeatures().fit([""]).transform(["下朝鮮w", "晴れ"]).toarray()[:, 0]]
    [0.85, 0.0]
    """

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon

    def fit(self, X, y=None):
        self.lexicon_ = self.lexicon or Lexicon.load()
        return self

    def __getstate__(self):
        return without_cache(self.__dict__)

    @staticmethod
    def feature_names() -> list[str]:
        return ["lex_max"] + [f"lex_{k}" for k in ENTRY_KINDS] + [f"lex_cat_{c}" for c in CATEGORIES] + ["lex_count"]

    def _row(self, hits) -> list[float]:
        row = [0.0] * (2 + len(ENTRY_KINDS) + len(CATEGORIES))
        for h in hits:
            row[0] = max(row[0], h.weight)
            k = 1 + ENTRY_KINDS.index(h.kind)
            row[k] = max(row[k], h.weight)
            c = 1 + len(ENTRY_KINDS) + CATEGORIES.index(h.category)
            row[c] = max(row[c], h.weight)
        row[-1] = math.log1p(len(hits))
        return row

    def transform(self, X):
        check_is_fitted(self, "lexicon_")
        rows = [self._row(self.lexicon_.match_entries(t)) for t in texts_of(X)]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float32).reshape(len(rows), -1))

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        return np.array(self.feature_names(), dtype=object)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        out = np.zeros(len(text), dtype=np.float64)
        hits = cached(self, ("hits", text), lambda _key: self.lexicon_.find(text))  # once per comment
        if not hits:
            return out
        x = np.asarray(self._row(hits))
        total = float(x[:-1] @ coef[:-1])  # the count's share is spread over all hits
        spread = float(x[-1] * coef[-1]) / len(hits)
        weight_sum = sum(h.weight for h in hits)
        for h in hits:
            a, b = h.span
            out[a:b] += (total * h.weight / weight_sum + spread) / max(1, b - a)
        return out
