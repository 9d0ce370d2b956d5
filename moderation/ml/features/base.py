"""What every feature view shares: comments as columns, hashed n-grams, TF-IDF weighting,
and the per-character contributions that explanations are made of."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..text import normalize_text

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def strings(values) -> list[str]:
    return [v if isinstance(v, str) else ("" if v is None or v != v else str(v)) for v in values]


@dataclass(frozen=True)
class Comments:
    """Comments as two lists of strings: what every feature view reads, without a DataFrame.

    The scoring path hands this to each view: taking columns out of a DataFrame costs more
    than the features of one short comment.

    Examples
    --------
    >>> columns(Comments(["a"], ["title"]))
    (['a'], ['title'])
    """

    texts: list[str]
    contexts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def columns(X) -> tuple[list[str], list[str]]:
    """Texts and contexts of comments given as :class:`Comments`, a DataFrame (``text``,
    optional ``context``), a list of strings or one string; missing values become empty strings."""
    if isinstance(X, Comments):
        return X.texts, X.contexts
    if isinstance(X, pd.DataFrame):
        if "text" not in X.columns:
            raise ValueError("comments need a 'text' column")
        texts = strings(X["text"].tolist())
        contexts = strings(X["context"].tolist()) if "context" in X.columns else [""] * len(texts)
        return texts, contexts
    if X is None or not hasattr(X, "__iter__"):
        raise TypeError(
            f"comments must be a DataFrame with a 'text' column or a list of strings, not {type(X).__name__}"
        )
    texts = strings([X] if isinstance(X, str) else list(X))
    return texts, [""] * len(texts)


def string_input_tags(tags):
    """scikit-learn tags of a transformer of comments: strings in, not a 2-d numeric array."""
    tags.input_tags.string = True
    tags.input_tags.two_d_array = False
    return tags


def effective_min_df(min_df: int, n_documents: int) -> int:
    """``min_df`` as applied: 1 on fewer than 20 documents (a tiny corpus keeps every unit).

    Examples
    --------
    >>> effective_min_df(2, 5), effective_min_df(2, 500)
    (1, 2)
    """
    return min_df if n_documents >= 20 else 1


def as_frame(X) -> pd.DataFrame:
    """Comments as a DataFrame with ``text`` and ``context`` columns (strings, never NaN)."""
    texts, contexts = columns(X)
    return pd.DataFrame({"text": texts, "context": contexts})


def texts_of(X) -> list[str]:
    return columns(X)[0]


# --------------------------------------------------------------------------- hashed character n-grams


def hashed_ngrams(texts: list[str], ngram_range: tuple[int, int], n_features: int):
    """Every character n-gram of every text as (doc index, start, n, bucket) arrays.

    The whole batch is hashed with numpy in one pass (no Python loop over characters),
    which is what makes feature extraction fast enough for a pre-moderation hook.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(codes)]
    offsets = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(texts) else np.zeros(0, np.int64)
    if len(codes):
        doc[codes == 0] = -1  # separators belong to no document
    docs, starts, ns, buckets = [], [], [], []
    lo, hi = ngram_range
    with np.errstate(over="ignore"):
        for n in range(lo, hi + 1):
            m = len(codes) - n + 1
            if m <= 0:
                continue
            h = np.full(m, np.uint64(n) * _MIX, dtype=np.uint64)
            for k in range(n):
                h = (h ^ codes[k : k + m]) * _PRIME
            valid = (doc[:m] == doc[n - 1 : n - 1 + m]) & (doc[:m] >= 0)
            idx = np.nonzero(valid)[0]
            hv = h[idx]
            hv ^= hv >> np.uint64(29)
            hv *= _MIX
            hv ^= hv >> np.uint64(32)
            d = doc[idx]
            docs.append(d)
            starts.append(idx - offsets[d])
            ns.append(np.full(len(idx), n, dtype=np.int64))
            buckets.append((hv % np.uint64(n_features)).astype(np.int64))
    if not docs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    return np.concatenate(docs), np.concatenate(starts), np.concatenate(ns), np.concatenate(buckets)


