"""moderation: comment moderation and a toxicity classifier for web forums.

Extract posts from thread dumps, score them for slurs, off-topic posts and posts a
moderator would delete, and sit in front of a forum as a pre-moderation hook.

>>> from moderation import Moderator
>>> Moderator.load().review("いい試合だった").action
'allow'
"""

from .core import __version__

__all__ = ["Decision", "Moderator", "__version__", "extract"]


def __getattr__(name):
    # Imported on first use, so `moderation extract` does not pay for scikit-learn.
    if name == "Moderator":
        from .moderator import Moderator

        return Moderator
    if name == "Decision":
        from .core import Decision

        return Decision
    if name == "extract":
        from .io import extract

        return extract
    raise AttributeError(name)
