"""Deprecated location; moved to moderation.apps.serve (the command to moderation.apps.cli.serve,
the policy to moderation.policy). Re-exports the names other code still imports from here."""

from .apps.cli.serve import serve_cmd  # noqa: F401
from .apps.serve.server import DEFAULT_FEEDBACK, build, check_feedback_path, load_moderator, read_token  # noqa: F401
from .core import PolicyError as ServeError  # noqa: F401

_LAZY = {
    "create_app": "apps.serve.app",
    "MAX_BODY_BYTES": "apps.serve.app",
    "MAX_BATCH_BODY_BYTES": "apps.serve.app",
    "MAX_TEXT_CHARS": "apps.serve.schemas",
    "MAX_BATCH_ITEMS": "apps.serve.schemas",
    "MAX_NAME_CHARS": "apps.serve.schemas",
    "load_policy": "policy",
    "parse_policy": "policy",
    "MISSING_MODEL_CHOICES": "policy",
}


def __getattr__(name: str):
    # FastAPI and the policy's matchers load on first use only, as before.
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__package__}.{_LAZY[name]}"), name)
