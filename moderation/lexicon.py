"""Deprecated location; moved to moderation.ml.lexicon."""
from .core import LexiconError  # noqa: F401
from .ml.lexicon import *  # noqa: F401,F403
from .ml.lexicon import CATEGORIES, ENTRY_KINDS, LANGS, Entry, Hit, Lexicon  # noqa: F401

KINDS = ENTRY_KINDS
