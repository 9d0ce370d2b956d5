"""Ground truth: label files, the training tables built from them, and annotator agreement.

- :mod:`moderation.labels.events`: reading label files, appending events durably (one
  write under a lock, then fsync), and resolving each comment's label (each annotator's
  latest, then the majority).
- :mod:`moderation.labels.training`: :func:`load_training_data`, the training table of label
  files, labelled tables and the ja-toxicity-inspection subset.
- :mod:`moderation.labels.agreement`: counts, Cohen's kappa and Krippendorff's alpha.
- :mod:`moderation.labels.export`: one resolved row per comment, for ``moderation train``.

The names of :mod:`~moderation.labels.training` are loaded on first use (it needs pandas),
so reading and appending label files stays cheap to import.

Examples
--------
>>> from moderation.labels import resolve
>>> resolve([{"id": "a", "text": "x", "labels": {"slur": 1}, "annotator": "m1"}])[0]["labels"]
{'slur': 1}
"""

from __future__ import annotations

from typing import Any

from ..core import LABELS, LabelFileError, TrainingError  # noqa: F401  (the names moderation.labels had)
from .agreement import cohen_kappa, krippendorff_alpha, label_stats  # noqa: F401
from .events import (  # noqa: F401
    append_events,
    check_label_file,
    is_label_file,
    label_event,
    labels_text,
    latest_by_annotator,
    read_events,
    read_label_files,
    resolve,
    undo_event,
)
from .export import EXPORT_COLUMNS, export_rows, write_export  # noqa: F401

_TRAINING = ("load_training_data", "training_files", "label_file_rows", "LABEL_FILE_SUFFIXES", "JA_TOXICITY_COLUMNS")


def __getattr__(name: str) -> Any:
    if name in _TRAINING:
        from . import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
