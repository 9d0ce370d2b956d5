"""Scoring: the one code path that the CLI, the labeling tool and the HTTP hook all use.

>>> from moderation import Moderator
>>> mod = Moderator.load()                                   # the shipped default model
>>> decision = mod.review("下朝鮮は黙ってろ", thread={"title": "在韓米軍の役割"})
>>> decision.action in ("hold", "reject"), "slur" in decision.labels
(True, True)

:meth:`Moderator.score` takes and returns pandas frames; :func:`score_records` streams
extracted records in chunks, so memory stays flat however large the input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .context import ThreadContexts, build_context, titles_first
from .core import LABELS, SCORED_KINDS, Comment, Decision, ModelError, Reason
from .io.board_text import CleanedText
from .ml.artifacts import load_model
from .ml.estimator import ModerationModel
from .policy import Decider, PolicyConfig

DEFAULT_MODEL_ENV = "MODERATION_MODEL"
#: Where an installed package finds its default model (``pip install`` puts it there).
INSTALLED_MODEL = Path("share") / "moderation" / "models" / "default"


def default_model_path() -> Path:
    """The default model directory.

    In order: ``$MODERATION_MODEL``; ``models/default`` of the source checkout this package
    runs from; ``<prefix>/share/moderation/models/default`` where ``pip install`` puts the
    shipped model (``<prefix>`` is the environment's, e.g. the virtualenv).
    """
    env = os.environ.get(DEFAULT_MODEL_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "models" / "default"
    if (checkout / "manifest.json").is_file():
        return checkout
    for prefix in (sysconfig.get_path("data"), sys.prefix, sys.base_prefix):
        installed = Path(prefix) / INSTALLED_MODEL
        if (installed / "manifest.json").is_file():
            return installed
    return checkout


class Moderator:
    """A loaded model with its thresholds: review one comment or score many.

    Parameters
    ----------
    model : ModerationModel
    manifest : dict
    thresholds : dict, optional
        Per-label ``{"hold": p, "reject": p}`` overriding the model's.
    policy : PolicyConfig, optional
        A forum's policy (threshold overrides, block and watch terms), applied after
        ``thresholds``.

    Attributes
    ----------
    decider : Decider
        The decision rule in force (thresholds, off-topic rule, terms).

    Examples
    --------
    >>> mod = Moderator.load()
    >>> frame = mod.score(pd.DataFrame({"text": ["いい試合だった", "ﾁｮﾝは帰れ"]}))
    >>> list(frame.columns[:4])
    ['text', 'slur', 'off_topic', 'delete']
    """

    def __init__(
        self,
        model: ModerationModel,
        manifest: dict,
        thresholds: dict | None = None,
        *,
        policy: PolicyConfig | None = None,
    ):
        self.model = model
        self.manifest = manifest
        self.policy = policy
        self.decider = Decider.from_policy({**model.thresholds(), **(thresholds or {})}, policy)

    @property
    def thresholds(self) -> dict[str, dict[str, float]]:
        """The thresholds in force: ``{label: {"hold": p, "reject": p}}``."""
        return self.decider.thresholds

    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        *,
        thresholds: dict | None = None,
        policy: PolicyConfig | None = None,
    ) -> Moderator:
        """Load and verify a model directory (the default model when ``path`` is None)."""
        path = Path(path) if path is not None else default_model_path()
        if not path.exists():
            hint = (
                "train one with 'moderation train labels/ --out models/default'"
                if path == default_model_path()
                else "check the path"
            )
            raise ModelError(f"{path}: no model there; {hint}")
        model, manifest = load_model(path)
        manifest = {**manifest, "path": str(path)}
        return cls(model, manifest, thresholds, policy=policy)

    @property
    def info(self) -> dict:
        """The model's version and the sha256 of its manifest (what answered a request)."""
        if not hasattr(self, "_info"):
            self._info = {"version": self.manifest.get("version"), "sha256": _manifest_digest(self.manifest)}
        return dict(self._info)

    # ----------------------------------------------------------------------- one comment
    def review(
        self, text: str, *, thread: dict | str | None = None, reply_to_text: str | None = None, explain: bool = True
    ) -> Decision:
        """Score one comment in its thread and decide: ``allow``, ``hold`` or ``reject``.

        ``thread`` is a dict with ``title`` and ``text`` (article, earlier posts), or a title.
        """
        if isinstance(thread, str):
            thread = {"title": thread}
        thread = thread or {}
        context = build_context(thread.get("title"), thread.get("text"), reply_to=reply_to_text)
        return self.decide_texts([text], [context.text], explain=explain)[0]

    def decide(self, frame: pd.DataFrame, *, explain: bool = True) -> list[Decision]:
        """Decisions for a frame with ``text`` and ``context`` columns (contexts as built by
        :mod:`moderation.context`). Texts are cleaned here (:func:`~moderation.io.board_text.clean_text`,
        the one normalisation of every entry point); reasons' spans are into the texts as given."""
        texts = [str(t) for t in frame["text"].tolist()]
        if "context" not in frame.columns:  # no context column: no comment is judged off-topic for lack of one
            return self.decide_texts(texts, [""] * len(texts), explain=explain, has_context=[True] * len(texts))
        return self.decide_texts(texts, frame["context"].fillna("").astype(str).tolist(), explain=explain)

    def decide_texts(
        self, texts: list[str], contexts: list[str], *, explain: bool = True, has_context: list[bool] | None = None
    ) -> list[Decision]:
        """:meth:`decide` on comments and their contexts given as lists (no DataFrame: one
        comment's review costs less than building one). ``has_context`` (default: a context
        that is not blank) says for which comments ``off_topic`` may decide."""
        cleaned = [CleanedText(t) for t in texts]
        texts = [c.text for c in cleaned]
        probs = self.model.proba(texts, contexts)
        if has_context is None:
            has_context = [bool(c.strip()) for c in contexts]
        actions, flagged = self.decider.decide(probs, has_context)
        columns = [np.round(probs[label], 6).tolist() for label in LABELS]
        info = self.info
        out = []
        for i, (action, labels) in enumerate(zip(actions, flagged)):
            scores = {label: (None if col[i] != col[i] else col[i]) for label, col in zip(LABELS, columns)}
            reasons: list[Reason] = []
            if explain:
                for label in labels:
                    reasons.extend(self.model.explain(texts[i], contexts[i], label))
            decision = Decision(action, scores, labels, reasons, info, context=contexts[i])
            out.append(_into_original(self.decider.apply_terms(decision, texts[i]), cleaned[i]))
        return out

    # ----------------------------------------------------------------------- frames
    def score(self, frame: pd.DataFrame, *, explain: bool = False) -> pd.DataFrame:
        """Add ``slur``, ``off_topic``, ``delete``, ``action`` and ``labels`` (and ``reasons``
        with ``explain``) to a frame with a ``text`` column; ``thread_title``/``thread_text``
        or ``context`` columns give the thread context. Other columns pass through."""
        if "text" not in frame.columns:
            raise ValueError("the frame has no 'text' column")
        if "context" in frame.columns:
            context = frame["context"].fillna("").astype(str).map(lambda c: build_context(None, c).text)
        else:
            context = pd.Series(
                [
                    build_context(t, x).text
                    for t, x in zip(
                        frame.get("thread_title", pd.Series([None] * len(frame))),
                        frame.get("thread_text", pd.Series([None] * len(frame))),
                    )
                ],
                index=frame.index,
            )
        feats = pd.DataFrame({"text": frame["text"].fillna("").astype(str).to_numpy(), "context": context.to_numpy()})
        return with_decisions(frame, self.decide(feats, explain=explain), explain)


def with_decisions(frame: pd.DataFrame, decisions: list[Decision], explain: bool) -> pd.DataFrame:
    """``frame`` with each row's decision as columns: the labels' scores (rounded as the CLI
    and the HTTP hook report them), ``action``, ``labels`` and, with ``explain``, ``reasons``."""
    out = frame.copy()
    for label in LABELS:
        out[label] = np.array([np.nan if d.scores[label] is None else d.scores[label] for d in decisions])
    out["action"] = [d.action for d in decisions]
    out["labels"] = [d.labels for d in decisions]
    if explain:
        out["reasons"] = [[r.to_dict() for r in d.reasons] for d in decisions]
    return out


def _into_original(decision: Decision, cleaned: CleanedText) -> Decision:
    """``decision`` with its reasons' spans and excerpts into the text as given, not as cleaned."""
    if not cleaned.changed or not decision.reasons:
        return decision
    reasons = []
    for reason in decision.reasons:
        a, b = cleaned.span(*reason.span)
        reasons.append(dataclasses.replace(reason, span=(a, b), excerpt=cleaned.original[a:b]))
    return dataclasses.replace(decision, reasons=reasons)


def _manifest_digest(manifest: dict) -> str:
    core = {k: v for k, v in manifest.items() if k != "path"}
    return hashlib.sha256(json.dumps(core, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------------- records, streamed

_WORKER_MODERATOR: Moderator | None = None  # set in the parent before the workers fork


def _decide_chunk(texts: list[str], contexts: list[str], explain: bool) -> list[Decision]:
    frame = pd.DataFrame({"text": texts, "context": contexts})
    assert _WORKER_MODERATOR is not None, "set by score_records before the workers fork"
    return _WORKER_MODERATOR.decide(frame, explain=explain)


def score_records(
    moderator: Moderator,
    records: Iterable[Comment],
    *,
    explain: bool = False,
    chunk_size: int = 2000,
    jobs: int = 1,
    skipped: Callable[[str], None] | None = None,
    with_context: bool = False,
) -> Iterator[dict]:
    """Score the ``comment`` and ``article`` records of a stream, in chunks; one output row each.

    Deleted posts, titles and page furniture are not scored (they still give thread
    context); a comment with no text is reported through ``skipped``. With ``jobs`` > 1,
    chunks are scored in that many forked worker processes (the model is shared with
    them, not copied) while this process reads, builds contexts and writes; rows keep
    their input order and at most ``2 * jobs`` chunks are in flight, so memory stays flat.
    ``with_context`` adds each comment's thread context (as the model read it) to its row.
    """
    contexts = ThreadContexts()

    def chunks() -> Iterator[list[tuple[Comment, str]]]:
        chunk: list[tuple[Comment, str]] = []
        for rec in titles_first(records):
            if rec.kind not in SCORED_KINDS or rec.deleted:
                contexts.add(rec)
                continue
            if not rec.text.strip():
                if skipped:
                    skipped(f"{rec.source}: comment {rec.id} has no text; not scored")
                continue
            chunk.append((rec, contexts.for_record(rec).text))
            contexts.add(rec)
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def rows(chunk, decisions) -> Iterator[dict]:
        for (rec, ctx), decision in zip(chunk, decisions):
            row = {
                "id": rec.id,
                "thread": rec.thread,
                "no": rec.no,
                "kind": rec.kind,
                "text": rec.text,
                **decision.scores,
                "action": decision.action,
                "labels": decision.labels,
            }
            if explain:
                row["reasons"] = [r.to_dict() for r in decision.reasons]
            if with_context:
                row["context"] = ctx
            for key, value in rec.extra.items():
                row.setdefault(key, value)
            row["source"] = rec.source
            yield row

    if jobs <= 1:
        for chunk in chunks():
            frame = pd.DataFrame({"text": [c.text for c, _ in chunk], "context": [ctx for _, ctx in chunk]})
            yield from rows(chunk, moderator.decide(frame, explain=explain))
        return

    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _WORKER_MODERATOR
    _WORKER_MODERATOR = moderator
    moderator.model.scorer()  # laid out once here: the forked workers share its pages
    pending: collections.deque = collections.deque()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            for chunk in chunks():
                pending.append(
                    (chunk, pool.submit(_decide_chunk, [c.text for c, _ in chunk], [ctx for _, ctx in chunk], explain))
                )
                while len(pending) > 2 * jobs:
                    done_chunk, future = pending.popleft()
                    yield from rows(done_chunk, future.result())
            while pending:
                done_chunk, future = pending.popleft()
                yield from rows(done_chunk, future.result())
        finally:
            for _chunk, future in pending:
                future.cancel()


def summarize(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Comments by action, per thread."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = out.setdefault(row["thread"], {"allow": 0, "hold": 0, "reject": 0})
        counts[row["action"]] += 1
    return out
