"""Subword units: TF-IDF over the pieces of a sentencepiece model trained in ``fit``."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..text import normalize, normalize_text
from .base import (
    TfidfCounts,
    cached,
    csr_row,
    effective_min_df,
    spread,
    string_input_tags,
    texts_of,
    tfidf_row,
    without_cache,
)


def _train_sentencepiece(texts: list[str], vocab_size: int, random_state: int | None = None) -> bytes:
    import sentencepiece as spm

    if random_state is not None:  # the sentence sampling of a large corpus is random
        spm.set_random_generator_seed(int(random_state))

    model = io.BytesIO()
    sentences = [t for t in texts if t.strip()] or ["_"]
    # Every character the corpus needs must fit in the vocabulary (CJK corpora have thousands).
    distinct = len(set("".join(sentences)))
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=max(vocab_size, distinct + 16),
        model_type="unigram",
        character_coverage=0.9995,
        hard_vocab_limit=False,
        normalization_rule_name="identity",
        split_by_whitespace=True,
        max_sentencepiece_length=8,
        input_sentence_size=200000,
        shuffle_input_sentence=True,
        byte_fallback=False,
        num_threads=1,
        minloglevel=2,
    )
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
        Pieces seen in fewer training comments get weight 0 (1 when fitting on fewer than 20
        comments, recorded in ``min_df_``).
    random_state : int, optional
        Seeds sentencepiece's sampling of training sentences.

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

    def __init__(self, vocab_size: int = 8000, min_df: int = 2, random_state: int | None = None):
        self.vocab_size = vocab_size
        self.min_df = min_df
        self.random_state = random_state

    def __getstate__(self):
        state = without_cache(self.__dict__)
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
        return TfidfCounts.counts(rows, cols, len(texts), self.processor.get_piece_size())

    def fit(self, X, y=None):
        texts = texts_of(X)
        self.sp_model_ = _train_sentencepiece([normalize_text(t) for t in texts], self.vocab_size, self.random_state)
        self.__dict__.pop("_processor", None)
        counts = self._counts(texts)
        self.min_df_ = effective_min_df(self.min_df, len(texts))
        self.idf_ = TfidfCounts.idf(counts, self.min_df_)
        return self

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One comment's features as (sorted piece ids, float32 values): its row of
        :meth:`transform`, bit for bit, without building a sparse matrix."""
        return cached(self, ("row", text), self._row)

    def _row(self, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(self.processor.encode(normalize_text(key[1]), out_type=int), dtype=np.int64)
        return tfidf_row(ids, self.idf_)

    def transform(self, X):
        check_is_fitted(self, "idf_")
        texts = texts_of(X)
        if len(texts) == 1:  # one comment (the hook): no batch bookkeeping
            return csr_row(*self.row(texts[0]), self.processor.get_piece_size())
        return TfidfCounts.weight(self._counts(texts), self.idf_)

    def __sklearn_tags__(self):
        return string_input_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None):
        return np.array([f"piece_{self.processor.id_to_piece(i)}" for i in range(len(self.idf_))], dtype=object)

    def _occurrences(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every weighted piece of ``text``: (piece id, weight share, original span)."""
        view = normalize(text)
        indices, values = self.row(text)
        ids_out, shares, spans = [], [], []
        if len(indices):
            weights = dict(zip(indices.tolist(), values))
            pieces = self.processor.encode(view.text, out_type=str)
            ids = self.processor.piece_to_id(pieces)
            counts = Counter(ids)
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
        return (
            np.asarray(ids_out, dtype=np.int64),
            np.asarray(shares, dtype=np.float64),
            np.asarray(spans, dtype=np.int64).reshape(-1, 2),
        )

    def char_contributions(self, text: str, context: str, coef: np.ndarray) -> np.ndarray:
        ids, shares, spans = cached(self, text, self._occurrences)
        return spread(len(text), coef[ids] * shares, spans)
