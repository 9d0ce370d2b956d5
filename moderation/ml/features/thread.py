"""How a comment sits in its thread: similarity, script mismatch, links and advertising."""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import normalize_text
from .base import TfidfCounts, cached, columns, compact_space, hashed_ngrams, l2_rows, string_input_tags, without_cache

_SCRIPT_RANGES = (  # (script column, first code point, last code point)
    (0, 0xAC00, 0xD7AF),
    (0, 0x1100, 0x11FF),
    (0, 0x3130, 0x318F),  # hangul
    (1, 0x3040, 0x30FF),
    (1, 0xFF66, 0xFF9F),  # kana
    (2, 0x4E00, 0x9FFF),
    (2, 0x3400, 0x4DBF),  # han
    (3, 0x41, 0x5A),
    (3, 0x61, 0x7A),  # latin
)


def script_shares(texts: list[str]) -> np.ndarray:
    """Per text, the share of its letters in hangul, kana, han and latin (columns in that
    order), counted with numpy over the whole batch.

    Examples
    --------
    >>> script_shares(["그건 아니다", "韓国はabc"]).round(2).tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.17, 0.33, 0.5]]
    """
    out = np.zeros((len(texts), 4))
    if not texts:
        return out
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    doc = np.repeat(np.arange(len(texts)), lengths)
    for col, lo, hi in _SCRIPT_RANGES:
        mask = (codes >= lo) & (codes <= hi)
        out[:, col] += np.bincount(doc[mask], minlength=len(texts))
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


_AD = re.compile(
    r"(?:稼げ|稼ぐ|副業|在宅|簡単に|月収|日給|無料|登録|限定|今だけ|出会い|ライン|line\s*id|id\s*[:：]|"
    r"割引|クーポン|プレゼント|ｷｬﾝﾍﾟｰﾝ|キャンペーン|公式|詳しくは|こちら|プロフ|dm|フォロー|"
    r"casino|カジノ|bitcoin|ビットコイン|fx|投資|セフレ|エロ|アダルト)",
    re.I,
)
_URL = re.compile(r"(?:https?|ttps?)://\S+|www\.\S+|\b\S+\.(?:com|net|jp|co|io|xyz|info|biz)\b", re.I)


_LEGACY_NAMES = (
    "ctx_similarity",
    "ctx_present",
    "ctx_best_line_similarity",
    "script_hangul",
    "script_latin",
    "script_japanese",
    "script_distance",
    "urls",
    "ad_patterns",
    "length",
    "very_short",
    "hangul_in_non_korean_thread",
)
_NAMES = tuple(n for n in _LEGACY_NAMES if n not in ("script_hangul", "hangul_in_non_korean_thread"))
_KEEP = [_LEGACY_NAMES.index(n) for n in _NAMES]


