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

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .extract import Comment, clean_text
from .model import LABELS, ModelError, ModerationModel, Reason, load_model
from .text import CONTEXT_CHARS, EARLIER_POSTS, thread_context  # noqa: F401  (thread_context is public here too)

DEFAULT_MODEL_ENV = "MODERATION_MODEL"
# Pasted articles are scored too: a moderator wants to know that they are fine to keep.
SCORED_KINDS = ("comment", "article")


def default_model_path() -> Path:
    """``$MODERATION_MODEL``, else ``models/default`` of the project checkout."""
    env = os.environ.get(DEFAULT_MODEL_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models" / "default"


@dataclass
class Decision:
    """What to do with one comment, and why."""

    action: str
    scores: dict
    labels: list
    reasons: list = field(default_factory=list)
    model: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"action": self.action, "scores": self.scores, "labels": self.labels,
                "reasons": [r.to_dict() for r in self.reasons], "model": self.model}


class Moderator:
    """A loaded model with its thresholds: review one comment or score many.

    Parameters
    ----------
    model : ModerationModel
    manifest : dict
    thresholds : dict, optional
        Per-label ``{"hold": p, "reject": p}`` overriding the model's (a forum's policy).

    Examples
    --------
    >>> mod = Moderator.load()
    >>> frame = mod.score(pd.DataFrame({"text": ["いい試合だった", "ﾁｮﾝは帰れ"]}))
    >>> list(frame.columns[:4])
    ['text', 'slur', 'off_topic', 'delete']
    """

    def __init__(self, model: ModerationModel, manifest: dict, thresholds: dict | None = None):
        self.model = model
        self.manifest = manifest
        self.thresholds = {**model.thresholds(), **(thresholds or {})}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, thresholds: dict | None = None) -> "Moderator":
        """Load and verify a model directory (the default model when ``path`` is None)."""
        path = Path(path) if path is not None else default_model_path()
        if not path.exists():
            hint = ("train one with 'moderation train labels/ --out models/default'" if path == default_model_path()
                    else "check the path")
            raise ModelError(f"{path}: no model there; {hint}")
        model, manifest = load_model(path)
        manifest = {**manifest, "path": str(path)}
        return cls(model, manifest, thresholds)

    @property
    def info(self) -> dict:
        """The model's version and the sha256 of its manifest (what answered a request)."""
        if not hasattr(self, "_info"):
            self._info = {"version": self.manifest.get("version"), "sha256": _manifest_digest(self.manifest)}
        return dict(self._info)

    # ----------------------------------------------------------------------- one comment
    def review(self, text: str, *, thread: dict | str | None = None, reply_to_text: str | None = None,
               explain: bool = True) -> Decision:
        """Score one comment in its thread and decide: ``allow``, ``hold`` or ``reject``.

        ``thread`` is a dict with ``title`` and ``text`` (article, earlier posts), or a title.
        """
        if isinstance(thread, str):
            thread = {"title": thread}
        thread = thread or {}
        text = clean_text(text)
        context = thread_context(thread.get("title"), "\n".join(
            p for p in (reply_to_text, thread.get("text")) if isinstance(p, str) and p))
        frame = pd.DataFrame({"text": [text], "context": [context]})
        return self.decide(frame, explain=explain)[0]

    def decide(self, frame: pd.DataFrame, *, explain: bool = True) -> list[Decision]:
        """Decisions for a frame with ``text`` and ``context`` columns."""
        probs = self.model.predict_proba(frame)
        actions, flagged = self.model.actions(probs, self.thresholds, _has_context(frame))
        columns = [probs[label].to_numpy().round(6).tolist() for label in LABELS]
        info = self.info
        out = []
        for i, (action, labels) in enumerate(zip(actions, flagged)):
            scores = {label: (None if col[i] != col[i] else col[i]) for label, col in zip(LABELS, columns)}
            reasons: list[Reason] = []
            if explain:
                for label in labels:
                    reasons.extend(self.model.explain(frame["text"].iloc[i], frame["context"].iloc[i], label))
            out.append(Decision(action, scores, labels, reasons, info))
        return out

    # ----------------------------------------------------------------------- frames
    def score(self, frame: pd.DataFrame, *, explain: bool = False) -> pd.DataFrame:
        """Add ``slur``, ``off_topic``, ``delete``, ``action`` and ``labels`` (and ``reasons``
        with ``explain``) to a frame with a ``text`` column; ``thread_title``/``thread_text``
        or ``context`` columns give the thread context. Other columns pass through."""
        if "text" not in frame.columns:
            raise ValueError("the frame has no 'text' column")
        if "context" in frame.columns:
            context = frame["context"].fillna("").astype(str).map(lambda c: thread_context(None, c))
        else:
            context = pd.Series([thread_context(t, x) for t, x in zip(
                frame.get("thread_title", pd.Series([None] * len(frame))),
                frame.get("thread_text", pd.Series([None] * len(frame))))], index=frame.index)
        feats = pd.DataFrame({"text": frame["text"].fillna("").astype(str).map(clean_text).to_numpy(),
                              "context": context.to_numpy()})
        probs = self.model.predict_proba(feats)
        actions, flagged = self.model.actions(probs, self.thresholds, _has_context(feats))
        out = frame.copy()
        for label in LABELS:
            out[label] = probs[label].to_numpy().round(6)  # as the CLI and the HTTP hook report them
        out["action"] = actions
        out["labels"] = flagged
        if explain:
            out["reasons"] = [
                [r.to_dict() for label in labels for r in self.model.explain(t, c, label)]
                for t, c, labels in zip(feats["text"], feats["context"], flagged)]
        return out


