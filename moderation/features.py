"""Deprecated location; moved to moderation.ml.features."""
from .ml.features import *  # noqa: F401,F403
from .ml.features import ThreadFeatures

ThreadContext = ThreadFeatures  # the old name, for pickles of older models
