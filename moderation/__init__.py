"""moderation: comment moderation and a toxicity classifier for web forums.

Extract posts from thread dumps, score them for slurs, off-topic posts and posts a
moderator would delete, and sit in front of a forum as a pre-moderation hook.
"""
__version__ = "0.1.0"