class ThreadFeatures(TransformerMixin, BaseEstimator):
    """How a comment sits in its thread: for ``off_topic``.

    Features: character-trigram cosine similarity to the context (thread title, article,
    earlier posts) and to its closest line, and whether there is any context; the Latin and
    Japanese script shares of the comment and its script distance from the context's; URL and
    advertising pattern counts; length. No column says "Hangul": a Hangul share taught the
    model that Korean text is off-topic anywhere; a script mismatch counts only against the
    thread's own posts (:class:`~moderation.ml.features.relevance.RelevanceFeatures`).
    A model fitted before that (12 columns) is served its old columns.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"text": ["그건 너의 생각일뿐이다."], "context": ["在韓米軍の役割"]})
    >>> ThreadFeatures().fit(X).transform(X).shape
    (1, 10)
    """

    def __init__(self, n_features: int = 1 << 18):
        self.n_features = n_features

    def __getstate__(self):
        return without_cache(self.__dict__)

    def fit(self, X, y=None):
        self.n_features_out_ = len(_NAMES)
        return self

    def _vectors(self, texts: list[str], space: np.ndarray | None = None) -> sp.csr_matrix:
        # With ``space`` (base.compact_space), column j is bucket space[j]: same values, narrow matrices.
        width = self.n_features if space is None else len(space)
        if not texts:
            return sp.csr_matrix((0, width), dtype=np.float32)
        norm = [normalize_text(t) for t in texts]
        d, _s, _n, b = hashed_ngrams(norm, (2, 3), self.n_features)
        if space is not None:
            b = np.searchsorted(space, b)
        M = TfidfCounts.counts(d, b, len(norm), width)
        M.data = np.minimum(M.data, 1.0)
        return l2_rows(M)

    def _similarity(self, texts: list[str], contexts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity (character bigrams and trigrams) of each comment to its whole
        context, and to the context's closest line (its title, an article paragraph or an
        earlier post): a short title and a long thread then give comparable figures."""
        # Many comments share a thread: each distinct context is hashed once.
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        lines_of = [[ln for ln in c.split("\n") if ln.strip()] for c in distinct]
        lines = [ln for ls in lines_of for ln in ls]
        space = compact_space([*texts, *distinct, *lines], (2, 3), self.n_features)
        T = self._vectors(texts, space)
        C = self._vectors(list(distinct), space)
        whole = np.asarray(T.multiply(C[index]).sum(axis=1)).ravel()
        L = self._vectors(lines, space)
        bounds = np.concatenate(([0], np.cumsum([len(lines) for lines in lines_of])))
        best = np.zeros(len(texts))
        for j in range(len(distinct)):
            rows = np.nonzero(index == j)[0]
            if bounds[j + 1] > bounds[j] and len(rows):
                best[rows] = (T[rows] @ L[bounds[j] : bounds[j + 1]].T).max(axis=1).toarray().ravel()
        return whole, best

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        texts, contexts = columns(X)
        sim, best_line = self._similarity(texts, contexts)
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        p = script_shares(texts)  # hangul, kana, han, latin
        q = script_shares(list(distinct))[index]
        has_ctx = np.array([1.0 if c.strip() else 0.0 for c in contexts])
        q[has_ctx == 0] = (0.0, 0.5, 0.5, 0.0)  # no context: assume a Japanese board
        lengths = np.array([len(t) for t in texts], dtype=np.float64)
        stripped = np.array([len(t.strip()) for t in texts])
        urls = np.array([len(_URL.findall(t)) for t in texts], dtype=np.float64)
        ads = np.array([len(_AD.findall(normalize_text(t))) for t in texts], dtype=np.float64)
        features = (
            np.column_stack(
                [
                    sim,
                    has_ctx,
                    best_line,
                    p[:, 0],
                    p[:, 3],
                    p[:, 1] + p[:, 2],
                    0.5 * np.abs(p - q).sum(axis=1),
                    np.log1p(urls),
                    np.log1p(ads),
                    np.log1p(lengths) / 5.0,
                    (stripped <= 3).astype(float),
                    p[:, 0] * (1.0 - q[:, 0]),
                ]
            )
            if len(texts)
            else np.zeros((0, 12))
        )
        if self.n_features_out_ != len(_LEGACY_NAMES):
            features = features[:, _KEEP]
        return sp.csr_matrix(features.astype(np.float32))

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        names = _LEGACY_NAMES if getattr(self, "n_features_out_", 0) == len(_LEGACY_NAMES) else _NAMES
        return np.array(names, dtype=object)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        # Links and advertising words are the parts of a comment a moderator can be shown.
        out = np.zeros(len(text), dtype=np.float64)
        from .rows import dense_row  # imports this module

        x = cached(self, (text, context), lambda key: dense_row(self, key[0], key[1]))
        names = list(self.get_feature_names_out())
        for rx, k in ((_URL, names.index("urls")), (re.compile(_AD.pattern, re.I), names.index("ad_patterns"))):
            matches = list(rx.finditer(text))
            if matches and x[k]:
                for m in matches:
                    out[m.start() : m.end()] += coef[k] * x[k] / len(matches) / max(1, m.end() - m.start())
        return out
