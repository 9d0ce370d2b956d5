"""Training and evaluating a model from label files: what ``moderation train`` and
``moderation eval`` do, as library functions.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "model"
>>> manifest = train(["labels/seed.jsonl", "labels/authored.jsonl"], out, cv=2)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .context import titles_first
from .core import LABELS, SCORED_KINDS, TrainingError, Warn
from .io import extract
from .io.walk import walk
from .labels import load_training_data
from .ml.artifacts import check_output_dir, file_sha256, save_model
from .ml.calibration import ranking_metrics, threshold_metrics, threshold_to_json
from .ml.estimator import ModerationModel
from .ml.selfsup import ThreadSample, thread_pairs
from .moderator import Moderator


@dataclass
class TrainingResult:
    """A written model: its manifest, the training data summary and the fit time."""

    manifest: dict
    summary: dict
    seconds: float


def train(
    data: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    cv: int = 4,
    reject_precision: float = 0.9,
    unlabeled: Iterable[str | os.PathLike] = (),
    max_threads: int = 5000,
    posts_per_thread: int = 12,
    warn: Warn | None = None,
) -> TrainingResult:
    """Train on label files / tables and write a model directory atomically.

    ``unlabeled`` are thread dumps without labels (any format ``moderation extract`` reads):
    every comment in them teaches the views that learn from unlabeled text (the relevance
    view's term weights), and a bounded sample of their threads (``max_threads`` threads, the
    first ``posts_per_thread`` posts of each) adds self-supervised ``off_topic`` rows: each
    post in its own thread (0) and posts of other threads slipped in (1), cross-validated by
    thread bucket. Hand labels of ``off_topic`` in ``data`` train beside them.

    The output directory is checked before any training (a non-model directory is never
    replaced); bad data raises :class:`~moderation.core.TrainingError` and leaves no model.
    """
    check_output_dir(out)
    frame, summary = load_training_data(data, warn=warn)
    start = time.perf_counter()
    groups = None
    batches = None
    dumps = [str(p) for p in unlabeled]
    if dumps:
        frame, groups, summary = _with_thread_pairs(frame, summary, dumps, max_threads, posts_per_thread, warn)
        batches = _text_batches(dumps, warn)
    model = ModerationModel(cv=cv, reject_precision=reject_precision).fit(
        frame, frame, groups=groups, unlabeled=batches
    )
    manifest = save_model(model, out, training=summary)
    return TrainingResult(manifest, summary, time.perf_counter() - start)


def _records(dumps: list[str], warn: Warn | None):
    return titles_first(extract(dumps, warn=warn))


def _text_batches(dumps: list[str], warn: Warn | None, size: int = 5000):
    """The comments of the dumps, read again, in batches of ``size`` texts."""
    batch: list[str] = []
    for rec in _records(dumps, None):
        if rec.kind in SCORED_KINDS and not rec.deleted and rec.text.strip():
            batch.append(rec.text)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _with_thread_pairs(frame, summary: dict, dumps: list[str], max_threads: int, posts_per_thread: int, warn):
    """``frame`` plus self-supervised off_topic rows from the dumps' threads, their CV groups
    and the summary with the dumps (sha256, comments, threads, pairs)."""
    sample = ThreadSample(max_threads, posts_per_thread)
    comments = 0
    for rec in _records(dumps, warn):
        sample.add(rec)
        comments += rec.kind in SCORED_KINDS and not rec.deleted and bool(rec.text.strip())
    if not comments:
        raise TrainingError(f"no comments found in {', '.join(dumps)}; nothing to learn from")
    pairs = thread_pairs(sample.threads, strangers=1.0)
    if pairs.empty or pairs["group"].nunique() < 2:
        raise TrainingError(
            f"{', '.join(dumps)}: too few threads with two or more posts to learn off_topic from "
            f"({len(sample.threads)} threads); give more dumps or leave out --unlabeled"
        )
    rows = pd.DataFrame(
        {
            "id": [f"unlabeled-pair-{i}" for i in range(len(pairs))],
            "text": pairs["text"],
            "context": pairs["context"],
            **{label: np.nan for label in LABELS if label != "off_topic"},
            "off_topic": pairs["off_topic"].astype(float),
        }
    )
    groups = [None] * len(frame) + ["unlabeled-" + str(g) for g in pairs["group"]]
    frame = pd.concat([frame, rows], ignore_index=True)
    files = [{"path": str(f), "sha256": file_sha256(f)} for f in walk(dumps)]
    summary = {
        **summary,
        "rows": len(frame),
        "unlabeled": {
            "files": files,
            "comments": int(comments),
            "threads": len(sample.threads),
            "off_topic_pairs": len(rows),
        },
    }
    return frame, groups, summary


@dataclass
class Evaluation:
    """Per label, metrics at the model's thresholds; ``curves`` holds (y, p) for plotting."""

    results: dict
    summary: dict
    version: str | None
    curves: dict = field(default_factory=dict)


def evaluate(
    data: Iterable[str | os.PathLike], model: str | os.PathLike | None = None, *, warn: Warn | None = None
) -> Evaluation:
    """Score labelled comments with a model and measure it per label: ROC-AUC, average
    precision, and precision / recall / F1 at its ``hold`` and ``reject`` thresholds."""
    frame, summary = load_training_data(data, warn=warn)
    moderator = Moderator.load(model)
    scored = moderator.score(frame[["text", "context"]])
    results: dict[str, dict] = {}
    curves = {}
    for label in LABELS:
        known = frame[label].notna().to_numpy()
        p = scored[label].to_numpy()[known]
        if label not in moderator.thresholds or not known.any():
            results[label] = {
                "trained": label in moderator.thresholds,
                "reason": "no labelled examples" if not known.any() else "not in the model",
            }
            continue
        y = frame[label].to_numpy()[known].astype(int)
        th = moderator.thresholds[label]
        results[label] = {
            "trained": True,
            "hold": th["hold"],
            "reject": threshold_to_json(th["reject"]),
            "metrics": {
                "n": len(y),
                "positives": int(np.sum(y)),
                **ranking_metrics(y, p),
                "hold": threshold_metrics(y, p, th["hold"]),
                "reject": threshold_metrics(y, p, th["reject"]),
            },
        }
        curves[label] = (y, p)
    return Evaluation(results, summary, moderator.info["version"], curves)
