"""Off-topic evaluation on real threads (issue 11): does ``off_topic`` depend on the thread?

Two cross-thread tests, both built with the production context builder
(:func:`moderation.context.build_context`: title + articles + up to 8 earlier posts):

(a) **Korean news comments** (``/work/shared/data/ko-hate-speech``, CC BY-SA 4.0, read at run
    time, never copied): comments sharing a ``news_title`` form a thread. Only the *test*
    threads are used (``thread_split(title) == "test"``: a hash of the title, ~20 %), so a model
    trained on the other threads is measured on threads it never saw. Every comment of a test
    thread is scored in its own context (title + the thread's earlier comments); for each
    thread, ``--strangers`` comments of other test threads are slipped in at random positions
    (scored with the context at that position). Reports ROC-AUC (stranger vs own) and the share
    of own comments flagged (off_topic >= the model's hold threshold), and the same for the
    reject threshold.
(b) **Japanese boards**: the project's fixtures (``tests/fixtures/{scrape,dat,html}``, the
    Shift_JIS copy of a dat skipped) and the seed, as ``moderation.recipe.japanese_threads`` reads them.
    Each thread's own comments vs comments of the other threads slipped in. Reports the pooled
    ROC-AUC and the seed-only ROC-AUC (the issue's figure), and whether the seed's Korean reply
    is held/rejected.

Usage::

    PYTHONPATH=. python benchmarks/offtopic_eval.py [--model models/default] [--strangers 2]

A model is anything with ``off_topic_proba(texts, contexts)`` and ``hold`` / ``reject``
thresholds; :class:`ModeratorScorer` adapts a model directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from moderation.context import build_context
from moderation.io.board_text import clean_text
from moderation.recipe import japanese_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KO_DIR = os.environ.get("KO_HATE_DIR", os.path.join(os.path.dirname(ROOT), "shared", "data", "ko-hate-speech"))
SEED_REPLY = "그건 너의 생각일뿐이다."


def thread_split(key: str, test_share: int = 20) -> str:
    """'test' for ~test_share % of thread keys (by md5), else 'train'."""
    h = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if h < test_share else "train"


# --------------------------------------------------------------------------- threads


def korean_threads(split: str | None = None) -> dict[str, dict]:
    """``{thread key: {"title", "posts": [str]}}`` from ko-hate-speech train+dev, grouped by
    news_title, in file order; ``split`` keeps only 'train' or 'test' threads."""
    frames = [pd.read_csv(os.path.join(KO_DIR, f)) for f in ("train.csv", "dev.csv")]
    df = pd.concat(frames, ignore_index=True)
    out: dict[str, dict] = {}
    df = df[df["news_title"].notna() & df["text"].notna()]
    for title, text in zip(df["news_title"].astype(str), df["text"].astype(str)):
        if split and thread_split(title) != split:
            continue
        t = out.setdefault(title, {"title": title, "articles": [], "posts": []})
        t["posts"].append(clean_text(text))
    return out


def context_at(thread: dict, i: int) -> str:
    """The context a post at position ``i`` of ``thread`` gets (production builder)."""
    return build_context(thread["title"], articles=thread["articles"], posts=thread["posts"][:i]).text


def cross_thread_pairs(threads: dict[str, dict], strangers: int = 2, seed: int = 0) -> pd.DataFrame:
    """Own comments (y=0) and comments slipped in from other threads (y=1), with contexts.

    Columns: ``thread``, ``text``, ``context``, ``y``, ``source_thread``.
    """
    rng = np.random.default_rng(seed)
    keys = sorted(threads)
    rows = []
    for key in keys:
        t = threads[key]
        for i, post in enumerate(t["posts"]):
            rows.append((key, post, context_at(t, i), 0, key))
        others = [k for k in keys if k != key and threads[k]["posts"]]
        for _ in range(strangers if others else 0):
            src = others[rng.integers(len(others))]
            post = threads[src]["posts"][rng.integers(len(threads[src]["posts"]))]
            i = int(rng.integers(len(t["posts"]) + 1))
            rows.append((key, post, context_at(t, i), 1, src))
    return pd.DataFrame(rows, columns=["thread", "text", "context", "y", "source_thread"])


# --------------------------------------------------------------------------- models


class ModeratorScorer:
    """A model directory as an off_topic scorer (the code path ``moderation score`` uses)."""

    def __init__(self, path: str):
        from moderation.moderator import Moderator

        self.moderator = Moderator.load(path)
        th = self.moderator.thresholds["off_topic"]
        self.hold, self.reject = th["hold"], th["reject"]
        self.name = path

    def off_topic_proba(self, texts, contexts) -> np.ndarray:
        frame = pd.DataFrame({"text": list(texts), "context": list(contexts)})
        return self.moderator.model.predict_proba(frame)["off_topic"].to_numpy()


def measure(scorer, pairs: pd.DataFrame) -> dict:
    p = scorer.off_topic_proba(pairs["text"], pairs["context"])
    y = pairs["y"].to_numpy()
    own = y == 0
    reject = scorer.reject if scorer.reject is not None else float("inf")
    return {
        "n_own": int(own.sum()),
        "n_strangers": int((~own).sum()),
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "own_flagged": round(float((p[own] >= scorer.hold).mean()), 4),
        "own_rejected": round(float((p[own] >= reject).mean()), 4),
        "strangers_flagged": round(float((p[~own] >= scorer.hold).mean()), 4),
        "strangers_rejected": round(float((p[~own] >= reject).mean()), 4),
    }, p


def run(scorer, strangers: int = 2, seed: int = 0) -> dict:
    out = {"model": getattr(scorer, "name", "?"), "hold": scorer.hold, "reject": scorer.reject}
    ko = cross_thread_pairs(korean_threads("test"), strangers, seed)
    out["korean_test_threads"], _ = measure(scorer, ko)
    out["korean_test_threads"]["threads"] = int(ko["thread"].nunique())
    ja_threads = japanese_threads()
    ja = cross_thread_pairs(ja_threads, strangers=10, seed=seed)
    out["japanese_fixtures"], _ = measure(scorer, ja)
    seed_key = next(k for k in ja_threads if k.startswith("000_"))
    # The figure: every post of every other thread slipped into the seed thread.
    seed_thread = ja_threads[seed_key]
    rng = np.random.default_rng(seed)
    own = [(p_, context_at(seed_thread, i), 0) for i, p_ in enumerate(seed_thread["posts"])]
    strangers_all = [
        (p_, context_at(seed_thread, int(rng.integers(len(seed_thread["posts"]) + 1))), 1)
        for k, t in ja_threads.items()
        if k != seed_key
        for p_ in t["posts"]
    ]
    seed_pairs = pd.DataFrame(own + strangers_all, columns=["text", "context", "y"])
    out["japanese_seed_thread"], _ = measure(scorer, seed_pairs)
    i = next(i for i, p_ in enumerate(seed_thread["posts"]) if SEED_REPLY in p_)
    p_reply = float(scorer.off_topic_proba([SEED_REPLY], [context_at(seed_thread, i)])[0])
    out["seed_korean_reply"] = {
        "off_topic": round(p_reply, 4),
        "held": p_reply >= scorer.hold,
        "rejected": scorer.reject is not None and p_reply >= scorer.reject,
    }
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models/default"))
    ap.add_argument("--strangers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    result = run(ModeratorScorer(args.model), args.strangers, args.seed)
    result["seconds"] = round(time.perf_counter() - start, 1)
    json.dump(result, sys.stdout, indent=1, ensure_ascii=False, default=str)
    print()


if __name__ == "__main__":
    main()
