"""Calibration, thresholds and the metrics they are chosen by.

A label's raw decision values are mapped to probabilities by Platt scaling fitted on
out-of-fold decisions (:func:`platt`); its two thresholds are chosen on out-of-fold
probabilities (:func:`choose_thresholds`): ``hold`` sends a comment to a person,
``reject`` refuses it and must be precise.

Examples
--------
>>> import numpy as np
>>> a, b = platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
>>> a > 0
True
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ..core import NEVER


def platt(decision: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> tuple[float, float]:
    """``(a, b)`` of ``p = sigmoid(a * decision + b)`` fitted on (out-of-fold) decisions.

    A plain logistic regression on one feature, nearly unregularised: what scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")`` fits, but on decisions we already have
    from the cross-validation that chose C (that class would refit every fold again).
    ``sample_weight`` weighs each decision (the training rows' weights).
    """
    lr = LogisticRegression(C=1e4).fit(decision.reshape(-1, 1), y, sample_weight=sample_weight)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def choose_thresholds(y: np.ndarray, p: np.ndarray, reject_precision: float = 0.9) -> tuple[float, float]:
    """``hold``: the threshold with the best F1; ``reject``: the lowest one at or above it
    whose precision reaches ``reject_precision`` (:data:`~moderation.core.NEVER` when none does).

    Examples
    --------
    >>> choose_thresholds(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.6, 0.9]))
    (0.6, 0.6)
    >>> choose_thresholds(np.array([1, 0, 1, 0]), np.array([0.1, 0.4, 0.6, 0.9]), 0.99)[1]
    inf
    """
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    best = int(np.argmax(f1))
    hold = float(thresholds[best])
    ok = np.nonzero((precision >= reject_precision) & (thresholds >= hold))[0]
    reject = round(float(thresholds[ok[0]]), 6) if len(ok) else NEVER
    return round(hold, 6), reject


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    """Precision, recall and F1 of flagging ``p >= threshold``.

    Examples
    --------
    >>> threshold_metrics(np.array([0, 1, 1]), np.array([0.2, 0.4, 0.9]), 0.3)["recall"]
    1.0
    """
    pred = (np.asarray(p) >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        np.asarray(y).astype(int), pred, average="binary", pos_label=1, zero_division=0
    )
    return {
        "threshold": threshold_to_json(threshold),
        "precision": round(float(precision), 4),
        "recall": round(float(recall), 4),
        "f1": round(float(f1), 4),
    }


def ranking_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """ROC-AUC and average precision (``None`` when ``y`` has one class only)."""
    if len(set(np.asarray(y).tolist())) < 2:
        return {"roc_auc": None, "average_precision": None}
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "average_precision": round(float(average_precision_score(y, p)), 4),
    }


def threshold_to_json(value: float) -> float | str:
    """A threshold as JSON can hold it: ``"never"`` for :data:`~moderation.core.NEVER`."""
    return "never" if value > 1.0 else value


def threshold_from_json(value: float | str | None) -> float:
    """The inverse of :func:`threshold_to_json` (older manifests wrote 1.01 for never)."""
    if value is None or value == "never" or float(value) > 1.0:
        return NEVER
    return float(value)