def _has_context(frame: pd.DataFrame):
    if "context" not in frame.columns:
        return None
    return frame["context"].fillna("").astype(str).str.strip().ne("").to_numpy()


def _manifest_digest(manifest: dict) -> str:
    import hashlib
    import json

    core = {k: v for k, v in manifest.items() if k != "path"}
    return hashlib.sha256(json.dumps(core, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------------- records, streamed

class _ThreadContexts:
    """Per thread: title, articles and the latest posts, for the posts that follow.
    Bounded (least recently used threads are forgotten) so memory stays flat."""

    def __init__(self, max_threads: int = 5000):
        self.threads: OrderedDict[str, dict] = OrderedDict()
        self.max_threads = max_threads

    def get(self, thread: str) -> dict:
        state = self.threads.get(thread)
        if state is None:
            state = {"title": None, "articles": [], "posts": []}
            self.threads[thread] = state
            if len(self.threads) > self.max_threads:
                self.threads.popitem(last=False)
        else:
            self.threads.move_to_end(thread)
        return state

    def context_for(self, rec: Comment) -> str:
        if _tabular(rec):
            # Comments already split carry their context in columns, as an API caller would.
            return thread_context(rec.extra.get("thread_title"), rec.extra.get("thread_text"))
        state = self.get(rec.thread)
        text_parts = list(state["articles"]) + list(state["posts"][-EARLIER_POSTS:])
        return thread_context(state["title"], "\n".join(text_parts))

    def add(self, rec: Comment) -> None:
        if _tabular(rec):
            return
        state = self.get(rec.thread)
        if rec.kind == "title":
            state["title"] = rec.text
        elif rec.kind == "article":
            state["articles"].append(rec.text[:CONTEXT_CHARS])
            del state["articles"][:-2]
        elif rec.kind == "comment" and rec.text:
            state["posts"].append(rec.text[:500])
            del state["posts"][:-EARLIER_POSTS]


def _tabular(rec: Comment) -> bool:
    """Comments that came already split (CSV/JSONL) carry their own context in columns."""
    if rec.source_format:
        return rec.source_format in ("csv", "jsonl")
    return rec.source.lower().endswith((".csv", ".tsv", ".jsonl", ".ndjson"))


def _with_titles(records: Iterable[Comment]) -> Iterator[Comment]:
    """Scraped pages put the thread title at the end: each thread file's records are read
    whole and its title records come first, so every post sees its thread's title.
    CSV/JSONL records stream through one at a time."""
    pending: list[Comment] = []
    source = None
    for rec in records:
        if rec.source != source:
            yield from sorted(pending, key=lambda r: r.kind != "title")
            pending, source = [], rec.source
        if _tabular(rec):
            yield rec
        else:
            pending.append(rec)
    yield from sorted(pending, key=lambda r: r.kind != "title")


_WORKER_MODERATOR: Moderator | None = None  # set in the parent before the workers fork


def _decide_chunk(texts: list[str], contexts: list[str], explain: bool) -> list[Decision]:
    frame = pd.DataFrame({"text": texts, "context": contexts})
    return _WORKER_MODERATOR.decide(frame, explain=explain)


def score_records(moderator: Moderator, records: Iterable[Comment], *, explain: bool = False,
                  chunk_size: int = 2000, jobs: int = 1,
                  skipped: Callable[[str], None] | None = None) -> Iterator[dict]:
    """Score the ``comment`` and ``article`` records of a stream, in chunks; one output row each.

    Deleted posts, titles and page furniture are not scored (they still give thread
    context); a comment with no text is reported through ``skipped``. With ``jobs`` > 1,
    chunks are scored in that many forked worker processes (the model is shared with
    them, not copied) while this process reads, builds contexts and writes; rows keep
    their input order and at most ``2 * jobs`` chunks are in flight, so memory stays flat.
    """
    contexts = _ThreadContexts()

    def chunks() -> Iterator[list[tuple[Comment, str]]]:
        chunk: list[tuple[Comment, str]] = []
        for rec in _with_titles(records):
            if rec.kind not in SCORED_KINDS or rec.deleted:
                contexts.add(rec)
                continue
            if not rec.text.strip():
                if skipped:
                    skipped(f"{rec.source}: comment {rec.id} has no text; not scored")
                continue
            chunk.append((rec, contexts.context_for(rec)))
            contexts.add(rec)
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def rows(chunk, decisions) -> Iterator[dict]:
        for (rec, _ctx), decision in zip(chunk, decisions):
            row = {"id": rec.id, "thread": rec.thread, "no": rec.no, "kind": rec.kind, "text": rec.text,
                   **decision.scores, "action": decision.action, "labels": decision.labels}
            if explain:
                row["reasons"] = [r.to_dict() for r in decision.reasons]
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
    pending: collections.deque = collections.deque()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            for chunk in chunks():
                pending.append((chunk, pool.submit(_decide_chunk, [c.text for c, _ in chunk],
                                                   [ctx for _, ctx in chunk], explain)))
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
