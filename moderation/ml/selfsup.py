"""Self-supervised ``off_topic`` examples from real threads (issue 11).

A post in its own thread is on topic (unless labelled otherwise); the same kind of post moved
into another thread is off topic there. :func:`thread_pairs` turns any thread-structured
input (``{thread: {"title", "articles", "posts"}}``, built from extracted dumps, label files or
CSV with a thread column) into training rows with the production context
(:func:`moderation.context.build_context`: title, articles, up to 8 earlier posts).

Honest cross-validation: every thread gets a bucket (a hash of its key, ``n_buckets`` of
them), strangers are drawn only from threads of the same bucket, and the bucket is the row's
CV group, so no fold ever sees a thread (as context or as text) that another fold holds.

Examples
--------
>>> threads = {"a": {"title": "米軍", "posts": ["撤退すべき", "駐留費が高い"]},
...            "b": {"title": "ラーメン", "posts": ["値上げつらい", "替え玉無料"]}}
>>> rows = thread_pairs(threads, strangers=1.0, n_buckets=1)
>>> sorted(rows["off_topic"].tolist())
[0, 0, 0, 0, 1, 1, 1, 1]
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..context import build_context, is_tabular
from ..core import Comment


def bucket_of(key: str, n_buckets: int) -> int:
    return int(hashlib.md5(str(key).encode("utf-8")).hexdigest()[:8], 16) % max(1, n_buckets)


def _context(thread: dict, i: int) -> str:
    return build_context(
        thread.get("title"), articles=thread.get("articles", ()), posts=thread.get("posts", [])[:i]
    ).text


def thread_pairs(
    threads: dict[str, dict],
    *,
    strangers: float = 1.0,
    n_buckets: int = 4,
    min_posts: int = 2,
    labels: dict[str, list] | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """Own posts (``off_topic`` 0, or the given label) and posts of other threads slipped in (1).

    Parameters
    ----------
    threads : dict
        ``{key: {"title": str, "articles": [str], "posts": [str]}}``, posts in order.
    strangers : float
        Posts slipped in per own post (each at a random position of the thread).
    n_buckets : int
        Threads are bucketed by hash; strangers come from the same bucket; ``group`` = bucket.
    labels : dict, optional
        ``{key: [off_topic label or None per post]}``: a post labelled off-topic keeps its 1,
        and is never used as a stranger's "real" counterpart.

    Returns
    -------
    DataFrame with ``text``, ``context``, ``off_topic``, ``group``, ``thread``, ``swapped``.
    """
    rng = np.random.default_rng(random_state)
    keys = [k for k in sorted(threads) if len(threads[k].get("posts", [])) >= min_posts]
    by_bucket: dict[int, list[str]] = {}
    for k in keys:
        by_bucket.setdefault(bucket_of(k, n_buckets), []).append(k)
    rows = []
    for k in keys:
        t, b = threads[k], bucket_of(k, n_buckets)
        own_labels = (labels or {}).get(k) or [None] * len(t["posts"])
        for i, post in enumerate(t["posts"]):
            y = own_labels[i] if own_labels[i] is not None else 0
            rows.append((post, _context(t, i), int(y), b, k, False))
        others = [o for o in by_bucket[b] if o != k]
        if not others:
            continue
        n_swap = int(strangers * len(t["posts"])) + int(rng.random() < (strangers * len(t["posts"])) % 1)
        for _ in range(n_swap):
            src = others[rng.integers(len(others))]
            src_posts = threads[src]["posts"]
            post = src_posts[rng.integers(len(src_posts))]
            rows.append((post, _context(t, int(rng.integers(len(t["posts"]) + 1))), 1, b, k, True))
    return pd.DataFrame(rows, columns=["text", "context", "off_topic", "group", "thread", "swapped"])


def threads_from_rows(
    rows: Iterable[dict], *, thread_key: str = "thread", title_key: str = "thread_title"
) -> tuple[dict[str, dict], dict[str, list]]:
    """Threads (and their posts' off_topic labels) from label rows / table rows in order."""
    threads: dict[str, dict] = {}
    labels: dict[str, list] = {}
    for r in rows:
        key = r.get(thread_key)
        if not key:
            continue
        t = threads.setdefault(key, {"title": r.get(title_key) or "", "articles": [], "posts": []})
        t["posts"].append(str(r.get("text") or ""))
        lab = (r.get("labels") or {}).get("off_topic") if isinstance(r.get("labels"), dict) else r.get("off_topic")
        labels.setdefault(key, []).append(None if lab is None or lab != lab else int(lab))
    return threads, labels


def threads_from_records(records: Iterable) -> dict[str, dict]:
    """Threads from extracted :class:`moderation.core.Comment` records (dumps)."""
    threads: dict[str, dict] = {}
    for rec in records:
        t = threads.setdefault(rec.thread, {"title": "", "articles": [], "posts": []})
        if rec.kind == "title":
            t["title"] = rec.text
        elif rec.kind == "article" and rec.text:
            t["articles"].append(rec.text)
        elif rec.kind == "comment" and rec.text and not rec.deleted:
            t["posts"].append(rec.text)
    return threads


class ThreadSample:
    """At most ``max_threads`` threads (the least recently seen dropped), each with its
    title, articles and first ``posts_per_thread`` posts: the input of :func:`thread_pairs`,
    gathered from a stream of records in bounded memory (``moderation adapt`` and
    ``moderation train --unlabeled``).

    Examples
    --------
    >>> from moderation.core import Comment
    >>> sample = ThreadSample(max_threads=10, posts_per_thread=5)
    >>> for i, text in enumerate(["在韓米軍の撤退", "撤退は早い", "同盟は続く"]):
    ...     sample.add(Comment(thread="t1", id=f"t1-{i}", no=i, kind="title" if i == 0 else "comment", text=text))
    >>> sample.threads["t1"]["title"], sample.threads["t1"]["posts"]
    ('在韓米軍の撤退', ['撤退は早い', '同盟は続く'])
    """

    def __init__(self, max_threads: int, posts_per_thread: int):
        self.max_threads, self.posts_per_thread = max_threads, posts_per_thread
        self.threads: OrderedDict[str, dict] = OrderedDict()

    def add(self, rec: Comment) -> None:
        t = self.threads.get(rec.thread)
        if t is None:
            t = self.threads[rec.thread] = {"title": "", "articles": [], "posts": []}
            if len(self.threads) > self.max_threads:
                self.threads.popitem(last=False)
        else:
            self.threads.move_to_end(rec.thread)
        if rec.kind == "title":
            t["title"] = rec.text
        elif is_tabular(rec) and not t["title"] and isinstance(rec.extra.get("thread_title"), str):
            t["title"] = rec.extra["thread_title"]  # comments already split carry it in a column
        elif rec.kind == "article":
            t["articles"] = [*t["articles"], rec.text][-2:]
        elif rec.kind == "comment" and rec.text.strip() and len(t["posts"]) < self.posts_per_thread:
            t["posts"].append(rec.text)
