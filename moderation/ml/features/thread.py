"""How a comment sits in its thread: similarity, script mismatch, links and advertising."""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import normalize_text
from .base import (
    binary_entries,
    cached,
    columns,
    group_pairs,
    in_keys,
    pair_sums,
    string_input_tags,
    without_cache,
)

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
    if not texts:
        return np.zeros((0, 4))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    # One binary search per character: interval i of _EDGES is script _INTERVAL_SCRIPT[i] (4 = none).
    script = _INTERVAL_SCRIPT[np.searchsorted(_EDGES, codes, side="right")]
    if len(texts) == 1:
        out = np.bincount(script, minlength=5)[None, :4].astype(np.float64)
    else:
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        doc = np.repeat(np.arange(len(texts)), lengths)
        out = np.bincount(doc * 5 + script, minlength=5 * len(texts)).reshape(-1, 5)[:, :4].astype(np.float64)
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def _script_intervals() -> tuple[np.ndarray, np.ndarray]:
    bounds = sorted((lo, hi, col) for col, lo, hi in _SCRIPT_RANGES)
    edges, scripts, previous = [], [4], -1
    for lo, hi, col in bounds:
        if lo <= previous:
            raise ValueError("script ranges overlap")
        edges += [lo, hi + 1]
        scripts += [col, 4]
        previous = hi
    return np.array(edges, dtype=np.uint32), np.array(scripts, dtype=np.int64)


_EDGES, _INTERVAL_SCRIPT = _script_intervals()


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

    def _contexts(self, distinct: list[str]) -> dict[str, np.ndarray]:
        """What the features need of each distinct context, computed from its own entries alone
        (so one context alone gets exactly its values in a batch): the sorted (context, bucket)
        keys of its whole text and their count, its lines' (line, bucket) entries, and the
        script shares of its text."""
        nf = self.n_features
        lines_of = [[ln for ln in c.split("\n") if ln.strip()] for c in distinct]
        n_lines = np.array([len(ls) for ls in lines_of], dtype=np.int64)
        lines = [ln for ls in lines_of for ln in ls]
        c_doc, c_bucket = binary_entries(distinct, (2, 3), nf)
        l_doc, l_bucket = binary_entries(lines, (2, 3), nf)
        has_ctx = np.array([1.0 if c.strip() else 0.0 for c in distinct])
        scripts = script_shares(distinct)
        scripts[has_ctx == 0] = (0.0, 0.5, 0.5, 0.0)  # no context: assume a Japanese board
        return {
            "bounds": np.concatenate(([0], np.cumsum(n_lines))).astype(np.int64),
            "line_ctx": np.repeat(np.arange(len(distinct), dtype=np.int64), n_lines),
            "keys": c_doc * nf + c_bucket,
            "n_grams": np.bincount(c_doc, minlength=len(distinct)).astype(np.float64),
            "l_doc": l_doc,
            "l_bucket": l_bucket,
            "l_grams": np.bincount(l_doc, minlength=len(lines)).astype(np.float64),
            "has_ctx": has_ctx,
            "scripts": scripts,
        }

    def _similarity(self, texts: list[str], index: np.ndarray, ctx: dict) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity (binary character bigrams and trigrams) of each comment to its
        whole context, and to the context's closest line (its title, an article paragraph or
        an earlier post): a short title and a long thread then give comparable figures.

        Binary vectors: a cosine is shared n-grams / sqrt(n-grams of one * of the other), all
        counts, so one comment gets exactly the figures it gets in any batch."""
        nf = self.n_features
        t_doc, t_bucket = binary_entries(texts, (2, 3), nf)
        n_t = np.bincount(t_doc, minlength=len(texts)).astype(np.float64)
        shared = in_keys(index[t_doc] * nf + t_bucket, ctx["keys"])
        denom = np.sqrt(n_t * ctx["n_grams"][index])
        whole = np.divide(
            np.bincount(t_doc[shared], minlength=len(texts)).astype(np.float64),
            denom,
            out=np.zeros(len(texts)),
            where=denom > 0,
        )
        bounds, line_ctx, l_doc, l_bucket = ctx["bounds"], ctx["line_ctx"], ctx["l_doc"], ctx["l_bucket"]
        pair_c, pair_l, first = group_pairs(index, bounds)
        t_entries = (t_doc, t_bucket, np.ones(len(t_doc)))
        dots = pair_sums(
            t_entries, (l_doc, l_bucket, np.ones(len(l_doc))), index, line_ctx, bounds, first, len(pair_c), nf
        )
        pair_denom = np.sqrt(n_t[pair_c] * ctx["l_grams"][pair_l])
        sims = np.divide(dots, pair_denom, out=np.zeros_like(dots), where=pair_denom > 0)
        best = np.zeros(len(texts))
        if len(sims):
            np.maximum.at(best, pair_c, sims)
        return whole, best

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        return sp.csr_matrix(self._features(*columns(X)))

    def context_row(self, text: str, context: str) -> tuple[np.ndarray, np.ndarray]:
        """One comment's row of :meth:`transform` as (sorted column indices, float32 values),
        without a sparse matrix: the hook's path, bit for bit the batch's row."""
        check_is_fitted(self, "n_features_out_")
        row = self._features([text], [context])[0]
        nz = np.flatnonzero(row)
        return nz, row[nz]

    def _features(self, texts: list[str], contexts: list[str]) -> np.ndarray:
        # Many comments share a thread: each distinct context is read once.
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        index = index.astype(np.int64)
        if len(distinct) == 1:  # the hook's case: a thread's context comes back with every post
            ctx = cached(self, ("context", distinct[0]), lambda key: self._contexts([key[1]]))
        else:
            ctx = self._contexts(list(distinct))
        sim, best_line = self._similarity(texts, index, ctx)
        p = script_shares(texts)  # hangul, kana, han, latin
        q = ctx["scripts"][index]
        has_ctx = ctx["has_ctx"][index]
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
        return features.astype(np.float32)

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
