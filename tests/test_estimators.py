"""The feature views and the classifier follow scikit-learn's estimator contract, so a user
can put any of them into their own Pipeline / GridSearchCV."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from moderation.labels import load_training_data
from moderation.ml.estimator import ModerationModel
from moderation.ml.features import CharNgrams, LexiconFeatures, SubwordUnits, ThreadFeatures, build_featurizer

VIEWS = [
    CharNgrams(min_df=1),
    CharNgrams(view="folded", ngram_range=(2, 3), min_df=1),
    SubwordUnits(vocab_size=300, min_df=1, random_state=0),
    LexiconFeatures(),
    ThreadFeatures(),
]


@pytest.fixture(scope="module")
def comments() -> pd.DataFrame:
    frame, _summary = load_training_data(["labels/authored.jsonl"])
    return frame.iloc[:240].reset_index(drop=True)


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: type(v).__name__)
def test_feature_views_keep_the_estimator_contract(view, comments):
    name = type(view).__name__
    check_no_attributes_set_in_init(name, view)
    check_parameters_default_constructible(name, type(view)())
    check_get_params_invariance(name, view)
    check_set_params(name, view)
    with pytest.raises(NotFittedError):
        clone(view).transform(comments[["text", "context"]])
    fitted = clone(view).fit(comments[["text", "context"]])
    assert fitted.get_params() == view.get_params()  # fit leaves the parameters as given
    X = fitted.transform(comments[["text", "context"]])
    assert X.shape[0] == len(comments)
    again = pickle.loads(pickle.dumps(fitted)).transform(comments[["text", "context"]])
    assert abs(X - again).sum() == 0  # survives pickling
    assert len(fitted.get_feature_names_out()) == X.shape[1]


def test_a_view_in_a_users_pipeline_and_grid_search(comments):
    y = comments["slur"].fillna(0).astype(int).to_numpy()
    pipe = Pipeline([("chars", CharNgrams(min_df=1)), ("clf", LogisticRegression(max_iter=500))])
    grid = GridSearchCV(pipe, {"chars__ngram_range": [(1, 2), (2, 4)]}, cv=3, scoring="average_precision")
    grid.fit(comments[["text", "context"]], y)
    assert grid.best_params_["chars__ngram_range"] in [(1, 2), (2, 4)]
    assert 0.5 < grid.best_score_ <= 1.0


def test_moderation_model_in_grid_search_with_a_custom_featurizer(comments):
    Y = comments[["slur", "delete"]]
    model = ModerationModel(
        labels=("slur", "delete"),
        cv=2,
        C_grid=(4.0,),
        context_swaps=0,
        featurizer=build_featurizer(vocab_size=300, n_features=1 << 14, random_state=0),
    )
    with pytest.raises(NotFittedError):
        model.predict_proba(comments)
    grid = GridSearchCV(model, {"C_grid": [(1.0,), (16.0,)]}, cv=KFold(2, shuffle=True, random_state=0))
    grid.fit(comments[["text", "context"]], Y)
    best = grid.best_estimator_
    assert list(best.classes_) == ["slur", "delete"]
    assert set(best.predict(comments).columns) == {"slur", "delete"}
    assert np.isfinite(grid.best_score_)
    assert best.featurizer_ is not model.featurizer  # the given featurizer is cloned, not fitted in place
