"""The pre-moderation hook: an HTTP service a forum calls before it publishes a post.

``moderation serve`` answers, in milliseconds and on the forum's own machine, whether to
publish a post (``allow``), hold it for a moderator (``hold``) or refuse it (``reject``),
with the spans that led to the decision:

- ``POST /v1/review``: one comment in its thread, scored by :meth:`Moderator.review`.
- ``POST /v1/review:batch``: up to :data:`~moderation.apps.serve.schemas.MAX_BATCH_ITEMS`
  comments in one vectorised pass (:meth:`Moderator.decide`), answered in order.
- ``POST /v1/feedback``: a moderator's decision, appended durably (fsync before the 200)
  to a label file in the labeling tool's format, so the next ``moderation train`` learns it.
- ``GET /healthz``, ``GET /v1/model`` (the model's manifest) and ``GET /openapi.json``.

A forum's policy lives in a TOML file (:func:`moderation.policy.load_policy`): per-label
thresholds that override the model's, ``block`` terms (reject) and ``watch`` terms (hold)
matched on the normalised, obfuscation-folded text the way the lexicon is, and what to do
when the model is missing. No endpoint reads a file or loads a model from a path a client
sends: every path comes from the command line, before the server starts.

- :mod:`~moderation.apps.serve.schemas`: the request and response bodies (pydantic);
- :mod:`~moderation.apps.serve.app`: :func:`create_app`, the routes, middleware and error bodies;
- :mod:`~moderation.apps.serve.server`: the checks before starting, and :func:`serve`;
- :mod:`~moderation.apps.serve.workers`: the listening socket and the pre-forked workers.

The names below are imported on first use, so importing this package stays cheap.

Examples
--------
>>> from fastapi.testclient import TestClient
>>> from moderation.moderator import Moderator
>>> from moderation.policy import PolicyConfig
>>> policy = PolicyConfig()
>>> app = create_app(Moderator.load(policy=policy), policy, "labels/feedback.jsonl", None)
>>> TestClient(app).post("/v1/review", json={"text": "いい試合だった"}).json()["action"]
'allow'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"create_app": "app", "build": "server", "serve": "server", "DEFAULT_FEEDBACK": "server"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
