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

from .core import LABELS, Warn
from .labels import load_training_data
from .ml.artifacts import check_output_dir, save_model
from .ml.calibration import ranking_metrics, threshold_metrics, threshold_to_json
from .ml.estimator import ModerationModel
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
    warn: Warn | None = None,
) -> TrainingResult:
    """Train on label files / tables and write a model directory atomically.

    The output directory is checked before any training (a non-model directory is never
    replaced); bad data raises :class:`~moderation.core.TrainingError` and leaves no model.
    """
    check_output_dir(out)
    frame, summary = load_training_data(data, warn=warn)
    start = time.perf_counter()
    model = ModerationModel(cv=cv, reject_precision=reject_precision).fit(frame, frame)
    manifest = save_model(model, out, training=summary)
    return TrainingResult(manifest, summary, time.perf_counter() - start)


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
