"""Prototype of ``moderation adapt DUMPS --model DIR --out DIR [--max-hold-rate R] [--max-reject-rate R]``.

From an operator's unlabeled dumps, in two streaming passes (flat memory):

1. **Read**: every comment goes into the relevance IDF (:meth:`RelevanceFeatures.partial_fit`,
   hashed document frequencies: fixed size), and a bounded sample of threads is kept for
   self-supervision (at most ``max_threads`` threads, ``posts_per_thread`` posts each: the
   first posts of a thread, which is what its early context is made of).
2. **Re-learn off_topic**: the sampled threads become own / slipped-in pairs
   (:func:`moderation.ml.selfsup.thread_pairs`, CV groups by thread bucket); the off_topic
   classifier over the relevance features is refitted (out-of-fold scores give its
   calibration and the hold threshold that flags at most ``max_own_flagged`` of own posts).
3. **Recalibrate**: the second pass scores every comment in its context and keeps a
   fixed-size histogram of each label's score; ``hold`` and ``reject`` are raised (never
   lowered) to the quantiles where the shares of hold and reject on the operator's traffic
   stay at or under the given rates. Reject is never loosened below the model's own
   (labelled-data) reject threshold, and off_topic never rejects.

:func:`adapt_stream` is the core; it takes an iterable of ``(thread, title, text)`` chunks
(a re-iterable source: the dumps are read twice). Wiring into the CLI: ``moderation/apps/
adapt.py`` reading dumps with :func:`moderation.extract.extract` and
:class:`moderation.context.ThreadContexts`.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from .calibration import platt
from .features.relevance import RelevanceFeatures
from .selfsup import thread_pairs

BINS = 2001  # score histogram resolution (probabilities rounded to 0.0005)


def off_topic_hold(y: np.ndarray, p: np.ndarray, max_own_flagged: float = 0.05) -> float:
    """The lowest threshold flagging at most ``max_own_flagged`` of on-topic posts."""
    own = np.sort(p[y == 0])
    if not len(own):
        return 0.5
    return float(own[int(np.ceil((1 - max_own_flagged) * len(own))) - 1]) + 1e-6


def threshold_for_rate(hist: np.ndarray, rate: float) -> float:
    """The lowest histogram threshold at which at most ``rate`` of the scores lie at or above it."""
    total = hist.sum()
    if not total:
        return 1.0
    above = np.cumsum(hist[::-1])[::-1] / total           # share at or above each bin
    ok = np.nonzero(above <= rate)[0]
    return float(ok[0] / (BINS - 1)) if len(ok) else 1.0


class ThreadSample:
    """At most ``max_threads`` threads (least recently seen dropped), ``posts_per_thread`` posts each."""

    def __init__(self, max_threads: int = 5000, posts_per_thread: int = 12):
        self.max_threads, self.posts_per_thread = max_threads, posts_per_thread
        self.threads: OrderedDict[str, dict] = OrderedDict()

    def add(self, thread: str, title: str, text: str) -> list[str]:
        """Add a post; return the thread's posts before it (its earlier-post context)."""
        t = self.threads.get(thread)
        if t is None:
            t = self.threads[thread] = {"title": title or "", "articles": [], "posts": [], "recent": []}
            if len(self.threads) > self.max_threads:
                self.threads.popitem(last=False)
        earlier = list(t["recent"])
        if len(t["posts"]) < self.posts_per_thread:
            t["posts"].append(text)
        t["recent"] = (t["recent"] + [text[:500]])[-8:]
        return earlier


def adapt_stream(chunks: Callable[[], Iterable[pd.DataFrame]], *, relevance: RelevanceFeatures | None = None,
                 max_hold_rate: float = 0.05, max_reject_rate: float = 0.01, model_hold: float = 0.0,
                 max_threads: int = 5000, posts_per_thread: int = 12, random_state: int = 0) -> dict:
    """Refit the relevance IDF and off_topic on the operator's threads; thresholds for their traffic.

    ``chunks()`` yields frames with ``thread``, ``title`` and ``text`` (called twice: two passes).
    Returns the fitted transformer, classifier, calibration, thresholds and timings.
    """
    from moderation.context import build_context

    rf = relevance if relevance is not None else RelevanceFeatures()
    rf.df_ = getattr(rf, "df_", np.zeros(rf.n_features, dtype=np.int64))  # keep any prior corpus
    rf.n_docs_ = getattr(rf, "n_docs_", 0)
    sample = ThreadSample(max_threads, posts_per_thread)
    n = 0
    for frame in chunks():                                         # pass 1
        rf.partial_fit(frame["text"].tolist() + frame["title"].drop_duplicates().tolist())
        for th, title, text in zip(frame["thread"], frame["title"], frame["text"]):
            sample.add(th, title, text)
        n += len(frame)
    pairs = thread_pairs(sample.threads, strangers=1.0, n_buckets=4, random_state=random_state)
    F = rf.transform(pairs)
    y = pairs["off_topic"].to_numpy()
    clf = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced", max_iter=300, tol=1e-3)
    decision = np.zeros(len(y))
    for train, test in GroupKFold(4).split(F, y, pairs["group"]):
        decision[test] = clf.fit(F[train], y[train]).decision_function(F[test])
    a, b = platt(decision, y)
    oof = 1 / (1 + np.exp(-(a * decision + b)))
    hold = max(model_hold, off_topic_hold(y, oof))
    clf.fit(F, y)

    hist = np.zeros(BINS, dtype=np.int64)                          # pass 2
    contexts = ThreadSample(max_threads=max_threads, posts_per_thread=0)
    for frame in chunks():
        ctx = [build_context(title, posts=contexts.add(th, title, text)).text
               for th, title, text in zip(frame["thread"], frame["title"], frame["text"])]
        p = 1 / (1 + np.exp(-(a * clf.decision_function(rf.transform(
            pd.DataFrame({"text": frame["text"].to_numpy(), "context": ctx}))) + b)))
        hist += np.bincount(np.rint(p * (BINS - 1)).astype(int), minlength=BINS)
    hold = max(hold, threshold_for_rate(hist, max_hold_rate))
    return {"relevance": rf, "classifier": clf, "calibration": (a, b), "off_topic": {"hold": hold, "reject": None},
            "comments": n, "pairs": int(len(y)), "threads_sampled": len(sample.threads),
            "hold_rate": float(hist[int(np.ceil(hold * (BINS - 1))):].sum() / max(1, hist.sum()))}


def recalibrated(labelled: dict, hist: np.ndarray, max_hold_rate: float, max_reject_rate: float) -> dict:
    """Thresholds of a label (slur, delete) for an operator's traffic: raised to meet the rates,
    never below the labelled-data ones (so reject's precision is never loosened)."""
    hold = max(labelled["hold"], threshold_for_rate(hist, max_hold_rate))
    reject = labelled.get("reject")
    if reject is not None:
        reject = max(reject, threshold_for_rate(hist, max_reject_rate), hold)
    return {"hold": hold, "reject": reject}
