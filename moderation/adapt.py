"""``moderation adapt``: fit a trained model to one forum from its own unlabeled thread dumps.

Two streaming passes over the dumps (any format :func:`moderation.io.extract` reads), in
flat memory:

1. **Read.** Every comment is added to the term weights of the feature views that learn
   from unlabeled text (their ``partial_fit``: the relevance view's document frequencies), and
   a bounded sample of threads (``max_threads`` threads, their first ``posts_per_thread``
   posts) is kept.
2. **Re-learn ``off_topic``** from the sampled threads, self-supervised: each thread's own
   posts are on topic, posts of other threads slipped in are off topic
   (:func:`moderation.ml.selfsup.thread_pairs`), calibrated on out-of-fold scores grouped by
   thread bucket.
3. **Recalibrate.** The adapted model scores every comment in its thread context
   (:func:`moderation.moderator.score_records`, the same path as ``moderation score``); on a
   uniform sample of those scores the thresholds are set so that the shares of posts held and
   rejected meet ``max_hold_rate`` and ``max_reject_rate`` (:func:`moderation.ml.adapt.rate_thresholds`):
   ``reject`` is never set below the labelled data's threshold, and ``off_topic`` never rejects.

The new model directory is written atomically; its manifest records what it was adapted on
(files, sha256, counts) and the rates measured.

Examples
--------
>>> result = adapt(["seeds/"], out="/tmp/adapted-example", max_hold_rate=0.1)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .context import titles_first
from .core import LABELS, SCORED_KINDS, Comment, ModerationError, Warn
from .io import extract
from .io.walk import walk
from .ml.adapt import ScoreSample, action_rates, rate_thresholds, refit_label
from .ml.artifacts import check_output_dir, file_sha256, save_model
from .ml.calibration import threshold_to_json
from .ml.selfsup import ThreadSample, thread_pairs
from .moderator import Moderator, score_records

#: Defaults of ``--max-hold-rate`` / ``--max-reject-rate``: shares of all posts.
DEFAULT_HOLD_RATE = 0.08
DEFAULT_REJECT_RATE = 0.02


@dataclass
class AdaptResult:
    """What ``adapt`` wrote: the manifest, the measured rates and timings."""

    manifest: dict
    comments: int
    threads_sampled: int
    rates: dict
    off_topic: dict = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)


#: From this many comments on, off_topic learns from half of the threads and the thresholds
#: are set on the other half (below it, everything serves both, and the rates are optimistic).
MIN_SPLIT_COMMENTS = 2000


def _half(key: str) -> int:
    return int(hashlib.md5(f"adapt-split:{key}".encode()).hexdigest()[:8], 16) % 2


def _at_most(threads: dict[str, dict], posts: int) -> dict[str, dict]:
    """Whole threads, in a fixed pseudo-random order, until about ``posts`` posts: the
    off-topic refit costs time in proportion to its pairs, and a few thousand threads' worth
    teach it what this forum's threads look like."""
    out: dict[str, dict] = {}
    total = 0
    for key in sorted(threads, key=lambda k: hashlib.md5(k.encode("utf-8")).hexdigest()):
        if total >= posts:
            break
        out[key] = threads[key]
        total += len(threads[key]["posts"])
    return out


def _records(paths: list[str], input_format: str, encoding: str | None, warn: Warn | None) -> Iterator[Comment]:
    return titles_first(extract(paths, input_format=input_format, encoding=encoding, warn=warn))


