"""Deprecated location; moved to moderation.moderator."""
from .context import CONTEXT_CHARS, EARLIER_POSTS, thread_context  # noqa: F401
from .core import SCORED_KINDS, Decision  # noqa: F401
from .moderator import DEFAULT_MODEL_ENV, Moderator, default_model_path, score_records, summarize  # noqa: F401
