"""Deprecated location; moved to moderation.ml.text (and the context builder to moderation.context)."""
from .context import CONTEXT_CHARS, EARLIER_POSTS, thread_context  # noqa: F401
from .ml.text import *  # noqa: F401,F403
from .ml.text import WILDCARD, View, fold, fold_text, normalize, normalize_text  # noqa: F401