def adapt(
    dumps: Iterable[str | os.PathLike],
    *,
    out: str | os.PathLike,
    model: str | os.PathLike | None = None,
    max_hold_rate: float = DEFAULT_HOLD_RATE,
    max_reject_rate: float = DEFAULT_REJECT_RATE,
    input_format: str = "auto",
    encoding: str | None = None,
    warn: Warn | None = None,
    progress: Callable[[int], None] | None = None,
    max_threads: int = 5000,
    posts_per_thread: int = 12,
    sample_size: int = 500_000,
    max_pairs: int = 12_000,
    jobs: int = 1,
    random_state: int = 0,
) -> AdaptResult:
    """Adapt ``model`` (default: the default model) to the forum whose dumps are ``dumps``
    and write the result to ``out``.

    Raises
    ------
    ModerationError
        A rate outside 0–1, ``out`` naming the input model, a dump that can't be read, or no
        comments found; nothing is written then.
    """
    start = time.perf_counter()
    for name, rate in (("max-hold-rate", max_hold_rate), ("max-reject-rate", max_reject_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ModerationError(f"--{name} must be a share from 0 to 1, not {rate}")
    moderator = Moderator.load(model)
    source = Path(moderator.manifest["path"]).resolve()
    target = check_output_dir(out)
    if target == source:
        raise ModerationError(f"{out}: is the model being adapted; write the adapted model to a new directory")
    paths = [str(p) for p in dumps]
    files = walk(paths)  # raises a one-line ExtractError for a path that does not exist

    # Pass 1: term weights and a sample of threads.
    learners = [t for _name, t in moderator.model.featurizer_.transformer_list if hasattr(t, "partial_fit")]
    sample = ThreadSample(max_threads, posts_per_thread)
    batch: list[str] = []
    comments = 0
    for rec in _records(paths, input_format, encoding, warn):
        sample.add(rec)
        if rec.kind in SCORED_KINDS and not rec.deleted and rec.text.strip():
            comments += 1
            batch.append(rec.text)
            if len(batch) >= 5000:
                for learner in learners:
                    learner.partial_fit(batch)
                batch = []
                if progress:
                    progress(comments)
    if batch:
        for learner in learners:
            learner.partial_fit(batch)
    if not comments:
        raise ModerationError(f"no comments found in {', '.join(paths)}; nothing to adapt to")

    timings = {"read": time.perf_counter() - start}
    # Re-learn off_topic from the forum's own threads.
    off_topic: dict = {}
    labelled = {label: dict(t) for label, t in moderator.model.thresholds().items()}
    # Thresholds must be set on posts the refitted classifier did not learn from: when the
    # dumps are large enough, half of the threads (by hash) teach off_topic and the other
    # half's posts calibrate the thresholds.
    sampled_posts = sum(len(t["posts"]) for t in sample.threads.values())
    split = comments >= MIN_SPLIT_COMMENTS and sampled_posts >= MIN_SPLIT_COMMENTS
    teaching = {k: t for k, t in sample.threads.items() if not split or _half(k) == 0}
    teaching = _at_most(teaching, max_pairs // 2)
    pairs = thread_pairs(teaching, strangers=1.0, n_buckets=4, random_state=random_state)
    if "off_topic" in moderator.model.labels_ and len(pairs) and pairs["group"].nunique() >= 2:
        off_topic = refit_label(moderator.model, "off_topic", pairs)
        labelled["off_topic"] = {"hold": off_topic["hold"], "reject": labelled["off_topic"]["reject"]}
    elif warn:
        warn("too few threads with two or more posts to re-learn off_topic; kept the model's")

    timings["off_topic"] = time.perf_counter() - start - timings["read"]
    # Pass 2: score the traffic with the adapted model and set thresholds for the asked rates.
    scorer = Moderator(moderator.model, moderator.manifest)
    scores = ScoreSample(LABELS, capacity=sample_size, random_state=random_state)
    chunk: list[dict] = []
    for row in score_records(
        scorer, extract(paths, input_format=input_format, encoding=encoding), jobs=jobs, with_context=True
    ):
        if split and row["thread"] in teaching:
            continue
        chunk.append(row)
        if len(chunk) >= 5000:
            _add_scores(scores, chunk)
            chunk = []
    _add_scores(scores, chunk)
    sampled, has_context = scores.scores(), scores.has_context()
    thresholds = rate_thresholds(
        {k: v for k, v in sampled.items() if k in labelled},
        labelled,
        hold_rate=max_hold_rate,
        reject_rate=max_reject_rate,
        has_context=has_context,
    )
    for label, th in thresholds.items():
        moderator.model.labels_[label].hold = round(float(th["hold"]), 6)
        moderator.model.labels_[label].reject = th["reject"] if th["reject"] > 1 else round(float(th["reject"]), 6)
    rates = action_rates(sampled, thresholds, has_context)
    timings["score"] = time.perf_counter() - start - timings["read"] - timings["off_topic"]

    adaptation = {
        "from_model": {"version": moderator.manifest.get("version"), "path": str(source)},
        "files": [{"path": str(f), "sha256": file_sha256(f)} for f in files],
        "comments": comments,
        "threads_sampled": len(sample.threads),
        "off_topic_pairs": len(pairs),
        "asked": {"max_hold_rate": max_hold_rate, "max_reject_rate": max_reject_rate},
        "measured": {k: round(v, 4) for k, v in rates.items()},
        "scores_sampled": len(has_context),
        "thresholds_set_on": "threads off_topic did not learn from" if split else "all threads",
        "thresholds": {label: {k: threshold_to_json(v) for k, v in th.items()} for label, th in thresholds.items()},
    }
    training = {**moderator.manifest.get("training_data", {}), "adapted": adaptation}
    manifest = save_model(moderator.model, out, training=training)
    timings = {k: round(v, 1) for k, v in timings.items()}
    return AdaptResult(manifest, comments, len(sample.threads), rates, off_topic, time.perf_counter() - start, timings)


def _add_scores(sample: ScoreSample, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    scores = {label: frame[label].astype(float).to_numpy() for label in LABELS}
    sample.add(scores, frame["context"].fillna("").astype(str).str.strip().ne("").to_numpy(dtype=bool))
