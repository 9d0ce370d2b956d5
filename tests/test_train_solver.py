"""The training solver (moderation.ml.logistic) fits what scikit-learn's liblinear fits.

``moderation train`` no longer calls ``LogisticRegression(solver="liblinear").fit``: it solves the
same problem (same objective, intercept regularised, balanced class weights, sample weights, the
same stopping rule) on a compact matrix (used columns, equal rows merged, equal columns merged),
warm-started along the C path. These tests compare it with liblinear itself on the classifier's
real features of the team's authored comments, duplicates included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from test_model import authored_frame

from moderation.ml.estimator import ModerationModel
from moderation.ml.features import build_featurizer
from moderation.ml.logistic import CompactProblem, fit_logistic


@pytest.fixture(scope="module")
def problem():
    """Real features of 400 authored comments, 150 of them repeated (equal rows), with uneven
    sample weights: what the solver meets in training."""
    frame = authored_frame(400)
    frame = pd.concat([frame, frame.iloc[::3], frame.iloc[::8]], ignore_index=True)
    frame["context"] = frame["thread_title"]
    featurizer = build_featurizer(vocab_size=500, n_features=1 << 16, random_state=0).fit(frame)
    M = featurizer.transform(frame).tocsr()
    y = frame["slur"].to_numpy().astype(int)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    return M, y, w


def _liblinear(M, y, w, C, tol):
    return LogisticRegression(C=C, solver="liblinear", class_weight="balanced", tol=tol, max_iter=1000).fit(
        M, y, sample_weight=w
    )


@pytest.mark.parametrize("C", [0.5, 4.0, 16.0])
def test_the_same_optimum_as_liblinear(problem, C):
    M, y, w = problem
    compact = CompactProblem(M, y, w)
    # the layout is smaller than the matrix: fewer columns and rows (the repeated comments merged)
    assert compact.X64.shape[0] < M.shape[0] and compact.X64.shape[1] < M.shape[1] // 4
    ours, _w = fit_logistic(compact, C, tol=1e-9)
    ref = _liblinear(M, y, w, C, tol=1e-9)
    assert ours.coef_.shape == ref.coef_.shape
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_allclose(ours.decision_function(M), ref.decision_function(M), atol=1e-5)


def test_at_the_training_tolerance_as_close_to_the_optimum_as_liblinear(problem):
    """At tol=1e-3 (what training uses) both stop near the optimum; ours, cold or warm-started
    from another C's solution, is no further from it than liblinear's own stop."""
    M, y, w = problem
    compact = CompactProblem(M, y, w)
    exact = _liblinear(M, y, w, 16.0, tol=1e-10).decision_function(M)
    theirs = np.abs(_liblinear(M, y, w, 16.0, tol=1e-3).decision_function(M) - exact).max()
    cold, _w = fit_logistic(compact, 16.0, tol=1e-3)
    _clf, w4 = fit_logistic(compact, 4.0, tol=1e-3)
    warm, _w = fit_logistic(compact, 16.0, tol=1e-3, w0=w4)
    for clf in (cold, warm):
        assert np.abs(clf.decision_function(M) - exact).max() <= max(2 * theirs, 0.05)


def test_fold_rows_solve_the_fold_alone(problem):
    """A fold taken from the layout (rows() of the merged rows) is the problem of those rows alone."""
    M, y, w = problem
    train = np.arange(len(y))[np.arange(len(y)) % 3 != 0]
    fold = CompactProblem(M, y, w).rows(train)
    ours, _w = fit_logistic(fold, 4.0, tol=1e-9)
    ref = _liblinear(M[train], y[train], w[train], 4.0, tol=1e-9)
    np.testing.assert_allclose(ours.decision_function(M), ref.decision_function(M), atol=1e-5)


def test_model_classifiers_are_liblinear_logistic_regressions(problem):
    """The fitted model holds plain LogisticRegression objects (what the saved model and the
    scorer read), with liblinear's parameters, full-width coefficients, and scores near
    liblinear's own fit at the same C (within the training tolerance)."""
    frame = authored_frame(300)
    X = pd.DataFrame({"text": frame["text"], "context": frame["thread_title"]})
    model = ModerationModel(cv=3, C_grid=(2.0, 8.0), vocab_size=500, n_features=1 << 16).fit(X, frame)
    M = model.features(X)
    for label in ("slur", "delete"):
        clf = model.labels_[label].classifier
        assert isinstance(clf, LogisticRegression) and clf.solver == "liblinear" and clf.tol == 1e-3
        assert clf.coef_.shape == (1, M.shape[1])
        ref = _liblinear(M, frame[label].to_numpy().astype(int), None, clf.C, tol=1e-3)
        ours, theirs = clf.decision_function(M), ref.decision_function(M)
        assert np.corrcoef(ours, theirs)[0, 1] > 0.9999
        assert np.abs(ours - theirs).max() < 0.1
