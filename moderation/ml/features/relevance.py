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
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import normalize_text
from .base import (
    add_up,
    binary_entries,
    cached,
    columns,
    group_pairs,
    in_keys,
    pair_sums,
    string_input_tags,
    texts_of,
    unique_keys,
    without_cache,
)
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


@dataclass(frozen=True)
class _Contexts:
    """Per distinct context: its lines' entries (document = line, sorted by line, then bucket),
    the sorted (context, bucket) keys of its lines and of its whole text, and its figures."""

    n_lines: np.ndarray
    bounds: np.ndarray
    line_ctx: np.ndarray
    l_doc: np.ndarray
    l_bucket: np.ndarray
    l_w: np.ndarray
    l_norm: np.ndarray
    s_keys: np.ndarray
    S_norm: np.ndarray
    coherence: np.ndarray
    title_keys: np.ndarray
    mean_line_mass: np.ndarray
    post_scripts: np.ndarray
    text_keys: np.ndarray


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

    def __getstate__(self):
        return without_cache(super().__getstate__())

    # ------------------------------------------------------------------ learning
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
            chunk = docs[start : start + 20000]
            _doc, bucket = binary_entries(chunk, tuple(self.ngram_range), self.n_features)
            self.df_ += np.bincount(bucket, minlength=self.n_features)
            self.n_docs_ += len(chunk)
        self._set_idf()
        return self

    def _set_idf(self):
        idf = np.log((1.0 + self.n_docs_) / (1.0 + self.df_)) - self.floor
        idf[self.df_ < max(1, self.min_df)] = 0.0
        self.idf_ = np.maximum(idf, 0.0).astype(np.float32)
        self.n_features_out_ = len(_NAMES) + 2 * self.lexical_features

    # ------------------------------------------------------------------ features
    def _entries(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(document, bucket, idf weight) of the n-grams of ``texts`` that weigh anything."""
        doc, bucket = binary_entries(texts, tuple(self.ngram_range), self.n_features)
        weight = self.idf_[bucket].astype(np.float64)
        keep = weight > 0
        return doc[keep], bucket[keep], weight[keep]

    def _contexts(self, distinct: list[str]) -> _Contexts:
        """What the features need of each of the ``distinct`` contexts, computed for each from
        its own entries alone (so one context alone gets exactly its values in a batch)."""
        nf = self.n_features
        n_ctx = len(distinct)
        lines_of = [[ln for ln in c.split("\n") if ln.strip()] for c in distinct]
        n_lines = np.array([len(ls) for ls in lines_of], dtype=np.int64)
        bounds = np.concatenate(([0], np.cumsum(n_lines))).astype(np.int64)
        line_ctx = np.repeat(np.arange(n_ctx, dtype=np.int64), n_lines)
        lines = [ln for ls in lines_of for ln in ls]
        n_ln = len(lines)
        l_doc, l_bucket, l_w = self._entries(lines)
        l_mass = add_up(l_doc, l_w, n_ln)
        l_norm = np.sqrt(add_up(l_doc, l_w**2, n_ln))

        # The context as the sum S of its unit line vectors, per (context, bucket): the
        # leave-one-out similarities of its lines (its coherence) are then cheap.
        l_unit = l_w / l_norm[l_doc]
        s_keys, s_of = unique_keys(line_ctx[l_doc] * nf + l_bucket, return_inverse=True)
        S = add_up(s_of, l_unit, len(s_keys))
        S_norm2 = add_up(s_keys // nf, S**2, n_ctx)
        d_ls = add_up(l_doc, l_unit * S[s_of], n_ln)
        l_norm2 = add_up(l_doc, l_unit**2, n_ln)
        rest = np.sqrt(np.maximum(S_norm2[line_ctx] - 2 * d_ls + l_norm2, 0))
        loo = np.divide(d_ls - l_norm2, rest, out=np.zeros_like(d_ls), where=rest > 1e-6)
        coherence = np.divide(add_up(line_ctx, loo, n_ctx), n_lines, out=np.zeros(n_ctx), where=n_lines >= 2)
        is_title = l_doc == bounds[:-1][line_ctx[l_doc]]
        c_doc, c_bucket = (
            binary_entries(distinct, tuple(self.ngram_range), nf)
            if self.lexical_features
            else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        )
        return _Contexts(
            n_lines=n_lines,
            bounds=bounds,
            line_ctx=line_ctx,
            l_doc=l_doc,
            l_bucket=l_bucket,
            l_w=l_w,
            l_norm=l_norm,
            s_keys=s_keys,
            S_norm=np.sqrt(S_norm2),
            coherence=coherence,
            title_keys=line_ctx[l_doc[is_title]] * nf + l_bucket[is_title],  # sorted: one line per context
            mean_line_mass=np.divide(add_up(line_ctx, l_mass, n_ctx), n_lines, out=np.zeros(n_ctx), where=n_lines > 0),
            post_scripts=script_shares(["\n".join(ls[1:]) for ls in lines_of]),
            text_keys=c_doc * nf + c_bucket,
        )

    def _parts(self, texts: list[str], contexts: list[str]):
        """The dense features (float32, one row per comment) and the folded lexical entries
        (row, column, float32 value; sorted by row, then column) of ``texts`` in ``contexts``.

        Every sum is an ``np.bincount`` over entries in (document, bucket) order, so one
        comment gets bit for bit the values it gets in any batch (see ``base.pair_sums``)."""
        n = len(texts)
        nf = self.n_features
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        index = index.astype(np.int64)
        if len(distinct) == 1:  # the hook's case: a thread's context comes back with every post
            ctx = cached(self, ("context", distinct[0]), lambda key: self._contexts([key[1]]))
        else:
            ctx = self._contexts(list(distinct))
        n_lines, bounds, line_ctx = ctx.n_lines, ctx.bounds, ctx.line_ctx
        l_doc, l_bucket, l_w, l_norm, s_keys = ctx.l_doc, ctx.l_bucket, ctx.l_w, ctx.l_norm, ctx.s_keys
        S_norm = ctx.S_norm

        t_doc, t_bucket, t_w = self._entries(texts)
        t_mass = add_up(t_doc, t_w, n)
        t_norm = np.sqrt(add_up(t_doc, t_w**2, n))

        # Every (comment, line of its context) pair: cosine similarities.
        pair_c, pair_l, first = group_pairs(index, bounds)
        dots = pair_sums(
            (t_doc, t_bucket, t_w), (l_doc, l_bucket, l_w), index, line_ctx, bounds, first, len(pair_c), nf
        )
        denom = t_norm[pair_c] * l_norm[pair_l]
        sims = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
        # Comment vs the whole context (the unit comment . S / |S|), the title, the best lines.
        sim_whole = np.divide(add_up(pair_c, sims, n), S_norm[index], out=np.zeros(n), where=S_norm[index] > 0)
        counts = n_lines[index]
        has_title = counts > 0
        sim_title = np.zeros(n)
        sim_title[has_title] = sims[first[has_title]]
        best, top2 = np.zeros(n), np.zeros(n)
        if len(pair_c):
            order = np.lexsort((-sims, pair_c))
            ranked = sims[order]
            best[has_title] = ranked[first[has_title]]
            second = np.where(counts >= 2, first + 1, first)
            top2[has_title] = 0.5 * (ranked[first[has_title]] + ranked[second[has_title]])
        coherence = ctx.coherence[index]

        t_key = index[t_doc] * nf + t_bucket
        covered = add_up(t_doc, t_w * in_keys(t_key, s_keys), n)
        containment = np.divide(covered, t_mass, out=np.zeros(n), where=t_mass > 0)
        in_title = add_up(t_doc, t_w * in_keys(t_key, ctx.title_keys), n)
        containment_title = np.divide(in_title, t_mass, out=np.zeros(n), where=(t_mass > 0) & has_title)

        content = np.array([len(_content(normalize_text(t))) for t in texts], dtype=np.float64)
        lengths = np.array([len(t.strip()) for t in texts], dtype=np.float64)
        # Content mass relative to a typical line of the context.
        mean_line_mass = ctx.mean_line_mass[index]
        mass_ratio = np.log1p(t_mass) - np.log1p(mean_line_mass)
        phatic = ((content <= 3) | (t_mass < 15.0)).astype(float)
        very_short = (content <= 6).astype(float)

        # Script mismatch only against the context's posts (lines after the title).
        p = script_shares(texts)
        q = ctx.post_scripts[index]
        q_present = (q.sum(axis=1) > 0).astype(float)
        mismatch = 0.5 * np.abs(p - q).sum(axis=1) * q_present

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
                has_title.astype(float),
                np.log1p(counts) / 3.0,
                sim_whole * content_gate,
                containment * content_gate,
                np.maximum(rel_whole, 0) * content_gate,
                np.minimum(rel_whole, 0) * content_gate,
            ]
        )
        F = np.nan_to_num(F).astype(np.float32)
        if not self.lexical_features:
            return F, (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        # The comment's n-grams absent from / present in the context text, folded and l2-normalised.
        shared = in_keys(t_key, ctx.text_keys)
        lex = self.lexical_features
        block = np.where(shared, lex, 0)
        f_keys, f_of = unique_keys(t_doc * (2 * lex) + block + t_bucket % lex, return_inverse=True)
        folded = add_up(f_of, t_w, len(f_keys))
        f_row, f_col = f_keys // (2 * lex), f_keys % (2 * lex)
        part = f_row * 2 + (f_col >= lex)  # (comment, block): each block is normalised alone
        norm = np.sqrt(add_up(part, folded**2, 2 * n))
        scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
        values = (folded * scale[part]).astype(np.float32)
        return F, (f_row, f_col + len(_NAMES), values)

    def transform(self, X):
        check_is_fitted(self, "idf_")
        texts, contexts = columns(X)
        n = len(texts)
        if not n:
            return sp.csr_matrix((0, self.n_features_out_), dtype=np.float32)
        F, (rows, cols, values) = self._parts(texts, contexts)
        d_row, d_col = np.nonzero(F)
        return sp.csr_matrix(
            (np.concatenate([F[d_row, d_col], values]), (np.concatenate([d_row, rows]), np.concatenate([d_col, cols]))),
            shape=(n, self.n_features_out_),
            dtype=np.float32,
        )

    def context_row(self, text: str, context: str) -> tuple[np.ndarray, np.ndarray]:
        """One comment's row of :meth:`transform` as (sorted column indices, float32 values),
        without a sparse matrix: the hook's path, bit for bit the batch's row."""
        check_is_fitted(self, "idf_")
        F, (_rows, cols, values) = self._parts([text], [context])
        dense = np.flatnonzero(F[0])
        return np.concatenate([dense, cols]), np.concatenate([F[0, dense], values])

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        names = ["relevance_" + name for name in _NAMES]
        names += [f"relevance_missing_{i}" for i in range(self.lexical_features)]
        names += [f"relevance_shared_{i}" for i in range(self.lexical_features)]
        return np.array(names, dtype=object)
