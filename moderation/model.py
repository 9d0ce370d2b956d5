"""Deprecated location; moved to moderation.ml (estimator, calibration, explain, artifacts)."""
from .core import ACTIONS, LABELS, ModelError, Reason, TrainingError  # noqa: F401
from .ml.artifacts import (ARTIFACTS, MODEL_FORMAT, check_output_dir, load_model, read_manifest,  # noqa: F401
                           save_model, verify_model_dir)
from .ml.calibration import choose_thresholds, ranking_metrics, threshold_metrics  # noqa: F401
from .ml.estimator import LabelModel, ModerationModel  # noqa: F401
