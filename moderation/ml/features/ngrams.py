"""Hashed character n-grams of the normalised or the obfuscation-folded view."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import fold, fold_text, normalize, normalize_text
from .base import (
    TfidfCounts,
    cached,
    csr_row,
    effective_min_df,
    hashed_ngrams,
    hashed_ngrams_one,
    spread,
    string_input_tags,
    texts_of,
    tfidf_row,
    without_cache,
)


class CharNgrams(TransformerMixin, BaseEstimator):
    """Hashed character n-grams with TF-IDF weights.

    Parameters
    ----------
    view : {'normalized', 'folded'}
        ``normalized``: NFKC, lower case, repeats folded. ``folded``: additionally with
        separators inside words removed, hiragana as katakana and masks as a wildcard, so
        ``チ ョ ン``, ``ちょん`` and ``ﾁｮﾝ`` give the same n-grams.
    ngram_range : tuple of int
    n_features : int
        Hash buckets (a power of two keeps collisions rare and the modulo cheap).
    min_df : int
        Buckets seen in fewer training documents get weight 0.

    Attributes
    ----------
    idf_ : ndarray of shape (n_features,)
    min_df_ : int
        The ``min_df`` applied: 1 when fitting on fewer than 20 comments, where a bucket seen
        once is all the evidence there is.

    Examples
    --------
    >>> ng = CharNgrams(view="folded", min_df=1).fit(["チ ョ ン", "ちょん"])
    >>> X = ng.transform(["チ ョ ン", "ちょん"])
    >>> float(abs(X[0] - X[1]).sum())
    0.0
    """

    def __init__(
        self,
        view: str = "normalized",
        ngram_range: tuple[int, int] = (1, 4),
        n_features: int = 1 << 19,
        min_df: int = 2,
    ):
        self.view = view
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def __getstate__(self):
        return without_cache(self.__dict__)

    def _viewtexts_of(self, texts: list[str]) -> list[str]:
        return [self._viewtext(t) for t in texts]

    def _viewtext(self, text: str) -> str:
        if self.view == "folded":
            return fold_text(text)
        if self.view == "normalized":
            return normalize_text(text)
        raise ValueError(f"unknown view {self.view!r}")

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One comment's features as (sorted buckets, float32 values): its row of
        :meth:`transform`, bit for bit, without building a sparse matrix."""
        return cached(self, ("row", text), self._row)

    def _row(self, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        _s, _n, buckets = hashed_ngrams_one(self._viewtext(key[1]), _pair(self.ngram_range), self.n_features)
        return tfidf_row(buckets, self.idf_)

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        views = self._viewtexts_of(texts)
        d, _s, _n, b = hashed_ngrams(views, _pair(self.ngram_range), self.n_features)
        return TfidfCounts.counts(d, b, len(texts), self.n_features)

    def fit(self, X, y=None):
        texts = texts_of(X)
        counts = self._counts(texts)
        self.min_df_ = effective_min_df(self.min_df, len(texts))
        self.idf_ = TfidfCounts.idf(counts, self.min_df_)
        return self

    def transform(self, X):
        check_is_fitted(self, "idf_")
        texts = texts_of(X)
        if len(texts) == 1:  # one comment (the hook): no batch bookkeeping
            return csr_row(*self.row(texts[0]), self.n_features)
        return TfidfCounts.weight(self._counts(texts), self.idf_)

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        return np.array([f"{self.view}_ngram_{i}" for i in range(self.n_features)], dtype=object)

    def _occurrences(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every weighted n-gram occurrence of ``text``: (bucket, weight share, original span)."""
        view = fold(text) if self.view == "folded" else normalize(text)
        empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 2), np.int64))
        if not view.text:
            return empty
        starts, ns, buckets = hashed_ngrams_one(view.text, _pair(self.ngram_range), self.n_features)
        indices, values = self.row(text)
        if not len(indices):
            return empty
        # The feature value of each occurrence's bucket (0 for buckets pruned in fit), without
        # allocating arrays the size of the hash space.
        pos = np.minimum(np.searchsorted(indices, buckets), len(indices) - 1)
        value = np.where(indices[pos] == buckets, values[pos], 0.0)
        keep = value > 0
        buckets, starts, ns, value = buckets[keep], starts[keep], ns[keep], value[keep]
        _u, inverse, counts = np.unique(buckets, return_inverse=True, return_counts=True)
        shares = value / counts[inverse]  # each occurrence's part of the feature value
        origin = np.asarray(view.origin, dtype=np.int64)
        spans = np.column_stack([origin[starts], origin[starts + ns - 1] + 1])
        return buckets, shares, spans.reshape(-1, 2)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        """Per original character, the share of ``coef · x`` this block gives it."""
        buckets, shares, spans = cached(self, text, self._occurrences)
        return spread(len(text), coef[buckets] * shares, spans)


def _pair(ngram_range) -> tuple[int, int]:
    lo, hi = ngram_range
    return int(lo), int(hi)
