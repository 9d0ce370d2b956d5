"""Feature transformers: scikit-learn estimators that plug into a Pipeline or FeatureUnion.

Every transformer takes comments as a pandas DataFrame with a ``text`` column and an
optional ``context`` column (the thread's title, article and earlier posts), or simply as a
list of strings. Each can also say, for one comment, how much every character of the original
text contributed to a linear model's score (:meth:`char_contributions`): that is how a flag is
explained with spans.

- :class:`CharNgrams`: hashed character n-grams of the normalised or the obfuscation-folded
  view, TF-IDF weighted, computed with numpy over a whole batch at once.
- :class:`SubwordUnits`: a unigram sentencepiece model trained on the training texts,
  TF-IDF over its pieces.
- :class:`LexiconFeatures`: hits of the shipped slur lexicon by kind and category.
- :class:`ThreadContext`: similarity to the thread, script/language mismatch, link and
  advertising patterns (for ``off_topic``).

Examples
--------
>>> from moderation.features import build_featurizer
>>> feats = build_featurizer()
>>> X = feats.fit_transform(["チョンは帰れ", "いい天気ですね", "韓国の経済政策について"])
>>> X.shape[0]
3
"""
from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion

from .lexicon import CATEGORIES, KINDS, Lexicon
from .text import fold, fold_text, normalize, normalize_text

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _strings(values) -> list[str]:
    return [v if isinstance(v, str) else ("" if v is None or v != v else str(v)) for v in values]


def _columns(X) -> tuple[list[str], list[str]]:
    """Texts and contexts of comments given as a DataFrame (``text``, optional ``context``),
    a list of strings or one string; missing values become empty strings."""
    if isinstance(X, pd.DataFrame):
        if "text" not in X.columns:
            raise ValueError("comments need a 'text' column")
        texts = _strings(X["text"].tolist())
        contexts = _strings(X["context"].tolist()) if "context" in X.columns else [""] * len(texts)
        return texts, contexts
    texts = _strings([X] if isinstance(X, str) else list(X))
    return texts, [""] * len(texts)


def as_frame(X) -> pd.DataFrame:
    """Comments as a DataFrame with ``text`` and ``context`` columns (strings, never NaN)."""
    texts, contexts = _columns(X)
    return pd.DataFrame({"text": texts, "context": contexts})


def _texts(X) -> list[str]:
    return _columns(X)[0]


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
                h = (h ^ codes[k:k + m]) * _PRIME
            valid = (doc[:m] == doc[n - 1:n - 1 + m]) & (doc[:m] >= 0)
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