def compact_space(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> np.ndarray:
    """The sorted distinct buckets of the n-grams of the normalised ``texts``.

    Matrices whose column ``j`` stands for bucket ``space[j]`` hold the same values in the same
    order as in the full hash space (the map is increasing), but scipy's sparse products, sums
    and element-wise operations allocate per column: on a 2**20-wide space that is about a
    millisecond per operation, whatever the number of comments.

    Examples
    --------
    >>> space = compact_space(["abc", "abd"], (1, 1), 1 << 20)
    >>> len(space), bool((space[:-1] < space[1:]).all())
    (4, True)
    """
    return unique_keys(hashed_ngrams([normalize_text(t) for t in texts], ngram_range, n_features)[3])


def hashed_ngrams_one(text: str, ngram_range: tuple[int, int], n_features: int):
    """:func:`hashed_ngrams` of one text, as (start, n, bucket) arrays: the same buckets in the
    same order, without the batch's document bookkeeping.

    The n-grams of a text are hashed once, for n = 1 to 4 (:func:`ngram_hashes`, remembered for a
    few dozen texts): the n-gram, relevance and thread views of one comment, which all read its
    normalised text, and a thread's context, which comes back with every post, share them; each
    view takes its range of n and its modulo. The arrays are read-only.

    Examples
    --------
    >>> _d, s, n, b = hashed_ngrams(["abc"], (1, 2), 1 << 10)
    >>> s1, n1, b1 = hashed_ngrams_one("abc", (1, 2), 1 << 10)
    >>> bool((s == s1).all() and (n == n1).all() and (b == b1).all())
    True
    """
    lo, hi = ngram_range
    starts, ns, hashes = ngram_hashes(text, max(hi, 4))
    length = len(text)
    cut = sum(max(0, length - n + 1) for n in range(1, lo))
    end = cut + sum(max(0, length - n + 1) for n in range(lo, hi + 1))
    buckets = (hashes[cut:end] % np.uint64(n_features)).astype(np.int64)
    buckets.flags.writeable = False
    return starts[cut:end], ns[cut:end], buckets


@lru_cache(maxsize=32)
def ngram_hashes(text: str, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, n, 64-bit hash) of every character n-gram of ``text`` for n = 1 to ``hi``, in
    :func:`hashed_ngrams`' order (by n, then by start); a bucket is the hash modulo the space."""
    codes = np.frombuffer(text.replace("\x00", " ").encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts, ns, hashes = [], [], []
    with np.errstate(over="ignore"):
        for n in range(1, hi + 1):
            m = len(codes) - n + 1
            if m <= 0:
                continue
            h = np.full(m, np.uint64(n) * _MIX, dtype=np.uint64)
            for k in range(n):
                h = (h ^ codes[k : k + m]) * _PRIME
            h ^= h >> np.uint64(29)
            h *= _MIX
            h ^= h >> np.uint64(32)
            starts.append(np.arange(m, dtype=np.int64))
            ns.append(np.full(m, n, dtype=np.int64))
            hashes.append(h)
    out = tuple(
        np.concatenate(a) if a else np.zeros(0, dtype=dt)
        for a, dt in ((starts, np.int64), (ns, np.int64), (hashes, np.uint64))
    )
    for a in out:
        a.flags.writeable = False
    return out  # type: ignore[return-value]


def tfidf_row(keys: np.ndarray, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One comment's row of ``TfidfCounts.weight(TfidfCounts.counts(...))`` without scipy:
    the sorted distinct ``keys`` (buckets, piece ids) of non-zero weight and their float32
    values, bit for bit what the batch path stores (the same operations in the same order).

    Examples
    --------
    >>> keys = np.array([3, 1, 3])
    >>> idf = np.ones(4, dtype=np.float32)
    >>> X = TfidfCounts.weight(TfidfCounts.counts(np.zeros(3, int), keys, 1, 4), idf)
    >>> idx, val = tfidf_row(keys, idf)
    >>> bool((X.indices == idx).all() and (X.data == val).all())
    True
    """
    uniq, counts = np.unique(keys, return_counts=True)
    data = ((1.0 + np.log(counts.astype(np.float32))) * idf[uniq]).astype(np.float32)
    keep = data != 0
    if not keep.all():
        uniq, data = uniq[keep], data[keep]
    norm = np.sqrt(np.bincount(np.zeros(len(data), dtype=np.intp), weights=data.astype(np.float64) ** 2, minlength=1))
    scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    return uniq, (data * scale).astype(np.float32)


def csr_row(indices: np.ndarray, values: np.ndarray, width: int) -> sp.csr_matrix:
    """A 1-row CSR matrix from its sorted column indices and values (no format checks)."""
    return sp.csr_matrix((values, indices, np.array([0, len(indices)])), shape=(1, width))


def l2_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty), in place."""
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), counts)
    norms = np.sqrt(np.bincount(rows, weights=X.data.astype(np.float64) ** 2, minlength=X.shape[0]))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    X.data = (X.data * scale[rows]).astype(np.float32)
    return X


class TfidfCounts:
    """Sublinear TF, IDF learned in fit, rows L2-normalised: shared by the n-gram blocks."""

    @staticmethod
    def counts(rows, cols, n_rows, n_cols) -> sp.csr_matrix:
        # COO → CSR sums duplicate (row, bucket) pairs; the column order within a row does not
        # matter to anything downstream, so the costly sort is skipped.
        return sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols)).tocsr()

    @staticmethod
    def idf(X: sp.csr_matrix, min_df: int) -> np.ndarray:
        n = X.shape[0]
        df = np.bincount(X.indices, minlength=X.shape[1])
        idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        idf[df < max(1, min_df)] = 0.0
        return idf

    @staticmethod
    def weight(X: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        # Scaled in place on the stored values: a diagonal matrix product (and scikit-learn's
        # parameter checks in normalize) cost more than the rest of a one-comment request.
        X = X.copy()
        X.data = ((1.0 + np.log(X.data)) * idf[X.indices]).astype(np.float32)
        X.eliminate_zeros()
        return l2_rows(X)


def cached(owner, text, compute):
    """A small per-transformer memo: explaining several labels of one comment reuses it."""
    cache = owner.__dict__.setdefault("_explain_cache", {})
    value = cache.get(text)
    if value is None:
        value = compute(text)
        if len(cache) >= 64:
            cache.clear()  # cheap, and safe while other server threads read it
        cache[text] = value
    return value


def spread(length: int, values: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Add each value evenly over its ``[a, b)`` span of a zero array of ``length``."""
    if not len(values):
        return np.zeros(length, dtype=np.float64)
    # Differences at each span's ends, summed up: one pass however many spans.
    per_char = values / np.maximum(1, spans[:, 1] - spans[:, 0])
    # One bincount adds in input order, starts then ends, as two np.add.at calls did (the same
    # sums, bit for bit), many times faster.
    ends = np.concatenate([spans[:, 0], spans[:, 1]])
    steps = np.bincount(ends, weights=np.concatenate([per_char, -per_char]), minlength=length + 1)
    return np.cumsum(steps)[:length]


def without_cache(state: dict) -> dict:
    state = dict(state)
    state.pop("_explain_cache", None)
    return state


# --------------------------------------------------------------------------- comment-to-context sums
#
# The thread views compare each comment with the lines of its context. They are written over
# flat (document, bucket, weight) entries and reduce with ``np.bincount``, which adds its
# weights one by one in the order given: one comment alone and the same comment in a batch of
# thousands go through the same additions in the same order, so a comment scores bit for bit
# the same through every entry point, without sparse matrices (whose fixed cost per operation
# is more than one comment's features).


def add_up(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(index, weights, minlength=n)`` as float64 even when empty: the weights
    added one by one in the order given.

    Examples
    --------
    >>> add_up(np.array([1, 1]), np.array([0.5, 0.25]), 3).tolist(), add_up(np.array([], int), np.array([]), 2).dtype
    ([0.0, 0.75, 0.0], dtype('float64'))
    """
    return np.bincount(index, weights=weights, minlength=n).astype(np.float64, copy=False)


def unique_keys(keys: np.ndarray, return_inverse: bool = False):
    """``np.unique`` of an int64 array by sorting: numpy 2's hash-based ``unique`` is tens
    of times slower on millions of distinct n-gram keys.

    Examples
    --------
    >>> u, inv = unique_keys(np.array([5, 3, 5]), return_inverse=True)
    >>> u.tolist(), inv.tolist()
    ([3, 5], [1, 0, 1])
    """
    if not return_inverse:
        s = np.sort(keys)
        return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    new = np.concatenate(([True], s[1:] != s[:-1])) if len(s) else np.zeros(0, dtype=bool)
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


def binary_entries(texts: list[str], ngram_range: tuple[int, int], n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(document, bucket) of every distinct n-gram of each normalised text, sorted by
    document, then bucket.

    Examples
    --------
    >>> doc, bucket = binary_entries(["aa", "ab"], (1, 1), 1 << 10)
    >>> doc.tolist(), bool(bucket[0] in bucket[1:])   # "a" in both texts
    ([0, 1, 1], True)
    """
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if len(texts) == 1:  # the hook's case: the text's hashes are shared with the other views
        bucket = unique_keys(hashed_ngrams_one(normalize_text(texts[0]), ngram_range, n_features)[2])
        return np.zeros(len(bucket), dtype=np.int64), bucket
    d, _s, _n, b = hashed_ngrams([normalize_text(t) for t in texts], ngram_range, n_features)
    key = unique_keys(d * n_features + b)
    return key // n_features, key % n_features


def group_pairs(a_group: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (a, b) pair of an ``a`` document and a ``b`` document of its group, ordered by
    ``a``, then ``b``: the documents of group ``g`` are ``bounds[g]`` to ``bounds[g + 1] - 1``.

    Returns ``(pair_a, pair_b, first)``, ``first[a]`` being the index of ``a``'s first pair.

    Examples
    --------
    >>> pa, pb, first = group_pairs(np.array([1, 0]), np.array([0, 1, 3]))
    >>> pa.tolist(), pb.tolist(), first.tolist()
    ([0, 0, 1], [1, 2, 0], [0, 2])
    """
    counts = np.diff(bounds)[a_group]
    first = np.cumsum(counts) - counts
    pair_a = np.repeat(np.arange(len(a_group), dtype=np.int64), counts)
    pair_b = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first - bounds[:-1][a_group], counts)
    return pair_a, pair_b, first


def pair_sums(
    a: tuple[np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray],
    a_group: np.ndarray,
    b_group: np.ndarray,
    bounds: np.ndarray,
    first: np.ndarray,
    n_pairs: int,
    n_features: int,
) -> np.ndarray:
    """Per pair of :func:`group_pairs`, the sum over shared buckets of ``a``'s weight times
    ``b``'s (a sparse dot product), added in bucket order.

    ``a`` and ``b`` are (document, bucket, weight) entries sorted by document, then bucket;
    ``a_group[d]`` / ``b_group[d]`` is the group of document ``d``.

    Examples
    --------
    >>> a = (np.array([0, 0]), np.array([1, 2]), np.array([1.0, 2.0]))
    >>> b = (np.array([0, 1]), np.array([2, 1]), np.array([3.0, 5.0]))
    >>> pa, pb, first = group_pairs(np.array([0]), np.array([0, 2]))
    >>> pair_sums(a, b, np.array([0]), np.array([0, 0]), np.array([0, 2]), first, len(pa), 4).tolist()
    [6.0, 5.0]
    """
    a_doc, a_bucket, a_weight = a
    b_doc, b_bucket, b_weight = b
    b_key = b_group[b_doc] * n_features + b_bucket
    order = np.argsort(b_key, kind="stable")  # a bucket's b documents stay in document order
    sorted_keys = b_key[order]
    a_key = a_group[a_doc] * n_features + a_bucket
    lo = np.searchsorted(sorted_keys, a_key, "left")
    hits = np.searchsorted(sorted_keys, a_key, "right") - lo
    ai = np.repeat(np.arange(len(a_key), dtype=np.int64), hits)
    bi = order[np.arange(int(hits.sum()), dtype=np.int64) - np.repeat(np.cumsum(hits) - hits - lo, hits)]
    ad = a_doc[ai]
    pair = first[ad] + b_doc[bi] - bounds[:-1][a_group[ad]]
    return add_up(pair, a_weight[ai] * b_weight[bi], n_pairs)


def in_keys(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in ``sorted_keys`` (sorted, distinct): ``np.isin`` by binary search."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys
