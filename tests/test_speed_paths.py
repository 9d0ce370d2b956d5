"""The fast scoring paths (issue 12) give what the straightforward computation gives.

A small model is trained here on the team's labelled comments, and every fast path is compared
with a reference computed the slow way in the test: the feature union's batch ``transform`` and
each label's ``LogisticRegression.decision_function`` with its calibration. Nothing here depends
on the scores of ``models/default`` (which is retrained from time to time); timing is in
``benchmarks/``, never here.
"""

from __future__ import annotations

import pickle
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.labels import load_training_data
from moderation.ml import text as text_module
from moderation.ml.estimator import ModerationModel
from moderation.ml.explain import _script, _script_units, explain, unit_sums
from moderation.ml.features import LexiconFeatures, rows
from moderation.ml.features.base import Comments, TfidfCounts, hashed_ngrams, hashed_ngrams_one, spread, tfidf_row
from moderation.ml.features.relevance import RelevanceFeatures
from moderation.ml.features.thread import ThreadFeatures
from moderation.moderator import Moderator


@pytest.fixture(scope="module")
def trained() -> tuple[ModerationModel, pd.DataFrame]:
    frame, _summary = load_training_data(["labels/authored.jsonl"])
    frame = frame.reset_index(drop=True)
    Y = frame[["slur", "off_topic", "delete"]]
    model = ModerationModel(cv=2, C_grid=(4.0,), vocab_size=600, n_features=1 << 16).fit(frame[["text", "context"]], Y)
    return model, frame


def reference_proba(model: ModerationModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The straightforward way: the union's transform, then each label's classifier."""
    M = model.featurizer_.transform(frame[["text", "context"]]).tocsr()
    return {label: lm.proba(M) for label, lm in model.labels_.items()}


def test_batch_scores_are_the_straightforward_ones_bit_for_bit(trained):
    model, frame = trained
    assert model.scorer() is not None
    expected = reference_proba(model, frame)
    got = model.predict_proba(frame[["text", "context"]])
    for label, values in expected.items():
        assert np.array_equal(got[label].to_numpy(), values), label


def test_one_comment_scores_exactly_as_in_a_batch(trained):
    """Every entry point (one review, a batch, moderation score) must give the same rounded
    scores: one comment's probabilities are the batch's bit for bit."""
    model, frame = trained
    expected = reference_proba(model, frame)
    for i in range(0, len(frame), 5):
        one = model.proba([frame["text"][i]], [frame["context"][i]])
        for label, values in expected.items():
            assert one[label][0] == values[i], (label, frame["text"][i])


def test_every_views_row_of_one_comment_is_its_transform(trained):
    model, frame = trained
    scorer = model.scorer()
    assert scorer is not None
    fast = {name for (name, *_rest), row in zip(scorer.blocks, scorer.rows) if row is not None}
    # no sparse matrix for any of them
    assert {"chars", "folded", "subwords", "lexicon", "groups", "context", "relevance"} <= fast
    for name, trans, _offset, _width in scorer.blocks:
        for i in range(0, len(frame), 17):
            text, context = frame["text"][i], frame["context"][i]
            x = trans.transform(Comments([text], [context])).tocsr()
            idx, val = rows.one_row(trans, text, context)
            assert np.array_equal(x.indices, idx) and np.array_equal(x.data, val), (name, text)


def test_a_row_function_that_does_not_give_the_transform_is_not_used(trained, monkeypatch):
    model, _frame = trained
    lf = dict(model.featurizer_.transformer_list)["lexicon"]
    monkeypatch.setitem(
        rows._ROWS, LexiconFeatures, lambda lf, text, context: (np.zeros(1, int), np.ones(1, np.float32))
    )
    monkeypatch.setattr(rows, "_CHECKED", type(rows._CHECKED)())
    assert rows.row_function(lf) is None  # the transformer's own transform serves


def test_explanations_are_the_same_cold_and_after_scoring(trained):
    """Explanations read what scoring remembered; computed from nothing they are the same."""
    model, frame = trained
    flagged = [i for i in range(len(frame)) if frame["slur"][i] == 1 or frame["delete"][i] == 1][:25]
    warm = []
    for i in flagged:
        model.proba([frame["text"][i]], [frame["context"][i]])
        warm.append([explain(model, frame["text"][i], frame["context"][i], label) for label in ("slur", "delete")])
    cold_model = pickle.loads(pickle.dumps(model))  # no scorer, no remembered rows
    text_module.normalize.cache_clear()
    for i, expected in zip(flagged, warm):
        got = [explain(cold_model, frame["text"][i], frame["context"][i], label) for label in ("slur", "delete")]
        assert got == expected


def test_the_moderator_gives_the_same_decisions_one_by_one_and_in_a_frame(trained):
    model, frame = trained
    moderator = Moderator(model, {"version": "test"})
    sub = frame.iloc[:60].reset_index(drop=True)
    together = moderator.decide(sub[["text", "context"]], explain=True)
    for i, decision in enumerate(together):
        alone = moderator.decide_texts([sub["text"][i]], [sub["context"][i]], explain=True)[0]
        assert alone.action == decision.action and alone.labels == decision.labels
        assert alone.scores == pytest.approx(decision.scores, abs=1.01e-6)
        assert [r.span for r in alone.reasons] == [r.span for r in decision.reasons]


# --------------------------------------------------------------------------- building blocks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=4))
def test_hashing_one_text_is_the_batch_hashing(texts):
    for t in texts:
        _d, s, n, b = hashed_ngrams([t], (1, 4), 1 << 19)
        s1, n1, b1 = hashed_ngrams_one(t, (1, 4), 1 << 19)
        assert np.array_equal(s, s1) and np.array_equal(n, n1) and np.array_equal(b, b1)


_WORDS = ["米軍", "撤退", "韓国", "ｗｗ", "그건", "생각", "lol", "the", " ", "\n", "。", "経済", "チョン", "！！"]
_THREAD_TEXT = st.lists(st.sampled_from(_WORDS), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_THREAD_TEXT, _THREAD_TEXT), min_size=1, max_size=8))
def test_one_comment_gets_its_batch_row_from_the_thread_views(batch):
    """The relevance and thread views sum over entries with np.bincount in one order whatever
    the batch: a comment alone (the hook) gets bit for bit its row in a batch of other threads
    (moderation score), through its context cached or not."""
    texts = [t for t, _c in batch]
    contexts = [c for _t, c in batch]
    fitted = [
        RelevanceFeatures(n_features=1 << 12, min_df=1, floor=0.0, lexical_features=1 << 6).fit(
            Comments(texts + _WORDS, contexts + [""] * len(_WORDS))
        ),
        ThreadFeatures(n_features=1 << 12).fit(Comments(texts, contexts)),
    ]
    for view in fitted:
        together = view.transform(Comments(texts, contexts)).tocsr()
        for i, (text, context) in enumerate(batch):
            row = together[i]
            row.sort_indices()
            for _twice in range(2):  # the second time through the cached context
                idx, val = view.context_row(text, context)
                assert np.array_equal(row.indices, idx) and np.array_equal(row.data, val), (type(view), text, context)
                assert val.dtype == np.float32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60))
def test_a_tfidf_row_is_the_batch_row(keys):
    keys = np.asarray(keys, dtype=np.int64)
    idf = np.linspace(0, 3, 41).astype(np.float32)
    X = TfidfCounts.weight(TfidfCounts.counts(np.zeros(len(keys), int), keys, 1, 41), idf)
    idx, val = tfidf_row(keys, idf)
    assert np.array_equal(X.indices, idx) and np.array_equal(X.data, val)


def _nfkc_pieces_per_character(text: str):
    """The per-character NFKC of :func:`moderation.ml.text._nfkc_pieces`, without its shortcut."""
    out, origin = [], []
    for i, ch in enumerate(text):
        for p in ch if ch.isascii() else unicodedata.normalize("NFKC", ch):
            if out and unicodedata.combining(p):
                combined = unicodedata.normalize("NFC", out[-1] + p)
                if len(combined) == 1:
                    out[-1] = combined
                    continue
            if p in "\u3099\u309a":
                continue
            out.append(p)
            origin.append(i)
    return out, origin


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_the_nfkc_shortcut_changes_nothing(raw):
    for text in (raw, unicodedata.normalize("NFKC", raw)):
        assert text_module._nfkc_pieces(text) == _nfkc_pieces_per_character(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), max_size=50),
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 12)), max_size=30),
)
def test_unit_sums_are_numpys_sums(values, spans):
    scores = np.asarray(values, dtype=np.float64)
    units = [(min(a, len(scores)), min(a + n, len(scores))) for a, n in spans]
    assert unit_sums(scores, units) == [float(scores[a:b].sum()) for a, b in units]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 5), st.floats(-10, 10)), max_size=30))
def test_spread_adds_in_the_order_np_add_at_did(items):
    length = 26
    spans = np.asarray([(a, min(a + n, length)) for a, n, _v in items], dtype=np.int64).reshape(-1, 2)
    values = np.asarray([v for _a, _n, v in items], dtype=np.float64)
    expected = np.zeros(length)
    if len(values):
        per_char = values / np.maximum(1, spans[:, 1] - spans[:, 0])
        steps = np.zeros(length + 1)
        np.add.at(steps, spans[:, 0], per_char)
        np.add.at(steps, spans[:, 1], -per_char)
        expected = np.cumsum(steps)[:length]
    assert np.array_equal(spread(length, values, spans), expected)


def _script_runs_by_loop(text: str) -> tuple[tuple[int, int], ...]:
    """The straightforward per-character loop the explanations' script runs once were."""
    units, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text):
            units.append((start, i))
            break
        a, b = _script(text[i - 1]), _script(text[i])
        if a != b and not (a == "han" and b == "hira"):
            units.append((start, i))
            start = i
    return tuple((a, b) for a, b in units if text[a:b].strip())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60))
def test_script_runs_are_the_per_character_runs(text):
    assert _script_units(text) == _script_runs_by_loop(text)
    mixed = "出ていけ チョン ｗｗ Korea 한국 々〆 \u200b!!" + text
    assert _script_units(mixed) == _script_runs_by_loop(mixed)
