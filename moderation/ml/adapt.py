"""Fitting a trained model to one forum's traffic, without labels: the ML half of ``moderation adapt``.

- :func:`rate_thresholds` sets each label's ``hold`` and ``reject`` so that on a sample of the
  forum's scores the share of posts held and the share rejected meet the asked rates (the
  rates of *actions*, across labels, as :class:`moderation.policy.Decider` decides them);
  ``reject`` is never set below the threshold the labelled data chose (its precision is never
  loosened), and a label that never rejects keeps never rejecting.
- :func:`refit_label` re-learns one label's classifier (``off_topic``) from self-supervised
  pairs of the forum's own threads (:func:`moderation.ml.selfsup.thread_pairs`), calibrated on
  out-of-fold scores grouped by thread bucket.
- :class:`ScoreSample` keeps a bounded uniform sample of score vectors (reservoir sampling),
  so memory stays flat however many posts are read.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = {"slur": rng.random(10_000), "delete": rng.random(10_000)}
>>> labelled = {"slur": {"hold": 0.5, "reject": 0.9}, "delete": {"hold": 0.5, "reject": 0.9}}
>>> th = rate_thresholds(scores, labelled, hold_rate=0.05, reject_rate=0.01)
>>> rates = action_rates(scores, th)
>>> abs(rates["reject"] - 0.01) < 0.002, abs(rates["hold"] - 0.05) < 0.002
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from ..core import NEVER
from .calibration import platt


class ScoreSample:
    """A uniform sample of at most ``capacity`` score vectors (Algorithm R reservoir sampling).

    Parameters
    ----------
    labels : sequence of str
    capacity : int
    random_state : int

    Examples
    --------
    >>> s = ScoreSample(["slur"], capacity=100)
    >>> s.add({"slur": np.linspace(0, 1, 1000)}, np.ones(1000, dtype=bool))
    >>> s.seen, len(s.scores()["slur"])
    (1000, 100)
    """

    def __init__(self, labels, capacity: int = 500_000, random_state: int = 0):
        self.labels = list(labels)
        self.capacity = capacity
        self._rng = np.random.default_rng(random_state)
        self._values = np.full((capacity, len(self.labels)), np.nan, dtype=np.float32)
        self._context = np.zeros(capacity, dtype=bool)
        self.seen = 0

    def add(self, scores: Mapping[str, np.ndarray], has_context: np.ndarray) -> None:
        """Offer a batch of score vectors (``has_context``: whether ``off_topic`` may act)."""
        block = np.column_stack([np.asarray(scores[label], dtype=np.float32) for label in self.labels])
        for row, ctx in zip(block, np.asarray(has_context, dtype=bool)):
            if self.seen < self.capacity:
                slot = self.seen
            else:
                slot = int(self._rng.integers(self.seen + 1))
                if slot >= self.capacity:
                    self.seen += 1
                    continue
            self._values[slot] = row
            self._context[slot] = ctx
            self.seen += 1

    def scores(self) -> dict[str, np.ndarray]:
        n = min(self.seen, self.capacity)
        return {label: self._values[:n, j].astype(float) for j, label in enumerate(self.labels)}

    def has_context(self) -> np.ndarray:
        return self._context[: min(self.seen, self.capacity)].copy()


def _levels(
    scores: Mapping[str, np.ndarray], thresholds: Mapping[str, Mapping[str, float]], has_context: np.ndarray | None
) -> np.ndarray:
    """Per post: 0 allow, 1 hold, 2 reject (the Decider's rule, vectorised)."""
    n = len(next(iter(scores.values())))
    level = np.zeros(n, dtype=np.int8)
    for label, p in scores.items():
        if label not in thresholds:
            continue
        p = np.nan_to_num(np.asarray(p, dtype=float), nan=-1.0)
        acts = np.ones(n, dtype=bool) if label != "off_topic" or has_context is None else has_context
        level = np.maximum(
            level,
            np.where(
                acts & (p >= thresholds[label]["reject"]), 2, np.where(acts & (p >= thresholds[label]["hold"]), 1, 0)
            ),
        )
    return level


def action_rates(
    scores: Mapping[str, np.ndarray],
    thresholds: Mapping[str, Mapping[str, float]],
    has_context: np.ndarray | None = None,
) -> dict[str, float]:
    """Shares of posts held and rejected under ``thresholds``."""
    level = _levels(scores, thresholds, has_context)
    n = max(1, len(level))
    return {"hold": float((level == 1).sum() / n), "reject": float((level == 2).sum() / n)}


def _quantile(p: np.ndarray, rate: float) -> float:
    """The score above which a share ``rate`` of ``p`` lies (1.0+ when rate is 0)."""
    p = p[~np.isnan(p)]
    if not len(p) or rate <= 0:
        return np.nextafter(1.0, 2.0)
    return float(np.quantile(p, 1.0 - min(rate, 1.0), method="higher"))


def _solve(target: float, make, measure) -> dict:
    """The thresholds ``make(r)`` whose measured rate is closest to ``target`` from below
    (bisection on the per-label share ``r``; the measured rate grows with ``r``)."""
    lo, hi = 0.0, 1.0
    best = make(0.0)
    for _ in range(40):
        mid = (lo + hi) / 2
        th = make(mid)
        if measure(th) <= target:
            lo, best = mid, th
        else:
            hi = mid
    return best


def rate_thresholds(
    scores: Mapping[str, np.ndarray],
    labelled: Mapping[str, Mapping[str, float]],
    *,
    hold_rate: float,
    reject_rate: float,
    has_context: np.ndarray | None = None,
    never_reject: tuple[str, ...] = ("off_topic",),
) -> dict[str, dict[str, float]]:
    """Thresholds under which the shares of posts rejected and held are ``reject_rate`` and
    ``hold_rate`` (as close as the sample allows, never above).

    ``reject`` is raised until the reject share meets ``reject_rate`` but never set below the
    labelled-data threshold ``labelled[label]["reject"]`` (a never-rejecting label stays so);
    ``hold`` is then moved (either way) until the hold share meets ``hold_rate``, never above
    its label's ``reject``.
    """
    labels = [label for label in scores if label in labelled]

    def with_reject(r: float) -> dict:
        out = {}
        for label in labels:
            floor = labelled[label]["reject"]
            reject = NEVER if label in never_reject or floor > 1 else max(floor, _quantile(scores[label], r))
            out[label] = {"hold": NEVER, "reject": reject}
        return out

    rejects = _solve(reject_rate, with_reject, lambda th: action_rates(scores, th, has_context)["reject"])

    def with_hold(r: float) -> dict:
        return {
            label: {
                "hold": min(_quantile(scores[label], r), rejects[label]["reject"]),
                "reject": rejects[label]["reject"],
            }
            for label in labels
        }

    return _solve(hold_rate, with_hold, lambda th: action_rates(scores, th, has_context)["hold"])


def refit_label(
    model, label: str, pairs: pd.DataFrame, *, n_splits: int = 3, max_own_flagged: float = 0.05, C: float = 1.0
) -> dict:
    """Re-learn ``label``'s classifier of ``model`` from ``pairs`` (``text``, ``context``, the
    label's 0/1 column and ``group``), in place; returns its new hold threshold and metrics.

    The classifier keeps its type and parameters (cloned); its calibration is refitted on
    out-of-fold decisions grouped by ``group`` (thread buckets), and ``hold`` is the lowest
    threshold that flags at most ``max_own_flagged`` of the on-topic rows.
    """
    lm = model.labels_[label]
    # A moderate C, solved in the primal: the pairs are not separable (the same post is on
    # topic in its thread and off topic in another), where liblinear's dual needs many passes.
    base = clone(lm.classifier)
    if "C" in base.get_params():
        base.set_params(C=C)
    if "dual" in base.get_params() and base.get_params().get("solver") == "liblinear":
        base.set_params(dual=False)
    features = model.label_features(label, pairs) if hasattr(model, "label_features") else model.features(pairs)
    y = pairs[label].to_numpy().astype(int)
    groups = pairs["group"].to_numpy()
    decision = np.zeros(len(y))
    splits = min(n_splits, len(np.unique(groups)))
    for train, test in GroupKFold(splits).split(features, y, groups):
        decision[test] = clone(base).fit(features[train], y[train]).decision_function(features[test])
    a, b = platt(decision, y)
    oof = 1.0 / (1.0 + np.exp(-(a * decision + b)))
    own = np.sort(oof[y == 0])
    hold = float(own[int(np.ceil((1 - max_own_flagged) * len(own))) - 1]) + 1e-6 if len(own) else 0.5
    lm.classifier = clone(base).fit(features, y)
    lm.calibration = (a, b)
    from .calibration import ranking_metrics

    return {"hold": min(hold, 1.0), "pairs": len(y), **ranking_metrics(y, oof)}