def _l2_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty), in place."""
    counts = np.diff(X.indptr)
    rows = np.repeat(np.arange(X.shape[0]), counts)
    norms = np.sqrt(np.bincount(rows, weights=X.data.astype(np.float64) ** 2, minlength=X.shape[0]))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    X.data = (X.data * scale[rows]).astype(np.float32)
    return X


class _TfidfCounts:
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
        return _l2_rows(X)


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

    Examples
    --------
    >>> ng = CharNgrams(view="folded", min_df=1).fit(["チ ョ ン", "ちょん"])
    >>> X = ng.transform(["チ ョ ン", "ちょん"])
    >>> float(abs(X[0] - X[1]).sum())
    0.0
    """

    def __init__(self, view: str = "normalized", ngram_range: tuple[int, int] = (1, 4),
                 n_features: int = 1 << 19, min_df: int = 2):
        self.view = view
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def __getstate__(self):
        return _without_cache(self.__dict__)

    def _view_texts(self, texts: list[str]) -> list[str]:
        if self.view == "folded":
            return [fold_text(t) for t in texts]
        if self.view == "normalized":
            return [normalize_text(t) for t in texts]
        raise ValueError(f"unknown view {self.view!r}")

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        views = self._view_texts(texts)
        d, _s, _n, b = hashed_ngrams(views, tuple(self.ngram_range), self.n_features)
        return _TfidfCounts.counts(d, b, len(texts), self.n_features)

    def fit(self, X, y=None):
        texts = _texts(X)
        counts = self._counts(texts)
        min_df = self.min_df if len(texts) >= 20 else 1
        self.idf_ = _TfidfCounts.idf(counts, min_df)
        return self

    def transform(self, X):
        return _TfidfCounts.weight(self._counts(_texts(X)), self.idf_)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"{self.view}_ngram_{i}" for i in range(self.n_features)], dtype=object)

    def _occurrences(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every weighted n-gram occurrence of ``text``: (bucket, weight share, original span)."""
        view = fold(text) if self.view == "folded" else normalize(text)
        empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 2), np.int64))
        if not view.text:
            return empty
        _d, starts, ns, buckets = hashed_ngrams([view.text], tuple(self.ngram_range), self.n_features)
        x = self.transform([text])
        if x.nnz == 0:
            return empty
        # The feature value of each occurrence's bucket (0 for buckets pruned in fit), without
        # allocating arrays the size of the hash space.
        order = np.argsort(x.indices)
        indices, values = x.indices[order], x.data[order]
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
        buckets, shares, spans = _cached(self, text, self._occurrences)
        return _spread(len(text), coef[buckets] * shares, spans)


def _cached(owner, text, compute):
    """A small per-transformer memo: explaining several labels of one comment reuses it."""
    cache = owner.__dict__.setdefault("_explain_cache", {})
    value = cache.get(text)
    if value is None:
        value = compute(text)
        if len(cache) >= 64:
            cache.clear()  # cheap, and safe while other server threads read it
        cache[text] = value
    return value


def _spread(length: int, values: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Add each value evenly over its ``[a, b)`` span of a zero array of ``length``."""
    if not len(values):
        return np.zeros(length, dtype=np.float64)
    # Differences at each span's ends, summed up: one pass however many spans.
    per_char = values / np.maximum(1, spans[:, 1] - spans[:, 0])
    steps = np.zeros(length + 1, dtype=np.float64)
    np.add.at(steps, spans[:, 0], per_char)
    np.add.at(steps, spans[:, 1], -per_char)
    return np.cumsum(steps)[:length]


def _without_cache(state: dict) -> dict:
    state = dict(state)
    state.pop("_explain_cache", None)
    return state


# --------------------------------------------------------------------------- sentencepiece subwords

def _train_sentencepiece(texts: list[str], vocab_size: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    sentences = [t for t in texts if t.strip()] or ["_"]
    # Every character the corpus needs must fit in the vocabulary (CJK corpora have thousands).
    distinct = len(set("".join(sentences)))
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=max(vocab_size, distinct + 16),
        model_type="unigram", character_coverage=0.9995, hard_vocab_limit=False,
        normalization_rule_name="identity", split_by_whitespace=True, max_sentencepiece_length=8,
        input_sentence_size=200000, shuffle_input_sentence=True, byte_fallback=False,
        num_threads=1, minloglevel=2)
    return model.getvalue()


class SubwordUnits(TransformerMixin, BaseEstimator):
    """TF-IDF over the pieces of a unigram sentencepiece model trained in ``fit``.

    The model is trained on the normalised training texts with the ``sentencepiece``
    package and kept as bytes in ``sp_model_`` (saved beside the classifier as
    ``spm.model``), so a fitted transformer pickles and clones like any other.

    Parameters
    ----------
    vocab_size : int
        Target vocabulary; a small corpus gets fewer pieces (the limit is soft).
    min_df : int

    Attributes
    ----------
    sp_model_ : bytes
        The serialized sentencepiece model.
    idf_ : ndarray

    Examples
    --------
    >>> su = SubwordUnits(vocab_size=50).fit(["在韓米軍の役割", "米軍の撤退", "韓国軍の役割"] * 5)
    >>> su.transform(["米軍の役割"]).shape[1] == len(su.idf_)
    True
    """

    def __init__(self, vocab_size: int = 8000, min_df: int = 2):
        self.vocab_size = vocab_size
        self.min_df = min_df

    def __getstate__(self):
        state = _without_cache(self.__dict__)
        state.pop("_processor", None)  # rebuilt from sp_model_ on first use
        return state

    @property
    def processor(self):
        proc = self.__dict__.get("_processor")
        if proc is None:
            import sentencepiece as spm

            proc = spm.SentencePieceProcessor(model_proto=self.sp_model_)
            self.__dict__["_processor"] = proc
        return proc

    def _counts(self, texts: list[str]) -> sp.csr_matrix:
        ids = self.processor.encode([normalize_text(t) for t in texts], out_type=int)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        cols = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(ids)), lengths)
        return _TfidfCounts.counts(rows, cols, len(texts), self.processor.get_piece_size())

    def fit(self, X, y=None):
        texts = _texts(X)
        self.sp_model_ = _train_sentencepiece([normalize_text(t) for t in texts], self.vocab_size)
        self.__dict__.pop("_processor", None)
        counts = self._counts(texts)
        self.idf_ = _TfidfCounts.idf(counts, self.min_df if len(texts) >= 20 else 1)
        return self

    def transform(self, X):
        return _TfidfCounts.weight(self._counts(_texts(X)), self.idf_)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"piece_{self.processor.id_to_piece(i)}" for i in range(len(self.idf_))], dtype=object)

    def _occurrences(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every weighted piece of ``text``: (piece id, weight share, original span)."""
        view = normalize(text)
        x = self.transform([text])
        ids_out, shares, spans = [], [], []
        if x.nnz:
            weights = dict(zip(x.indices, x.data))
            pieces = self.processor.encode(view.text, out_type=str)
            ids = self.processor.encode(view.text, out_type=int)
            counts = {i: ids.count(i) for i in set(ids)}
            pos = 0
            for piece, pid in zip(pieces, ids):
                # Trained with identity normalisation: each piece (▁ = space) is found in the
                # normalised text in order.
                surface = piece.replace("\u2581", " ").strip()
                if not surface:
                    continue
                found = view.text.find(surface, pos)
                if found < 0:
                    continue
                pos = found + len(surface)
                if pid in weights:
                    ids_out.append(pid)
                    shares.append(weights[pid] / counts[pid])
                    spans.append(view.span(found, pos))
        return (np.asarray(ids_out, dtype=np.int64), np.asarray(shares, dtype=np.float64),
                np.asarray(spans, dtype=np.int64).reshape(-1, 2))

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        ids, shares, spans = _cached(self, text, self._occurrences)
        return _spread(len(text), coef[ids] * shares, spans)


# --------------------------------------------------------------------------- slur lexicon

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

    @staticmethod
    def feature_names() -> list[str]:
        return (["lex_max"] + [f"lex_{k}" for k in KINDS] + [f"lex_cat_{c}" for c in CATEGORIES]
                + ["lex_count"])

    def _row(self, hits) -> list[float]:
        row = [0.0] * (2 + len(KINDS) + len(CATEGORIES))
        for h in hits:
            row[0] = max(row[0], h.weight)
            k = 1 + KINDS.index(h.kind)
            row[k] = max(row[k], h.weight)
            c = 1 + len(KINDS) + CATEGORIES.index(h.category)
            row[c] = max(row[c], h.weight)
        row[-1] = math.log1p(len(hits))
        return row

    def transform(self, X):
        rows = [self._row(self.lexicon_.match_entries(t)) for t in _texts(X)]
        return sp.csr_matrix(np.asarray(rows, dtype=np.float32).reshape(len(rows), -1))

    def get_feature_names_out(self, input_features=None):
        return np.array(self.feature_names(), dtype=object)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        out = np.zeros(len(text), dtype=np.float64)
        hits = self.lexicon_.find(text)
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


# --------------------------------------------------------------------------- thread context

_SCRIPT_RANGES = (  # (script column, first code point, last code point)
    (0, 0xAC00, 0xD7AF), (0, 0x1100, 0x11FF), (0, 0x3130, 0x318F),   # hangul
    (1, 0x3040, 0x30FF), (1, 0xFF66, 0xFF9F),                        # kana
    (2, 0x4E00, 0x9FFF), (2, 0x3400, 0x4DBF),                        # han
    (3, 0x41, 0x5A), (3, 0x61, 0x7A),                                 # latin
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
    r"casino|カジノ|bitcoin|ビットコイン|fx|投資|セフレ|エロ|アダルト)", re.I)
_URL = re.compile(r"(?:https?|ttps?)://\S+|www\.\S+|\b\S+\.(?:com|net|jp|co|io|xyz|info|biz)\b", re.I)


class ThreadContext(TransformerMixin, BaseEstimator):
    """How a comment sits in its thread: for ``off_topic``.

    Features: character-trigram cosine similarity to the context (thread title, article,
    earlier posts) and to its closest line, and whether there is any context; script shares of the comment and their
    distance from the context's (a Korean reply in a Japanese thread); URL and advertising
    pattern counts; length.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"text": ["그건 너의 생각일뿐이다."], "context": ["在韓米軍の役割"]})
    >>> ThreadContext().fit(X).transform(X).shape
    (1, 12)
    """

    def __init__(self, n_features: int = 1 << 18):
        self.n_features = n_features

    def __getstate__(self):
        return _without_cache(self.__dict__)

    def fit(self, X, y=None):
        self.n_features_out_ = 12
        return self

    def _vectors(self, texts: list[str]) -> sp.csr_matrix:
        if not texts:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        norm = [normalize_text(t) for t in texts]
        d, _s, _n, b = hashed_ngrams(norm, (2, 3), self.n_features)
        M = _TfidfCounts.counts(d, b, len(norm), self.n_features)
        M.data = np.minimum(M.data, 1.0)
        return _l2_rows(M)

    def _similarity(self, texts: list[str], contexts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity (character bigrams and trigrams) of each comment to its whole
        context, and to the context's closest line (its title, an article paragraph or an
        earlier post): a short title and a long thread then give comparable figures."""
        # Many comments share a thread: each distinct context is hashed once.
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        T = self._vectors(texts)
        C = self._vectors(list(distinct))
        whole = np.asarray(T.multiply(C[index]).sum(axis=1)).ravel()
        lines_of = [[ln for ln in c.split("\n") if ln.strip()] for c in distinct]
        L = self._vectors([ln for lines in lines_of for ln in lines])
        bounds = np.concatenate(([0], np.cumsum([len(lines) for lines in lines_of])))
        best = np.zeros(len(texts))
        for j in range(len(distinct)):
            rows = np.nonzero(index == j)[0]
            if bounds[j + 1] > bounds[j] and len(rows):
                best[rows] = (T[rows] @ L[bounds[j]:bounds[j + 1]].T).max(axis=1).toarray().ravel()
        return whole, best

    def transform(self, X):
        texts, contexts = _columns(X)
        sim, best_line = self._similarity(texts, contexts)
        distinct, index = np.unique(np.asarray(contexts, dtype=object), return_inverse=True)
        p = script_shares(texts)                       # hangul, kana, han, latin
        q = script_shares(list(distinct))[index]
        has_ctx = np.array([1.0 if c.strip() else 0.0 for c in contexts])
        q[has_ctx == 0] = (0.0, 0.5, 0.5, 0.0)        # no context: assume a Japanese board
        lengths = np.array([len(t) for t in texts], dtype=np.float64)
        stripped = np.array([len(t.strip()) for t in texts])
        urls = np.array([len(_URL.findall(t)) for t in texts], dtype=np.float64)
        ads = np.array([len(_AD.findall(normalize_text(t))) for t in texts], dtype=np.float64)
        features = np.column_stack([
            sim, has_ctx, best_line,
            p[:, 0], p[:, 3], p[:, 1] + p[:, 2],
            0.5 * np.abs(p - q).sum(axis=1),
            np.log1p(urls), np.log1p(ads), np.log1p(lengths) / 5.0, (stripped <= 3).astype(float),
            p[:, 0] * (1.0 - q[:, 0]),
        ]) if len(texts) else np.zeros((0, 12))
        return sp.csr_matrix(features.astype(np.float32))

    def get_feature_names_out(self, input_features=None):
        return np.array(["ctx_similarity", "ctx_present", "ctx_best_line_similarity", "script_hangul", "script_latin",
                         "script_japanese", "script_distance", "urls", "ad_patterns", "length", "very_short",
                         "hangul_in_non_korean_thread"], dtype=object)

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        # Links and advertising words are the parts of a comment a moderator can be shown.
        out = np.zeros(len(text), dtype=np.float64)
        x = _cached(self, (text, context), lambda key: self.transform(
            pd.DataFrame({"text": [key[0]], "context": [key[1]]})).toarray()[0])
        for rx, k in ((_URL, 7), (re.compile(_AD.pattern, re.I), 8)):
            matches = list(rx.finditer(text))
            if matches and x[k]:
                for m in matches:
                    out[m.start():m.end()] += coef[k] * x[k] / len(matches) / max(1, m.end() - m.start())
        return out


def build_featurizer(*, vocab_size: int = 8000, n_features: int = 1 << 19, min_df: int = 2) -> FeatureUnion:
    """The feature pipeline the classifier uses: every view side by side.

    Examples
    --------
    >>> [name for name, _ in build_featurizer().transformer_list]
    ['chars', 'folded', 'subwords', 'lexicon', 'context']
    """
    return FeatureUnion([
        ("chars", CharNgrams("normalized", (1, 4), n_features, min_df)),
        ("folded", CharNgrams("folded", (2, 4), n_features, min_df)),
        ("subwords", SubwordUnits(vocab_size, min_df)),
        ("lexicon", LexiconFeatures()),
        ("context", ThreadContext()),
    ])


def block_slices(featurizer: FeatureUnion, X_sample) -> dict[str, slice]:
    """Where each block's columns sit in the union's output."""
    out, pos = {}, 0
    for name, trans in featurizer.transformer_list:
        width = trans.transform(X_sample).shape[1]
        out[name] = slice(pos, pos + width)
        pos += width
    return out
