"""How related a comment is to *its* thread, from content: for ``off_topic`` (issue 11).

:class:`RelevanceFeatures` weighs the character n-grams of comments and contexts by an
inverse document frequency learned from a large unlabeled corpus (``fit`` / ``partial_fit``:
hashed document frequencies, so it streams in flat memory), so particles, kana runs and
punctuation weigh about nothing and names, nouns and rare words carry the similarity. It then
compares the comment with the context's parts separately (the title = the context's first
line; every other line: reply target, article paragraphs, earlier posts) and relative to the
thread's own coherence (how related the context's posts are to the rest of their context):
a comment no less related than the thread's own posts is on topic whatever the language.

Short and phatic comments ("それな", "草", "ㅋㅋ", "lol") carry little content mass: the
features say so, and the classifier learns they are replies, not off-topic. A script mismatch
counts only when the context has posts in another script.

Examples
--------
>>> import pandas as pd
>>> X = pd.DataFrame({"text": ["米軍の撤退は早い", "今日のラーメンうまい"],
...                   "context": ["在韓米軍の役割\\n米軍は撤退すべき", "在韓米軍の役割\\n米軍は撤退すべき"]})
>>> rf = RelevanceFeatures(n_features=1 << 12, min_df=1, floor=0.0, lexical_features=1 << 8).fit(X)
>>> F = rf.transform(X).toarray()
>>> F.shape == (2, len(rf.get_feature_names_out())) == (2, rf.n_features_out_)
True
>>> bool(F[0, 0] > F[1, 0])   # related content is closer to the context
True
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import normalize_text
from .base import columns, compact_space, hashed_ngrams, l2_rows, string_input_tags, texts_of
from .thread import script_shares

_NAMES = (
    "sim_whole",
    "sim_title",
    "sim_best_line",
    "sim_top2_lines",
    "containment",
    "containment_title",
    "coherence",
    "rel_whole",
    "rel_best_line",
    "content_mass",
    "content_mass_ratio",
    "phatic",
    "very_short",
    "length",
    "script_mismatch_posts",
    "ctx_present",
    "ctx_lines",
    "sim_whole_x_content",
    "containment_x_content",
    "rel_whole_pos",
    "rel_whole_neg",
)
# Characters that carry no content: kana-less laughter, punctuation, symbols, digits, spaces.
_NOISE = re.compile(r"[\sｗwW草笑ㅋㅎㅠㅜㄷ\W\d_]+")


def _content(text: str) -> str:
    return _NOISE.sub("", text)


class RelevanceFeatures(TransformerMixin, BaseEstimator):
    """Content-weighted similarity of a comment to the parts of its thread's context.

    Parameters
    ----------
    ngram_range : tuple of int
        Character n-grams of the normalised text.
    n_features : int
        Hash buckets (document frequencies are kept per bucket).
    min_df : int
        Buckets seen in fewer documents weigh 0.
    floor : float
        Subtracted from every log-IDF: the n-grams in more than ``exp(-floor)`` of all
        documents (particles, common kana) weigh 0. 2.0 = the n-grams of >13 % of documents.

    Attributes
    ----------
    df_ : ndarray of int64
        Documents per bucket (summed over ``fit`` and every ``partial_fit``).
    n_docs_ : int
    idf_ : ndarray of float32
        ``max(0, log((1 + n) / (1 + df)) - floor)``, 0 below ``min_df``.
    """

    def __init__(
        self,
        ngram_range=(1, 3),
        n_features: int = 1 << 20,
        min_df: int = 2,
        floor: float = 1.0,
        lexical_features: int = 1 << 18,
    ):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df
        self.floor = floor
        self.lexical_features = lexical_features

    # ------------------------------------------------------------------ learning
    def _binary(self, texts: list[str], space: np.ndarray | None = None) -> sp.csr_matrix:
        """Binary n-gram rows; with ``space`` (the sorted buckets in use, see :func:`compact_space`)
        column ``j`` is bucket ``space[j]``: the same values in the same order, but sparse
        products and sums no longer cost the width of the hash space."""
        width = self.n_features if space is None else len(space)
        if not texts:
            return sp.csr_matrix((0, width), dtype=np.float32)
        norm = [normalize_text(t) for t in texts]
        d, _s, _n, b = hashed_ngrams(norm, tuple(self.ngram_range), self.n_features)
        if space is not None:
            b = np.searchsorted(space, b)
        M = sp.csr_matrix((np.ones(len(d), dtype=np.float32), (d, b)), shape=(len(norm), width))
        M.data[:] = 1.0
        return M

    def _documents(self, X) -> list[str]:
        """Comments, and every line of every distinct context, as documents."""
        texts, contexts = columns(X) if not isinstance(X, (list, tuple)) else (texts_of(X), [])
        lines = {ln for c in set(contexts) for ln in c.split("\n") if ln.strip()}
        return [t for t in texts if t.strip()] + sorted(lines)

    def fit(self, X, y=None):
        """Document frequencies of the comments and context lines of ``X`` (a frame with
        ``text``/``context``, or a list of unlabeled texts)."""
        self.df_ = np.zeros(self.n_features, dtype=np.int64)
        self.n_docs_ = 0
        return self.partial_fit(X)

    def partial_fit(self, X, y=None):
        """Add the documents of ``X`` to the frequencies (streaming: one chunk at a time)."""
        if not hasattr(self, "df_"):
            self.df_ = np.zeros(self.n_features, dtype=np.int64)
            self.n_docs_ = 0
        docs = self._documents(X)
        for start in range(0, len(docs), 20000):
            M = self._binary(docs[start : start + 20000])
            self.df_ += np.bincount(M.indices, minlength=self.n_features)
            self.n_docs_ += M.shape[0]
        self._set_idf()
        return self

    def _set_idf(self):
        idf = np.log((1.0 + self.n_docs_) / (1.0 + self.df_)) - self.floor
        idf[self.df_ < max(1, self.min_df)] = 0.0
        self.idf_ = np.maximum(idf, 0.0).astype(np.float32)
        self.n_features_out_ = len(_NAMES) + 2 * self.lexical_features

    # ------------------------------------------------------------------ features
    def _weighted(self, texts: list[str], space: np.ndarray | None = None) -> tuple[sp.csr_matrix, np.ndarray]:
        """Rows of idf weights (binary tf), and each row's total weight (its content mass)."""
        M = self._binary(texts, space)
        M.data = (self.idf_ if space is None else self.idf_[space])[M.indices].astype(np.float32)
        M.eliminate_zeros()
        mass = np.asarray(M.sum(axis=1)).ravel()
        return M, mass

    @staticmethod
    def _rowdot(A: sp.csr_matrix, B: sp.csr_matrix) -> np.ndarray:
        return np.asarray(A.multiply(B).sum(axis=1)).ravel()

    def transform(self, X):
        check_is_fitted(self, "idf_")
        texts, contexts = columns(X)
        n = len(texts)
        if not n:
            return sp.csr_matrix((0, self.n_features_out_), dtype=np.float32)
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        lines_of = [[ln for ln in c.split("\n") if ln.strip()] for c in distinct]
        n_lines = np.array([len(ls) for ls in lines_of])
        bounds = np.concatenate(([0], np.cumsum(n_lines)))
        line_ctx = np.repeat(np.arange(len(distinct)), n_lines)

        lines = [ln for ls in lines_of for ln in ls]
        space = compact_space([*texts, *lines, *distinct], tuple(self.ngram_range), self.n_features)
        Tw, t_mass = self._weighted(texts, space)
        T = l2_rows(Tw.copy())
        Lw, _ = self._weighted(lines, space)
        L = l2_rows(Lw.copy())
        # The context as the sum of its unit line vectors: leave-one-out similarities are cheap.
        agg = sp.csr_matrix(
            (np.ones(len(line_ctx), dtype=np.float32), (line_ctx, np.arange(len(line_ctx)))),
            shape=(len(distinct), len(line_ctx)),
        )
        S = (agg @ L).tocsr()  # per context: sum of line vectors
        S_norm = np.sqrt(np.asarray(S.multiply(S).sum(axis=1)).ravel())
        Cb = (agg @ Lw).tocsr()  # context bag (for containment)
        Cb.data[:] = 1.0

        # Thread coherence: each line vs the rest of its context (leave-one-out), averaged.
        d_ls = self._rowdot(L, S[line_ctx])
        l_norm2 = self._rowdot(L, L)
        rest = np.sqrt(np.maximum(S_norm[line_ctx] ** 2 - 2 * d_ls + l_norm2, 0))
        loo = np.divide(d_ls - l_norm2, rest, out=np.zeros_like(d_ls), where=rest > 1e-6)
        has_lines = n_lines >= 2
        coherence_ctx = np.zeros(len(distinct))
        if len(loo):
            sums = np.bincount(line_ctx, weights=loo, minlength=len(distinct))
            coherence_ctx = np.divide(sums, n_lines, out=np.zeros(len(distinct)), where=has_lines)

        # Comment vs the whole context, the title (first line) and its lines.
        Sx = S[index]
        sim_whole = np.divide(self._rowdot(T, Sx), S_norm[index], out=np.zeros(n), where=S_norm[index] > 0)
        title_rows = bounds[:-1][index]
        has_title = n_lines[index] > 0
        sim_title = np.zeros(n)
        if has_title.any():
            sim_title[has_title] = self._rowdot(T[has_title], L[title_rows[has_title]])
        # Every (comment, line of its context) pair, for the best and the two best lines.
        counts = n_lines[index]
        pair_c = np.repeat(np.arange(n), counts)
        starts = bounds[:-1][index]
        pair_l = (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts, counts)
        ).astype(np.int64)
        best, top2 = np.zeros(n), np.zeros(n)
        if len(pair_c):
            sims = self._rowdot(T[pair_c], L[pair_l])
            order = np.lexsort((-sims, pair_c))
            sims_sorted, c_sorted = sims[order], pair_c[order]
            first = np.searchsorted(c_sorted, np.arange(n))
            ok = counts > 0
            best[ok] = sims_sorted[first[ok]]
            second = np.where(counts >= 2, first + 1, first)
            top2[ok] = 0.5 * (sims_sorted[first[ok]] + sims_sorted[np.minimum(second[ok], len(sims_sorted) - 1)])
        # Coherence of the best line: mean over the context's lines of their best other line is
        # costly; the leave-one-out mean is its stand-in.
        coherence = coherence_ctx[index]

        covered = np.asarray(Tw.multiply(Cb[index]).sum(axis=1)).ravel()
        containment = np.divide(covered, t_mass, out=np.zeros(n), where=t_mass > 0)
        containment_title = np.zeros(n)
        if has_title.any():
            Lt = Lw[title_rows[has_title]].copy()
            Lt.data[:] = 1.0
            containment_title[has_title] = np.divide(
                np.asarray(Tw[has_title].multiply(Lt).sum(axis=1)).ravel(),
                t_mass[has_title],
                out=np.zeros(int(has_title.sum())),
                where=t_mass[has_title] > 0,
            )

        content = np.array([len(_content(normalize_text(t))) for t in texts], dtype=np.float64)
        lengths = np.array([len(t.strip()) for t in texts], dtype=np.float64)
        # Content mass relative to a typical line of the context.
        line_mass = np.asarray(Lw.sum(axis=1)).ravel()
        mean_line_mass = np.divide(
            np.bincount(line_ctx, weights=line_mass, minlength=len(distinct)),
            n_lines,
            out=np.zeros(len(distinct)),
            where=n_lines > 0,
        )[index]
        mass_ratio = np.log1p(t_mass) - np.log1p(mean_line_mass)
        phatic = ((content <= 3) | (t_mass < 15.0)).astype(float)
        very_short = (content <= 6).astype(float)

        # Script mismatch only against the context's posts (lines after the title).
        p = script_shares(texts)
        post_text = ["\n".join(ls[1:]) for ls in lines_of]
        q = script_shares(post_text)[index]
        q_present = (q.sum(axis=1) > 0).astype(float)
        mismatch = 0.5 * np.abs(p - q).sum(axis=1) * q_present

        ctx_present = (counts > 0).astype(float)
        content_gate = 1.0 - phatic
        rel_whole = sim_whole - coherence
        F = np.column_stack(
            [
                sim_whole,
                sim_title,
                best,
                top2,
                containment,
                containment_title,
                coherence,
                rel_whole,
                best - coherence,
                np.log1p(t_mass) / 5.0,
                mass_ratio,
                phatic,
                very_short,
                np.log1p(lengths) / 5.0,
                mismatch,
                ctx_present,
                np.log1p(counts) / 3.0,
                sim_whole * content_gate,
                containment * content_gate,
                np.maximum(rel_whole, 0) * content_gate,
                np.minimum(rel_whole, 0) * content_gate,
            ]
        )
        dense = sp.csr_matrix(np.nan_to_num(F).astype(np.float32))
        if not self.lexical_features:
            return dense
        Cbin = self._binary(list(distinct), space)[index]
        shared = Tw.multiply(Cbin).tocsr()
        missing = (Tw - shared).tocsr()
        missing.eliminate_zeros()
        return sp.hstack([dense, self._fold(missing, space), self._fold(shared, space)]).tocsr()

    def _fold(self, M, space: np.ndarray | None = None) -> sp.csr_matrix:
        M = M.tocoo()
        buckets = M.col if space is None else space[M.col]
        out = sp.csr_matrix(
            (M.data, (M.row, buckets % self.lexical_features)),
            shape=(M.shape[0], self.lexical_features),
            dtype=np.float32,
        )
        return l2_rows(out)

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        names = ["relevance_" + name for name in _NAMES]
        names += [f"relevance_missing_{i}" for i in range(self.lexical_features)]
        names += [f"relevance_shared_{i}" for i in range(self.lexical_features)]
        return np.array(names, dtype=object)
