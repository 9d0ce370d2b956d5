"""The labeling tool: moderators build ground truth in the terminal, fast, and never lose a label.

Three parts, each a library layer with a thin click command on top:

- :class:`Session` and :func:`run_terminal`: ``moderation label``. One comment at a time
  with its thread title, the post it replies to, lexicon hits and (with a model) scores and
  spans. Single keystrokes toggle the labels, and every save is appended to the label file
  (:func:`moderation.labels.append_events`: one write under a lock, then fsync) before the
  next comment is drawn.
- :func:`label_stats`: ``moderation labels stats``. Counts per annotator and label, and the
  agreement between annotators on the items they both labeled: Cohen's kappa
  (:func:`cohen_kappa`) for two annotators, Krippendorff's alpha (:func:`krippendorff_alpha`,
  nominal) for more. It also lists the disagreements.
- :func:`export_rows`: ``moderation labels export``. One row per comment, with its labels
  resolved (each annotator's latest, then the majority), ready for ``moderation train``.

The label file format and its rules (undo events, resolution) belong to
:mod:`moderation.labels`; this module only uses them. Importing this module is cheap
(pandas, scikit-learn and rich are loaded when a command needs them), so the
``moderation`` command starts fast.

Examples
--------
>>> cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0])
0.5
>>> round(krippendorff_alpha([[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0]]), 4)
0.3889
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from .extract import ExtractError, walk

Warn = Callable[[str], None]

# Label keys, in display order. They must name exactly moderation.model.LABELS (checked by the tests),
# which is not imported here because moderation.model pulls in scikit-learn.
LABEL_KEYS = {"s": "slur", "o": "off_topic", "d": "delete"}
LABEL_NAMES = tuple(LABEL_KEYS.values())
ORDERS = ("sequential", "uncertain", "random")
ENTER_KEYS = ("\r", "\n")
QUIT_KEYS = ("q", "\x03", "\x04")  # q, Ctrl-C, Ctrl-D
FRAME_END = "\x1b[?25l"           # every screen drawn ends with this (hide the cursor): a screen is complete
MAX_SHOWN_CHARS = 2000             # longer comments are cut on screen (the label covers the whole text)
REPLY_EXCERPT = 240
HELP = (
    ("s", "toggle slur: a slur, dehumanising epithet or mocking caricature of a group"),
    ("o", "toggle off_topic: unrelated to the thread, spam/ads, or a language the board does not use"),
    ("d", "toggle delete: a moderator would remove it "
          "(hate, attacks, threats, personal info, spam, obscenity, floods)"),
    ("Enter", "save the toggled labels (nothing toggled = clean) and go on"),
    ("n", "save as clean and go on"),
    ("x", "skip: save nothing; it comes back in your next session"),
    ("u", "undo your last saved label: that comment comes back"),
    ("?", "show or hide this help"),
    ("q", "quit (toggles not saved are dropped)"),
)


class LabelFileError(Exception):
    """A label file that cannot be used; the message names the file and says why."""


def _warn_stderr(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


# --------------------------------------------------------------------------- label files

def check_label_file(path: str | os.PathLike, *, must_exist: bool = False) -> None:
    """Refuse a file that is not a label file (JSON Lines of label events), before reading or
    appending to it. A missing or empty file is fine unless ``must_exist``.

    A JSON array, a CSV/TSV table, a JSON Lines table of comments without labels, and binary
    files are refused with a message that says what the file looks like. A file where some
    lines are label events and some are corrupt passes: :func:`read_label_files` reports the
    corrupt lines.

    Parameters
    ----------
    path : path-like
    must_exist : bool
        Raise for a missing file (reading commands) instead of accepting it (``label``
        creates the file on the first save).

    Raises
    ------
    LabelFileError

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = p.write_text("id,text,slur\\n1,foo,0\\n")
    >>> try:
    ...     check_label_file(p)
    ... except LabelFileError as exc:
    ...     print(str(exc).split(": ", 1)[1][:60])
    looks like CSV (first line 'id,text,slur'), not a label file
    """
    path = Path(path)
    if path.is_dir():
        raise LabelFileError(f"{path}: is a directory; name a label file (e.g. labels/mine.jsonl)")
    if not path.exists():
        if must_exist:
            raise LabelFileError(f"{path}: no such file")
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise LabelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    expected = ('label files are JSON Lines, one event a line: '
                '{"id", "text", "labels": {...}, "annotator", ...}')
    if b"\x00" in head:
        raise LabelFileError(f"{path}: looks like a binary file, not a label file; {expected}")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.strip():
        return
    stripped = text.lstrip()
    if stripped.startswith("["):
        raise LabelFileError(f"{path}: is a JSON array, not a label file; {expected}")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0]
    if not first.startswith("{"):
        kind = "CSV" if "," in first else "TSV" if "\t" in first else "plain text"
        shown = first if len(first) <= 60 else first[:59] + "…"
        raise LabelFileError(f"{path}: looks like {kind} (first line {shown!r}), not a label file; {expected}")
    objects = events = 0
    for line in lines[:200]:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue  # a corrupt line: reported with its number when the file is read
        if isinstance(obj, dict):
            objects += 1
            if "id" in obj and ("labels" in obj or obj.get("undo") is True):
                events += 1
    if objects and not events:
        raise LabelFileError(f"{path}: holds JSON objects but no label events (they need 'id' and 'labels'); "
                             f"a table of comments is an INPUT, not a label file; {expected}")


def _expand_label_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    try:
        return walk(paths, suffixes=(".jsonl", ".ndjson"), describe="label files (.jsonl)")
    except ExtractError as exc:
        raise LabelFileError(str(exc)) from None


def read_label_files(paths: Iterable[str | os.PathLike], *, warn: Warn | None = None) -> list[dict]:
    """The label events of several files (directories: their ``*.jsonl``), in file order.

    Each file is checked with :func:`check_label_file` and read with
    :func:`moderation.labels.read_events`: a corrupt line is reported through ``warn`` with
    its line number and skipped, and the file is never rewritten.

    Raises
    ------
    LabelFileError
        For a missing file or one that is not a label file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l.jsonl"
    >>> _ = p.write_text('{"id": "a", "labels": {"slur": 1}, "annotator": "m1"}\\n{broken\\n')
    >>> events = read_label_files([p], warn=lambda m: print(m.split(": ", 1)[1]))
    corrupt line (Expecting property name enclosed in double quotes); skipped, the file is left as it is
    >>> [e["id"] for e in events]
    ['a']
    """
    files = _expand_label_paths(paths)
    for path in files:  # every file checked before the (slow) import of the readers
        check_label_file(path, must_exist=True)
    from .labels import read_events
    from .model import TrainingError

    events: list[dict] = []
    for path in files:
        try:
            file_events = read_events(path, warn=warn)
        except TrainingError as exc:
            raise LabelFileError(str(exc)) from None
        for event in file_events:
            event["_file"] = str(path)
        events.extend(file_events)
    return events


# --------------------------------------------------------------------------- what is offered

@dataclass
class Item:
    """One comment offered for labeling, with what the screen shows around it.

    Attributes
    ----------
    comment : moderation.extract.Comment
    title : str or None
        The thread title (a ``title`` record or a ``thread_title`` column).
    headline : str or None
        The first line of the thread's first article, shown when there is no title.
    thread_text : str
        The thread text the comment is scored against (articles and earlier posts), the
        same context ``moderation score`` uses. It is stored in the label event, so training
        sees it too.
    replies : list of (int, str or None)
        For each post number the comment replies to: that post's text, ``""`` for a deleted
        post, None when the post is not in the input.
    context : str
        The model's context column: the title, then the thread text.
    """

    comment: object
    title: str | None
    headline: str | None
    thread_text: str
    replies: list = field(default_factory=list)
    context: str = ""

    @property
    def id(self) -> str:
        return self.comment.id

    @property
    def text(self) -> str:
        return self.comment.text


def offerable(rec) -> bool:
    """Whether a record is offered for labeling: a comment, not deleted, with text.

    Examples
    --------
    >>> from moderation.extract import Comment
    >>> offerable(Comment("t", "t-1", 1, "comment", "こんにちは"))
    True
    >>> article = Comment("t", "t-2", None, "article", "記事本文")
    >>> offerable(article), offerable(Comment("t", "t-3", 3, "comment", "", deleted=True))
    (False, False)
    """
    return rec.kind == "comment" and not rec.deleted and bool(rec.text and rec.text.strip())


def collect_items(records: Iterable) -> list[Item]:
    """The comments of extracted records that are offered for labeling, in input order.

    Articles, titles, page furniture (``meta``), deleted posts and empty comments are not
    offered. They still provide titles, reply targets and thread context. The same comment
    id twice (the same file given twice) is offered once. A reply ``>>N`` resolves to the
    post numbered N in the same thread. In a thread with no post numbers at all (a CSV/JSONL
    table without a ``no`` column), it resolves to the N-th comment of the thread.

    Examples
    --------
    >>> from moderation.extract import parse_scrape
    >>> items = collect_items(parse_scrape("最初の書き込み\\n>>1\\nそうだね", thread="t"))
    >>> [(i.text, i.replies) for i in items]
    [('最初の書き込み', []), ('そうだね', [(1, '最初の書き込み')])]
    """
    from .score import _ThreadContexts, _with_titles

    records = list(_with_titles(records))
    numbered: dict[str, dict[int, object]] = defaultdict(dict)
    ordinal: dict[str, list] = defaultdict(list)
    headlines: dict[str, str] = {}
    for rec in records:
        if rec.kind == "comment":
            ordinal[rec.thread].append(rec)
            if rec.no is not None:
                numbered[rec.thread].setdefault(rec.no, rec)
        elif rec.kind == "article" and rec.text.strip() and rec.thread not in headlines:
            headlines[rec.thread] = rec.text.strip().splitlines()[0][:120]

    def target(thread: str, n: int):
        if numbered[thread]:
            return numbered[thread].get(n)
        posts = ordinal[thread]
        return posts[n - 1] if 1 <= n <= len(posts) else None

    contexts = _ThreadContexts()
    items: list[Item] = []
    seen: set[str] = set()
    for rec in records:
        if offerable(rec) and rec.id not in seen:
            seen.add(rec.id)
            state = contexts.get(rec.thread)
            title = (rec.extra.get("thread_title") if rec.extra else None) or state["title"]
            title = title.strip() if isinstance(title, str) and title.strip() else None
            context = contexts.context_for(rec)  # exactly what `moderation score` uses
            if title and context.startswith(title + "\n"):
                thread_text = context[len(title) + 1:]
            elif title and context == title:
                thread_text = ""
            else:
                thread_text = context
            replies = []
            for n in rec.reply_to:
                post = target(rec.thread, n)
                replies.append((n, None if post is None else ("" if post.deleted else post.text)))
            items.append(Item(rec, title, headlines.get(rec.thread), thread_text, replies, context))
        contexts.add(rec)
    return items


# --------------------------------------------------------------------------- the model's view

def _logit(p: float) -> float:
    p = min(max(float(p), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


class ModelView:
    """A loaded :class:`moderation.score.Moderator` applied to the offered items: scores for all
    of them up front (in one batch), spans on demand, uncertainty for ``--order uncertain``.

    Parameters
    ----------
    moderator : moderation.score.Moderator
    items : list of Item
    keep_features : bool
        Keep the feature matrix (needed to refit the light model of ``--order uncertain``).

    Examples
    --------
    >>> from moderation.score import Moderator
    >>> from moderation.extract import parse_scrape
    >>> items = collect_items(parse_scrape("在韓米軍の話\\n>>1\\n下朝鮮は黙ってろ", thread="t"))
    >>> view = ModelView(Moderator.load(), items)
    >>> view.flagged[1]
    ['slur', 'delete']
    """

    def __init__(self, moderator, items: Sequence[Item], *, keep_features: bool = False, chunk: int = 2000):
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp

        self.moderator = moderator
        self.model = moderator.model
        self.thresholds = moderator.thresholds
        self.version = moderator.info.get("version")
        self.items = list(items)
        self.labels = [label for label in LABEL_NAMES if label in self.model.labels_]
        probs = {label: [] for label in LABEL_NAMES}
        blocks = []
        for start in range(0, len(self.items), chunk):
            part = self.items[start:start + chunk]
            frame = pd.DataFrame({"text": [i.text for i in part], "context": [i.context for i in part]})
            M = self.model.features(frame)
            for label in LABEL_NAMES:
                lm = self.model.labels_.get(label)
                probs[label].append(lm.proba(M) if lm is not None else np.full(M.shape[0], np.nan))
            if keep_features:
                blocks.append(M)
        self.probs = {label: (np.concatenate(v) if v else np.zeros(0)) for label, v in probs.items()}
        frame = pd.DataFrame(self.probs)
        has_context = [bool(i.context.strip()) for i in self.items]  # as Moderator.decide does
        self.actions, self.flagged = (self.model.actions(frame, self.thresholds, has_context)
                                      if len(frame) else ([], []))
        self.features = (sp.vstack(blocks).tocsr() if blocks else None) if keep_features else None
        self._explained: dict[int, list] = {}

    def scores(self, index: int) -> dict:
        """``{label: probability or None}`` for one item."""
        out = {}
        for label in LABEL_NAMES:
            p = float(self.probs[label][index])
            out[label] = None if p != p else p
        return out

    def explained(self, index: int) -> list | None:
        """The spans behind the item's flags, if they were computed already (else None)."""
        return self._explained.get(index)

    def explain(self, index: int, *, stop: Callable[[], bool] | None = None) -> list | None:
        """Compute (and cache) the spans behind each flagged label of one item.

        It takes about 25 ms per flagged label, so the terminal loop calls it while
        waiting for a key. ``stop`` is checked between labels; when it returns True the
        work is abandoned (None) and done again later.
        """
        if index in self._explained:
            return self._explained[index]
        item = self.items[index]
        reasons = []
        for label in self.flagged[index]:
            if stop is not None and stop():
                return None
            reasons.extend(r.to_dict() for r in self.model.explain(item.text, item.context, label))
        self._explained[index] = reasons
        return reasons

    def store(self, index: int, reasons: list) -> None:
        """Keep spans computed elsewhere (by the :class:`Background` worker)."""
        self._explained[index] = reasons

    def rank(self, known: dict[int, dict], indices: Sequence[int]) -> tuple[list[int], list[str]]:
        """``indices`` ordered by :meth:`refit_margins`, least certain first (ties keep their
        order), and the labels that got a refitted model."""
        margins, refitted = self.refit_margins(known, indices)
        return [i for _m, _pos, i in sorted(zip(margins, range(len(indices)), indices))], refitted

    def margins(self, indices: Sequence[int] | None = None):
        """How far each item is from a decision: the smallest distance, over labels, between
        the score and the label's hold threshold on the logit scale (smaller = less certain).

        Examples
        --------
        >>> _logit(0.5) == 0.0
        True
        """
        import numpy as np

        idx = np.arange(len(self.items)) if indices is None else np.asarray(indices, dtype=int)
        out = np.full(len(idx), np.inf)
        for label in self.labels:
            hold = self.thresholds.get(label, {}).get("hold")
            if hold is None or hold >= 1:
                continue
            p = np.clip(self.probs[label][idx], 1e-6, 1 - 1e-6)
            m = np.abs(np.log(p / (1 - p)) - _logit(hold))
            out = np.fmin(out, m)
        return out

    def refit_margins(self, known: dict[int, dict], indices: Sequence[int], *, min_each: int = 2):
        """Margins from a light model refitted on the labels so far, for ``indices``.

        For each label with at least ``min_each`` positive and negative labels among the
        items, a logistic regression (liblinear, balanced classes) is fitted on the base
        model's three logits and its features, and the margin is the absolute value of its
        decision function. Labels with too few labels so far keep the base model's margin.
        Returns ``(margins, refitted labels)``.
        """
        import numpy as np
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        idx = np.asarray(indices, dtype=int)
        if self.features is None:
            raise ValueError("ModelView was built without keep_features=True")
        if getattr(self, "_stacked", None) is None:
            logits = np.column_stack([np.nan_to_num(np.log(np.clip(self.probs[label], 1e-6, 1 - 1e-6)
                                                           / (1 - np.clip(self.probs[label], 1e-6, 1 - 1e-6))))
                                      for label in LABEL_NAMES])
            stacked = sp.hstack([sp.csr_matrix(logits), self.features]).tocsr()
            # Only the columns some offered comment uses: liblinear's cost grows with the column count.
            used = np.unique(np.concatenate([np.arange(len(LABEL_NAMES)), stacked.indices]))
            self._stacked = stacked[:, used].tocsr()
        X = self._stacked
        out = np.full(len(idx), np.inf)
        refitted = []
        for label in self.labels:
            rows = [i for i, labels in known.items() if labels.get(label) in (0, 1)]
            y = np.array([known[i][label] for i in rows], dtype=int)
            hold = self.thresholds.get(label, {}).get("hold")
            if len(rows) and y.sum() >= min_each and len(y) - y.sum() >= min_each:
                clf = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced", max_iter=200)
                clf.fit(X[rows], y)
                m = np.abs(clf.decision_function(X[idx])) if len(idx) else np.zeros(0)
                refitted.append(label)
            elif hold is not None and hold < 1:
                p = np.clip(self.probs[label][idx], 1e-6, 1 - 1e-6)
                m = np.abs(np.log(p / (1 - p)) - _logit(hold))
            else:
                continue
            out = np.fmin(out, m)
        return out, refitted


# --------------------------------------------------------------------------- the session

def _labels_text(labels: dict) -> str:
    on = [label for label in LABEL_NAMES if labels.get(label) == 1]
    return "+".join(on) if on else "clean"


class Session:
    """The state of one labeling session: the queue, the toggles, saving, undo, re-ranking and
    drawing. It knows nothing about terminals. :func:`run_terminal` feeds it keys and writes
    what :meth:`render` returns, and tests and benchmarks can drive it directly.

    Parameters
    ----------
    items : list of Item
        Every comment offered by the input (already-labeled ones included: they count in
        the progress and are skipped).
    labels_path : path-like
        The label file events are appended to.
    annotator : str
    events : list of dict
        The label file's events as read at start (resume and undo history).
    order : {'sequential', 'uncertain', 'random'}
    model : ModelView, optional
        Scores and spans on screen; required for ``order='uncertain'``.
    refit_every : int
        With ``order='uncertain'``, refit the light model and re-rank after this many saves.
    seed : int, optional
        For ``order='random'``.
    show_scores : bool
        Show the model's scores and spans (False: the model only orders the queue).
    notices : list of str
        Warnings to show on the first screen (corrupt lines, skipped input rows).
    clock : callable
        Seconds, for the labeling rate.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> from moderation.extract import parse_scrape
    >>> items = collect_items(parse_scrape("在韓米軍の話\\n>>1\\n下朝鮮は黙ってろ", thread="t"))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "l.jsonl"
    >>> s = Session(items, path, "m1")
    >>> for key in "n" + "sd" + "\\r":
    ...     _ = s.press(key)
    >>> [(json.loads(l)["text"], json.loads(l)["labels"]) for l in path.read_text().splitlines()]
    [('在韓米軍の話', {'slur': 0, 'off_topic': 0, 'delete': 0}), ('下朝鮮は黙ってろ', {'slur': 1, 'off_topic': 0, 'delete': 1})]
    >>> s.done_count, s.current is None
    (2, True)
    """

    def __init__(self, items: Sequence[Item], labels_path: str | os.PathLike, annotator: str, *,
                 events: Iterable[dict] = (), order: str = "sequential", model: ModelView | None = None,
                 refit_every: int = 20, seed: int | None = None, show_scores: bool = True,
                 notices: Sequence[str] = (), clock: Callable[[], float] = time.monotonic):
        from .labels import latest_by_annotator, resolve

        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        if order == "uncertain" and model is None:
            raise ValueError("order='uncertain' needs a model")
        self.items = list(items)
        self.labels_path = Path(labels_path)
        self.annotator = annotator
        self.order = order
        self.model = model
        self.refit_every = max(1, int(refit_every))
        self.show_scores = show_scores
        self.clock = clock
        self.started = clock()
        self.index_of = {item.id: i for i, item in enumerate(self.items)}
        events = [e for e in events if isinstance(e, dict)]
        standing = latest_by_annotator(events)
        mine = sorted(((e.get("_line", 0), cid) for (cid, ann), e in standing.items() if ann == annotator
                       and cid in self.index_of))
        self.done: set[int] = {self.index_of[cid] for _line, cid in mine}
        # Undo history: this annotator's standing labels in file order, so that 'u' right after
        # a resume takes back the last label of the previous session.
        self.history: list[tuple[int, dict, bool]] = [
            (self.index_of[cid], dict(standing[(cid, annotator)].get("labels") or {}), False) for _l, cid in mine]
        # Labels known so far (every annotator, resolved), for the light model of --order uncertain.
        self.known: dict[int, dict] = {self.index_of[r["id"]]: dict(r["labels"]) for r in resolve(events)
                                       if r["id"] in self.index_of and r["labels"]}
        self.queue: list[int] = [i for i in range(len(self.items)) if i not in self.done]
        if order == "random":
            random.Random(seed).shuffle(self.queue)
        elif order == "uncertain":
            self._rank(self.model.margins(self.queue))
        self.toggles: set[str] = set()
        self.saved_this_session = 0
        self.skipped = 0
        self.saves_since_refit = 0
        self.refit_pending = False
        self.refits = 0
        self.help = False
        self.status = ""
        self.notices = list(notices)
        self.show_notices = True   # until the first key
        self._console = None

    # ----------------------------------------------------------------------- state
    @property
    def current(self) -> int | None:
        """Index of the item on screen (None when nothing is left)."""
        return self.queue[0] if self.queue else None

    @property
    def done_count(self) -> int:
        return len(self.done)

    @property
    def rate_per_hour(self) -> float | None:
        elapsed = self.clock() - self.started
        if self.saved_this_session < 3 or elapsed <= 0:
            return None
        return self.saved_this_session / elapsed * 3600

    def _rank(self, margins) -> None:
        """Order the queue by margin, least certain first (input order breaks ties)."""
        self.queue = [i for _m, _pos, i in sorted(zip(margins, range(len(self.queue)), self.queue))]

    # ----------------------------------------------------------------------- keys
    def press(self, key: str) -> bool:
        """Handle one key; returns False when the session should end (``q``).

        Saving appends the event (flushed and fsynced) before returning, so whatever is
        drawn next comes after the label is on disk.
        """
        self.show_notices = False
        if key in QUIT_KEYS:
            return False
        if key == "?":
            self.help = not self.help
            return True
        if key == "u":
            try:
                self.undo()
            except OSError as exc:
                self.status = f"NOT UNDONE: cannot write {self.labels_path} ({exc.strerror or exc})"
            return True
        if self.current is None:
            if key not in ("\x1b",):
                self.status = "nothing left to label: u undo the last label · q quit"
            return True
        if key in LABEL_KEYS:
            label = LABEL_KEYS[key]
            self.toggles ^= {label}
            self.status = ""
            return True
        if key in ENTER_KEYS or key == "n":
            labels = {label: int(key != "n" and label in self.toggles) for label in LABEL_NAMES}
            try:
                self.save(labels)
            except OSError as exc:  # the comment stays on screen with its toggles: nothing is lost silently
                self.status = (f"NOT SAVED: cannot write {self.labels_path} ({exc.strerror or exc}); "
                               "fix that and save again")
        elif key == "x":
            index = self.queue.pop(0)
            self.skipped += 1
            self.toggles = set()
            self.status = f"skipped {self.items[index].id}"
        else:
            shown = key if key.isprintable() else repr(key)
            self.status = f"key {shown} does nothing here; press ? for help"
        return True

    def save(self, labels: dict) -> dict:
        """Append a label event for the current item and move on; returns the event."""
        from .labels import append_events, label_event

        index = self.queue[0]
        item = self.items[index]
        rec = item.comment
        event = label_event(rec.id, rec.text, labels, annotator=self.annotator, thread=rec.thread,
                            source=rec.source or None, thread_title=item.title,
                            thread_text=item.thread_text or None)
        append_events(self.labels_path, [event])  # one write under a lock, then fsync
        self.queue.pop(0)
        self.done.add(index)
        self.history.append((index, dict(event["labels"]), True))
        self.known[index] = dict(event["labels"])
        self.saved_this_session += 1
        self.toggles = set()
        self.status = f"saved {rec.id}: {_labels_text(event['labels'])}"
        if self.order == "uncertain":
            self.saves_since_refit += 1
            if self.saves_since_refit >= self.refit_every:
                self.refit_pending = True
        return event

    def undo(self) -> dict | None:
        """Take back this annotator's last label: append an undo event, and put the comment back
        on screen with its toggles as they were. Returns the undo event (None if nothing to undo)."""
        import datetime as _dt

        from .labels import append_events

        if not self.history:
            self.status = "nothing to undo"
            return None
        index, labels, this_session = self.history.pop()
        item = self.items[index]
        event = {"id": item.id, "annotator": self.annotator,
                 "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                 "undo": True}
        append_events(self.labels_path, [event])
        self.done.discard(index)
        self.known.pop(index, None)
        if index in self.queue:
            self.queue.remove(index)
        self.queue.insert(0, index)
        self.toggles = {label for label in LABEL_NAMES if labels.get(label) == 1}
        if this_session:
            self.saved_this_session -= 1
        self.status = f"undid the label of {item.id} (was {_labels_text(labels)}); change it and save"
        return event

    # ----------------------------------------------------------------------- work between keys
    def wanted_spans(self) -> list[int]:
        """Items whose spans are wanted next: the comment on screen, then the two after it
        (flagged ones only, not yet computed)."""
        if self.model is None or not self.show_scores:
            return []
        return [i for i in self.queue[:3] if self.model.flagged[i] and self.model.explained(i) is None]

    def refit_request(self) -> tuple[dict, list[int]] | None:
        """The labels so far and the items to re-rank, when a refit is due (it is then
        considered under way until :meth:`apply_ranking`)."""
        if not self.refit_pending:
            return None
        self.refit_pending = False
        self.saves_since_refit = 0
        return dict(self.known), list(self.queue[1:])

    def apply_spans(self, index: int, reasons: list) -> bool:
        """Store spans computed elsewhere; True when they belong to the comment on screen."""
        self.model.store(index, reasons)
        return index == self.current

    def apply_ranking(self, ranked: Sequence[int], refitted: Sequence[str], n_known: int) -> None:
        """Re-order what remains (the comment on screen stays) by a ranking from
        :meth:`ModelView.refit_margins`; items it does not know keep their place after it."""
        rank = {index: r for r, index in enumerate(ranked)}
        head, rest = self.queue[:1], self.queue[1:]
        self.queue = head + sorted(rest, key=lambda i: rank.get(i, len(rank)))  # stable: unknown ones keep their order
        self.refits += 1
        what = ", ".join(refitted) if refitted else "none yet (too few labels of each kind)"
        self.status = f"re-ranked {len(rest)} remaining on {n_known} labels (refitted: {what})"

    def idle(self, stop: Callable[[], bool] | None = None) -> bool | None:
        """Do one piece of the background work in this process (when there is no
        :class:`Background` worker): spans for the comment on screen, then the refit of
        ``--order uncertain``, then spans for the next comments.

        Returns True when the screen should be redrawn, False when work was done that does
        not change it, and None when there is nothing left to do.
        """
        wanted = self.wanted_spans()
        if wanted and wanted[0] == self.current:
            return self.model.explain(wanted[0], stop=stop) is not None
        if self.refit_pending:
            self.refit()
            return True
        if wanted:
            self.model.explain(wanted[0], stop=stop)
            return False
        return None

    def refit(self) -> list[str]:
        """Refit the light model on the labels so far and re-rank what remains, in this process.
        Returns the labels that got a refitted model."""
        request = self.refit_request()
        if request is None:
            self.refit_pending = True
            request = self.refit_request()
        known, rest = request
        if not rest:
            return []
        ranked, refitted = self.model.rank(known, rest)
        self.apply_ranking(ranked, refitted, len(known))
        return refitted

    # ----------------------------------------------------------------------- drawing
    def render(self, width: int = 100, height: int | None = None) -> str:
        """The whole screen as text with ANSI styles (a full redraw). With ``height``, a
        comment too long for the terminal is cut (with a note) so the title, toggles and
        progress stay on screen."""
        import io

        from rich.console import Console

        if self._console is None or self._console.width != width:
            self._buffer = io.StringIO()
            self._console = Console(file=self._buffer, width=width, force_terminal=True, color_system="standard",
                                    highlight=False, markup=False, emoji=False, soft_wrap=False,
                                    legacy_windows=False)
        screen = self._draw(None)
        if height is not None and self.current is not None:
            overflow = screen.count("\n") - (height - 1)
            if overflow > 0:
                from rich.text import Text

                text = self.items[self.current].text[:MAX_SHOWN_CHARS]
                inner = max(10, width - 4)
                wrapped = [Text(p).wrap(self._console, inner) for p in text.split("\n")]
                keep = max(3, sum(max(1, len(w)) for w in wrapped) - overflow - 1)
                lo = count = 0  # the characters of the first `keep` wrapped lines
                for w in wrapped:
                    for line in (w or [Text("")]):
                        if count == keep:
                            break
                        lo += len(line.plain)
                        count += 1
                    if count == keep:
                        break
                    lo += 1  # the newline
                screen = self._draw(lo)
        return screen

    def _draw(self, max_chars: int | None) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        for renderable in self._renderables(max_chars):
            self._console.print(renderable)
        return self._buffer.getvalue()

    def _renderables(self, max_chars: int | None = None) -> list:
        from rich.panel import Panel
        from rich.text import Text

        out = []
        head = Text.assemble(("moderation label", "bold"), "  ", (self.annotator, "bold cyan"), " → ",
                             str(self.labels_path), ("  order " + self.order, "dim"))
        if self.model is not None:
            head.append(f"  model {self.model.version}" + ("" if self.show_scores else " (scores hidden)"), "dim")
        out.append(head)
        cur = self.current
        if cur is None:
            out.append(Text(""))
            if self.done_count == len(self.items):
                out.append(Text(f"All {len(self.items)} comments are labeled by {self.annotator} "
                                f"({self.saved_this_session} this session).", style="bold green"))
            else:
                out.append(Text(f"Nothing left this session: {self.done_count} of {len(self.items)} comments are "
                                f"labeled by {self.annotator}; the {len(self.items) - self.done_count} skipped "
                                "come back next time.", style="bold yellow"))
            out.append(Text("u undo the last label · q quit"))
            out.extend(self._footer(done_screen=True))
            return out
        item = self.items[cur]
        rec = item.comment
        thread = Text.assemble(("thread  ", "dim"))
        if item.title:
            thread.append(item.title, style="bold")
        elif item.headline:
            thread.append(item.headline, style="bold")
            thread.append("  (first article's headline; no title in the input)", style="dim")
        else:
            thread.append("(no title in the input)", style="dim")
        thread.append(f"  [{rec.thread}]", style="dim")
        out.append(thread)
        for n, text in item.replies:
            line = Text.assemble((f"  ↳ replies to >>{n}  ", "dim"))
            if text is None:
                line.append("(not in this input)", style="dim italic")
            elif text == "":
                line.append("[deleted post]", style="dim italic")
            else:
                excerpt = text.replace("\n", " ⏎ ")
                if len(excerpt) > REPLY_EXCERPT:
                    excerpt = excerpt[:REPLY_EXCERPT - 1] + "…"
                line.append(excerpt, style="italic")
            out.append(line)
        reasons = []
        if self.model is not None and self.show_scores:
            reasons = self.model.explained(cur) or []
        title = "comment" if rec.no is None else f"comment {rec.no}"
        out.append(Panel(self._comment_text(item, reasons, max_chars), title=title, title_align="left",
                         border_style="cyan", expand=True))
        out.append(Text(f"id {rec.id}"))
        if self.model is not None and self.show_scores:
            out.extend(self._model_lines(cur, reasons))
        out.append(self._toggle_line())
        out.extend(self._footer(done_screen=False))
        return out

    def _comment_text(self, item: Item, reasons: list, max_chars: int | None = None):
        from rich.text import Text

        from .lexicon import Lexicon

        text = item.text
        limit = min(MAX_SHOWN_CHARS, max_chars if max_chars is not None else MAX_SHOWN_CHARS)
        cut = len(text) > limit
        shown = Text(text[:limit] if cut else text)
        for r in reasons:
            a, b = r["span"]
            if r.get("source") != "lexicon" and b <= len(shown.plain):
                shown.stylize("black on yellow", a, b)
        for hit in Lexicon.load().find(text):
            a, b = hit.span
            if b <= len(shown.plain):
                shown.stylize("bold red underline", a, b)
        if cut:
            shown.append(f"\n… ({len(text) - limit} more characters not shown: "
                         "a bigger terminal shows more)", style="dim")
        return shown

    def _model_lines(self, cur: int, reasons: list) -> list:
        from rich.text import Text

        scores = self.model.scores(cur)
        line = Text.assemble(("model   ", "dim"))
        for label in LABEL_NAMES:
            p = scores[label]
            th = self.model.thresholds.get(label)
            if p is None or th is None:
                line.append(f"{label} —   ", style="dim")
                continue
            style = "bold red" if p >= th["reject"] else "yellow" if p >= th["hold"] else "green"
            line.append(f"{label} {p:.2f}", style=style)
            line.append(f" (hold {th['hold']:.2f})   ", style="dim")
        action = self.model.actions[cur]
        line.append(f"→ {action}", style={"allow": "green", "hold": "yellow", "reject": "bold red"}[action])
        lines = [line]
        spans = Text.assemble(("spans   ", "dim"))
        if not self.model.flagged[cur]:
            spans.append("nothing flagged", style="dim")
        elif self.model.explained(cur) is None:
            spans.append("…", style="dim")
        elif not reasons:
            spans.append("no span stands out", style="dim")
        else:
            seen = set()
            for r in reasons:
                key = (r["label"], r["excerpt"])
                if key in seen:
                    continue
                seen.add(key)
                spans.append(f"{r['label']}: ", style="dim")
                spans.append(f"「{r['excerpt']}」", style="bold red" if r.get("source") == "lexicon" else "yellow")
                spans.append(f"{' lexicon' if r.get('source') == 'lexicon' else ''}  ", style="dim")
        lines.append(spans)
        return lines

    def _toggle_line(self):
        from rich.text import Text

        line = Text.assemble(("labels  ", "dim"))
        for key, label in LABEL_KEYS.items():
            on = label in self.toggles
            line.append(f"[{'x' if on else ' '}] {key} {label}", style="bold reverse" if on else "")
            line.append("   ")
        line.append(f"Enter saves: {_labels_text({label: 1 for label in self.toggles})}", style="bold")
        if "slur" in self.toggles and "delete" not in self.toggles:
            line.append("   (a slur is almost always delete)", style="yellow")
        return line

    def _footer(self, *, done_screen: bool) -> list:
        from rich.table import Table
        from rich.text import Text

        out = []
        rate = self.rate_per_hour
        total = len(self.items)
        progress = Text(f"labeled {self.done_count} of {total} · {self.saved_this_session} this session · "
                        f"{self.skipped} skipped · {len(self.queue)} left · "
                        f"{'—' if rate is None else f'{rate:,.0f}'}/h", style="dim")
        out.append(progress)
        if self.notices and self.show_notices:
            for notice in self.notices[:5]:
                out.append(Text(f"warning: {notice}", style="yellow"))
            if len(self.notices) > 5:
                out.append(Text(f"… and {len(self.notices) - 5} more warnings (printed when you quit)", style="yellow"))
        if self.status:
            out.append(Text(self.status, style="cyan"))
        if self.help:
            table = Table(show_header=False, box=None, padding=(0, 2))
            for key, what in HELP:
                table.add_row(Text(key, style="bold"), what)
            out.append(table)
        elif not done_screen:
            out.append(Text("s/o/d toggle · Enter save · n clean · x skip · u undo · ? help · q quit", style="dim"))
        return out


# --------------------------------------------------------------------------- the terminal

_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|O.|.)?", re.S)


def keys_of(data: bytes) -> list[str]:
    """The keys in a chunk read from a terminal in raw mode. Escape sequences (arrow keys,
    function keys) are dropped, so their letters never act as label keys.

    Examples
    --------
    >>> keys_of(b"sd\\r")
    ['s', 'd', '\\r']
    >>> keys_of(b"\\x1b[D\\x1bOAn")
    ['n']
    """
    text = data.decode("utf-8", errors="ignore")
    return list(_ESCAPE.sub("", text))


class TerminalError(Exception):
    """No terminal to read keys from."""


class Background:
    """A forked worker process that computes spans and refits for a :class:`ModelView`, so
    that a keystroke never waits for them (spans take about 25 ms per flagged label, and a refit
    takes a few hundred ms).

    The worker shares the loaded model with the labeling process (fork, copy on write). Its
    standard streams point at /dev/null, so it never touches the terminal. It exits when
    the labeling process closes the pipe or dies, kill -9 included. Messages:
    ``("spans", [index, ...])`` replaces the list of wanted spans (the first is the comment
    on screen), and ``("refit", known, indices)`` asks for a ranking. Replies are
    ``("spans", index, reasons)`` and ``("ranked", ranking, refitted, n_known)``.
    """

    def __init__(self, view: ModelView):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_background_main, args=(view, child, self.conn), daemon=True,
                                   name="moderation-label-background")
        self.process.start()
        child.close()
        self._sent_spans: list[int] | None = None

    def fileno(self) -> int:
        return self.conn.fileno()

    def want_spans(self, indices: list[int]) -> None:
        if indices != self._sent_spans:
            self.conn.send(("spans", list(indices)))
            self._sent_spans = list(indices)

    def refit(self, known: dict, indices: list[int]) -> None:
        self.conn.send(("refit", known, indices))

    def results(self) -> list[tuple]:
        out = []
        while self.conn.poll():
            out.append(self.conn.recv())
        return out

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.process.join(timeout=2)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(timeout=2)


def _background_main(view: ModelView, conn, parent_end) -> None:
    import signal

    parent_end.close()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    wanted: list[int] = []
    refit = None

    def pending() -> bool:
        return refit is not None or any(view.explained(i) is None for i in wanted)

    try:
        while True:
            while not pending() or conn.poll():
                message = conn.recv()
                if message[0] == "spans":
                    wanted = list(message[1])
                elif message[0] == "refit":
                    refit = (message[1], message[2])
            todo = [i for i in wanted if view.explained(i) is None]
            if todo and todo[0] == wanted[0]:
                conn.send(("spans", todo[0], view.explain(todo[0])))
            elif refit is not None:
                known, indices = refit
                refit = None
                ranked, refitted = view.rank(known, indices)
                conn.send(("ranked", ranked, refitted, len(known)))
            elif todo:
                conn.send(("spans", todo[0], view.explain(todo[0])))
    except (EOFError, OSError, KeyboardInterrupt):
        return


def run_terminal(session: Session, *, fd_in: int | None = None, fd_out: int | None = None,
                 background: bool = True) -> None:
    """Run a session on a terminal until ``q``: raw single-key input, a full redraw per key.

    Input is non-canonical and unechoed, with signals off (Ctrl-C arrives as a key and
    quits cleanly). Output keeps its post-processing. The screen is the terminal's alternate
    screen, and the terminal is restored on exit, on SIGTERM and SIGHUP, and on errors.
    With a model, spans and refits run in a :class:`Background` worker (or, with
    ``background=False``, in this process while no key is waiting), and the screen is
    redrawn when the spans of the comment on it arrive.

    Raises
    ------
    TerminalError
        When ``fd_in`` is not a terminal.
    """
    import select
    import signal
    import termios

    fd_in = sys.stdin.fileno() if fd_in is None else fd_in
    fd_out = sys.stdout.fileno() if fd_out is None else fd_out
    if not os.isatty(fd_in):
        raise TerminalError("stdin is not a terminal")
    old = termios.tcgetattr(fd_in)
    new = termios.tcgetattr(fd_in)
    new[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)
    new[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
    new[6][termios.VMIN] = 1
    new[6][termios.VTIME] = 0

    def write(data: str) -> None:
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(fd_out, view):]

    def size() -> tuple[int, int]:
        try:
            s = os.get_terminal_size(fd_out)
            return s.columns, s.lines
        except OSError:
            return 100, 40

    def draw() -> None:
        columns, lines = size()
        write("\x1b[H\x1b[2J" + session.render(max(40, columns), max(12, lines)) + FRAME_END)

    def key_waiting() -> bool:
        return bool(select.select([fd_in], [], [], 0)[0])

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    worker = None
    if background and session.model is not None:
        try:
            worker = Background(session.model)
        except OSError:  # no fork here: the work is done in this process, between keys
            worker = None
    handlers = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        handlers[sig] = signal.signal(sig, on_signal)
    termios.tcsetattr(fd_in, termios.TCSAFLUSH, new)
    write("\x1b[?1049h")
    try:
        draw()
        shown_size = size()
        while True:
            if worker is not None:
                worker.want_spans(session.wanted_spans())
                request = session.refit_request()
                if request is not None:
                    worker.refit(*request)
            else:
                # No worker: the work is done here, one piece at a time, while no key is waiting.
                while not key_waiting():
                    result = session.idle(stop=key_waiting)
                    if result is None:
                        break
                    if result:
                        draw()
            ready = select.select([fd_in] + ([worker] if worker is not None else []), [], [], 0.5)[0]
            if fd_in in ready:
                data = os.read(fd_in, 1024)
                if not data:
                    return
                for key in keys_of(data):
                    if not session.press(key):
                        return
                draw()
            elif ready:
                redraw = False
                for message in worker.results():
                    if message[0] == "spans":
                        redraw |= session.apply_spans(message[1], message[2])
                    elif message[0] == "ranked":
                        session.apply_ranking(*message[1:])
                        redraw = True
                if redraw and not key_waiting():
                    draw()
            elif size() != shown_size:
                shown_size = size()
                draw()
    finally:
        write("\x1b[?25h\x1b[?1049l")
        termios.tcsetattr(fd_in, termios.TCSADRAIN, old)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if worker is not None:
            worker.close()


# --------------------------------------------------------------------------- agreement

def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same items (None when undefined: no
    items, or both gave one single value, so chance agreement is 1).

    Examples
    --------
    >>> cohen_kappa([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 1, 1, 0])  # (0.8 - 0.52) / 0.48
    0.5833333333333334
    >>> cohen_kappa([0, 0], [0, 0]) is None
    True
    """
    if len(a) != len(b):
        raise ValueError("both annotators need a label for every item")
    n = len(a)
    if not n:
        return None
    values = sorted(set(a) | set(b))
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum((list(a).count(v) / n) * (list(b).count(v) / n) for v in values)
    if p_e >= 1:
        return None
    return (p_o - p_e) / (1 - p_e)


def krippendorff_alpha(units: Iterable[Sequence]) -> float | None:
    """Krippendorff's alpha for nominal data; each unit lists the values it got (any number
    of annotators, missing ones left out). Units with fewer than two values are not
    pairable and are ignored. Returns None when undefined (no pairable unit, or one single
    value throughout).

    Examples
    --------
    >>> round(krippendorff_alpha([[1, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 0]]), 6)   # 1 - 11 * 4 / 72
    0.388889
    >>> krippendorff_alpha([[1, 1], [1, 1]]) is None
    True
    """
    coincidence: dict[tuple, float] = defaultdict(float)
    for unit in units:
        values = list(unit)
        m = len(values)
        if m < 2:
            continue
        counts: dict = defaultdict(int)
        for v in values:
            counts[v] += 1
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nc - 1) if c == k else nc * nk
                coincidence[(c, k)] += pairs / (m - 1)
    if not coincidence:
        return None
    marginals: dict = defaultdict(float)
    for (c, _k), v in coincidence.items():
        marginals[c] += v
    n = sum(marginals.values())
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(marginals[c] * marginals[k] for c in marginals for k in marginals if c != k)
    if expected == 0:
        return None
    return 1 - (n - 1) * observed / expected


def label_stats(events: Iterable[dict]) -> dict:
    """Counts and agreement of the standing labels in label events (undo applied; each
    annotator's latest label per comment).

    Returns a dict with:

    - ``annotators``: per annotator, the comments labeled and the positives per label.
    - ``resolved``: per label, the comments with a resolved label and how many are positive.
    - ``agreement``: per label, the comments that at least two annotators labeled
      (``items``), the share of agreeing annotator pairs (``observed``), and the measure:
      Cohen's kappa when the files have two annotators, Krippendorff's alpha (nominal)
      when they have more, None with one annotator or when it is undefined.
    - ``disagreements``: comments where annotators gave different values for a label,
      with each annotator's labels.

    Examples
    --------
    >>> ev = [{"id": i, "text": "", "annotator": a, "labels": {"slur": v}}
    ...       for i, (x, y) in enumerate([(1, 1), (0, 0), (1, 0), (0, 0)]) for a, v in (("m1", x), ("m2", y))]
    >>> stats = label_stats(ev)
    >>> stats["agreement"]["slur"]["measure"], round(stats["agreement"]["slur"]["value"], 4)
    ('cohen_kappa', 0.5)
    >>> [d["id"] for d in stats["disagreements"]]
    ['2']
    """
    from .labels import latest_by_annotator, resolve

    events = list(events)
    standing = latest_by_annotator(events)
    by_item: dict[str, dict[str, dict]] = defaultdict(dict)
    texts: dict[str, str] = {}
    order: list[str] = []
    for (cid, annotator), event in standing.items():
        if cid not in by_item:
            order.append(cid)
        labels = event.get("labels") if isinstance(event.get("labels"), dict) else {}
        by_item[cid][annotator] = {k: int(v) for k, v in labels.items() if k in LABEL_NAMES and v in (0, 1)}
        texts[cid] = event.get("text") or texts.get(cid, "")
    annotators = sorted({a for labels in by_item.values() for a in labels})
    per_annotator = {a: {"comments": 0, **{label: 0 for label in LABEL_NAMES}} for a in annotators}
    for labels in by_item.values():
        for a, given in labels.items():
            per_annotator[a]["comments"] += 1
            for label in LABEL_NAMES:
                per_annotator[a][label] += given.get(label, 0)
    resolved = {label: {"known": 0, "positive": 0} for label in LABEL_NAMES}
    rows = resolve(events)
    for row in rows:
        for label, value in row["labels"].items():
            if label in resolved:
                resolved[label]["known"] += 1
                resolved[label]["positive"] += int(value)
    measure = "cohen_kappa" if len(annotators) == 2 else "krippendorff_alpha" if len(annotators) > 2 else None
    agreement = {}
    for label in LABEL_NAMES:
        units = []
        for cid in order:
            values = [labels[label] for labels in by_item[cid].values() if label in labels]
            if len(values) >= 2:
                units.append((cid, {a: labels[label] for a, labels in by_item[cid].items() if label in labels}))
        pairs = agree = 0
        for _cid, given in units:
            vals = list(given.values())
            for i in range(len(vals)):
                for j in range(i + 1, len(vals)):
                    pairs += 1
                    agree += vals[i] == vals[j]
        value = None
        if measure == "cohen_kappa":
            a1, a2 = annotators
            value = cohen_kappa([g[a1] for _c, g in units], [g[a2] for _c, g in units])
        elif measure == "krippendorff_alpha":
            value = krippendorff_alpha([list(g.values()) for _c, g in units])
        agreement[label] = {"items": len(units), "observed": (agree / pairs) if pairs else None,
                            "measure": measure, "value": value}
    disagreements = []
    for cid in order:
        given = by_item[cid]
        if len(given) < 2:
            continue
        differ = [label for label in LABEL_NAMES if len({g[label] for g in given.values() if label in g}) > 1]
        if differ:
            disagreements.append({"id": cid, "text": texts.get(cid, ""), "labels": differ,
                                  "by": {a: given[a] for a in sorted(given)}})
    return {"events": len(events), "comments": len(by_item), "annotators": per_annotator,
            "resolved": resolved, "agreement": agreement, "disagreements": disagreements}


def print_stats(stats: dict, fh, *, max_disagreements: int = 50) -> None:
    """The stats of :func:`label_stats` as tables (rich)."""
    from rich.table import Table
    from rich.text import Text

    from .report import console_for

    console = console_for(fh)
    table = Table(title=Text(f"{stats['comments']:,} comments labeled, {stats['events']:,} events"),
                  title_justify="left")
    table.add_column("annotator")
    for col in ("comments", *LABEL_NAMES):
        table.add_column(col, justify="right")
    for annotator, counts in stats["annotators"].items():
        table.add_row(Text(annotator), *(f"{counts[c]:,}" for c in ("comments", *LABEL_NAMES)))
    resolved = stats["resolved"]
    table.add_row(Text("resolved", style="bold"), "",
                  *(f"{resolved[label]['positive']:,} / {resolved[label]['known']:,}" for label in LABEL_NAMES))
    console.print(table)
    agreement = Table(title=Text("agreement on comments labeled by two or more annotators"), title_justify="left")
    for col in ("label", "comments", "observed", "measure", "value"):
        agreement.add_column(col, justify="left" if col in ("label", "measure") else "right")
    for label, info in stats["agreement"].items():
        measure = {"cohen_kappa": "Cohen's kappa", "krippendorff_alpha": "Krippendorff's alpha (nominal)",
                   None: "— (one annotator)"}[info["measure"]]
        observed = "—" if info["observed"] is None else f"{info['observed']:.3f}"
        value = info["value"]
        shown = ("—" if info["measure"] is None else "undefined (no variation)" if info["items"] else "no overlap") \
            if value is None else f"{value:.3f}"
        agreement.add_row(label, str(info["items"]), observed, measure, shown)
    console.print(agreement)
    dis = stats["disagreements"]
    if not dis:
        console.print("no disagreements")
        return
    table = Table(title=Text(f"{len(dis)} disagreements"), title_justify="left", show_lines=False)
    for col, kw in (("id", {"no_wrap": True}), ("differs on", {"no_wrap": True}), ("labels by annotator", {}),
                    ("text", {"overflow": "fold"})):
        table.add_column(col, **kw)
    for d in dis[:max_disagreements]:
        by = "; ".join(f"{a}: {_labels_text(labels)}" for a, labels in d["by"].items())
        text = d["text"].replace("\n", " ⏎ ")
        excerpt = text[:80] + ("…" if len(text) > 80 else "")
        table.add_row(Text(d["id"]), ", ".join(d["labels"]), Text(by), Text(excerpt))
    console.print(table)
    if len(dis) > max_disagreements:
        console.print(f"… and {len(dis) - max_disagreements} more (use --format json for all)")


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = ("id", "thread", "text", *LABEL_NAMES, "annotators", "thread_title", "thread_text", "source")


def export_rows(events: Iterable[dict]) -> list[dict]:
    """One row per comment, labels resolved by :func:`moderation.labels.resolve` (each
    annotator's latest label, then the majority; a tie counts as positive). A label that no
    annotator gave is None (a blank cell: unknown, not 0). The columns are
    :data:`EXPORT_COLUMNS`, the table ``moderation train`` reads.

    Examples
    --------
    >>> ev = [{"id": "a", "text": "x", "annotator": "m1", "labels": {"slur": 1, "delete": 1}},
    ...       {"id": "a", "text": "x", "annotator": "m2", "labels": {"slur": 0, "delete": 1}},
    ...       {"id": "a", "annotator": "m2", "undo": True}]
    >>> row = export_rows(ev)[0]
    >>> row["slur"], row["off_topic"], row["delete"], row["annotators"]
    (1, None, 1, ['m1'])
    """
    from .labels import resolve

    rows = []
    for r in resolve(events):
        row = {"id": r["id"], "thread": r.get("thread"), "text": r.get("text", "")}
        for label in LABEL_NAMES:
            row[label] = r["labels"].get(label)
        row["annotators"] = r["annotators"]
        row["thread_title"] = r.get("thread_title")
        row["thread_text"] = r.get("thread_text")
        row["source"] = r.get("source")
        rows.append(row)
    return rows


def write_export(rows: Iterable[dict], fh, fmt: str = "jsonl") -> int:
    """Write exported rows as JSON Lines or CSV (annotators joined with ``;`` in CSV)."""
    from .files import write_csv, write_jsonl

    if fmt == "jsonl":
        return write_jsonl(rows, fh)
    if fmt == "csv":
        return write_csv(({**row, "annotators": ";".join(row["annotators"])} for row in rows), fh,
                         columns=list(EXPORT_COLUMNS))
    raise ValueError(f"unknown format {fmt!r}")


# --------------------------------------------------------------------------- commands

def default_annotator() -> str:
    """``$MODERATION_ANNOTATOR``, else the login name."""
    import getpass

    name = os.environ.get("MODERATION_ANNOTATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


@click.command("label")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--labels", "labels_path", required=True, type=click.Path(),
              help="Label file (JSON Lines) to append to; created if missing.")
@click.option("--annotator", default=None,
              help="Your name in the label file (default: $MODERATION_ANNOTATOR, else your login name).")
@click.option("--order", type=click.Choice(ORDERS), default="sequential", show_default=True,
              help="sequential: input order; uncertain: the model's least certain first, re-ranked as you "
                   "label (uses the default model unless --model is given); random: shuffled.")
@click.option("--model", "model_dir", default=None, type=click.Path(),
              help="Model directory: show its scores and spans (e.g. models/default).")
@click.option("--refit-every", default=20, show_default=True, type=click.IntRange(1, 100000),
              help="With --order uncertain: refit the light model on your labels and re-rank after this many saves.")
@click.option("--seed", default=None, type=int, help="Seed for --order random.")
@click.option("--hide-scores", is_flag=True,
              help="Do not show the model's scores and spans (the model still orders with --order uncertain).")
@click.option("--input-format", default="auto", show_default=True,
              type=click.Choice(("auto", "scrape", "dat", "html", "jsonl", "csv")),
              help="How to read the inputs; auto picks from content and extension.")
@click.option("--encoding", default=None, help="Text encoding of the inputs (default: detect).")
def label_cmd(inputs, labels_path, annotator, order, model_dir, refit_every, seed, hide_scores, input_format,
              encoding):
    """Label comments in the terminal, one keystroke each.

    INPUTS are anything `moderation extract` reads. Their comments are offered one at a
    time (not articles, titles, page furniture or deleted posts), with the thread title,
    the post each replies to and lexicon hits highlighted. With a model you also see its
    scores and spans. Keys: s/o/d toggle slur/off_topic/delete, Enter saves the toggled
    labels (none = clean), n saves as clean, x skips, u undoes the last label, ? shows
    help, q quits. Every label is on disk before the next comment shows. Started again, the
    tool skips what ANNOTATOR has already labeled. See labels/GUIDELINES.md for what each
    label means.

    Example:

    \b
        moderation label seeds/ --labels labels/seed.jsonl --model models/default
    """
    from .extract import ExtractError, extract

    annotator = (annotator if annotator is not None else default_annotator()).strip()
    if not annotator or any(not ch.isprintable() for ch in annotator):
        raise click.ClickException("--annotator must be a non-empty printable name")
    # Cheap checks first, so bad arguments are reported with or without a terminal.
    for p in inputs:
        if not Path(p).exists():
            raise click.ClickException(f"{p}: no such file or directory")
    try:
        check_label_file(labels_path)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None
    target = Path(labels_path)
    parent = target.parent if str(target.parent) else Path(".")
    if (target.exists() and not os.access(target, os.W_OK)) or (not target.exists() and parent.exists()
                                                                 and not os.access(parent, os.W_OK)):
        raise click.ClickException(f"{labels_path}: not writable")
    if not os.isatty(sys.stdin.fileno()):
        raise click.ClickException("moderation label is interactive and needs a terminal, but stdin is not a TTY "
                                   "(run it in a terminal, not in a pipe or a script)")
    notices: list[str] = []

    def note(message: str) -> None:
        notices.append(message)
        _warn_stderr(message)

    try:
        events = read_label_files([labels_path], warn=note) if target.exists() else []
        records = list(extract(list(inputs), input_format=input_format, encoding=encoding, warn=note))
    except (LabelFileError, ExtractError) as exc:
        raise click.ClickException(str(exc)) from None
    items = collect_items(records)
    if not items:
        raise click.ClickException(f"no comments to label in {', '.join(inputs)} (articles, titles and deleted "
                                   "posts are not offered)")
    view = None
    if model_dir is not None or order == "uncertain":
        from .model import ModelError
        from .score import Moderator

        click.echo(f"scoring {len(items):,} comments with {model_dir or 'the default model'}…", err=True)
        try:
            view = ModelView(Moderator.load(model_dir), items, keep_features=order == "uncertain")
        except ModelError as exc:
            raise click.ClickException(str(exc)) from None
    session = Session(items, labels_path, annotator, events=events, order=order, model=view,
                      refit_every=refit_every, seed=seed, show_scores=not hide_scores, notices=notices)
    already = session.done_count
    if session.current is None:
        click.echo(f"nothing to label: all {len(items):,} comments in the input are already labeled by "
                   f"{annotator} in {labels_path}")
        return
    try:
        run_terminal(session)
    except TerminalError as exc:
        raise click.ClickException(f"moderation label needs a terminal: {exc}") from None
    click.echo(f"labeled {session.saved_this_session} this session; {session.done_count} of {len(items)} "
               f"comments in the input are labeled by {annotator} in {labels_path} "
               f"({already} before this session); {len(session.queue)} left"
               + (f", {session.skipped} skipped" if session.skipped else ""))
    if session.toggles and session.current is not None:
        click.echo("(the toggles on the last comment were not saved)")


@click.group("labels")
def labels_group():
    """Label files written by `moderation label`: agreement statistics, and export to a
    training table.

    Example:

        moderation labels stats labels/seed.jsonl labels/other.jsonl
    """


@labels_group.command("stats")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="table for people, json for scripts.")
@click.option("--max-disagreements", default=50, show_default=True, type=click.IntRange(0, None),
              help="Disagreements listed in the table (json lists all).")
def stats_cmd(files, fmt, max_disagreements):
    """Counts per label and annotator, and agreement between annotators.

    Agreement is measured per label on the comments that two or more annotators labeled
    (each annotator's latest label, undo applied). With two annotators it is Cohen's kappa,
    with more Krippendorff's alpha (nominal). The comments they disagree on are listed.
    Corrupt lines are reported with their line number and skipped.

    Example:

        moderation labels stats labels/seed.jsonl --format json
    """
    try:
        events = read_label_files(files, warn=_warn_stderr)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None
    stats = label_stats(events)
    if fmt == "json":
        click.echo(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        print_stats(stats, sys.stdout, max_disagreements=max_disagreements)


@labels_group.command("export")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(("csv", "jsonl")), default=None,
              help="Output format (default: from the --out extension, else jsonl).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
def export_cmd(files, fmt, out):
    """One row per comment with its labels resolved, ready for `moderation train`.

    Each annotator's latest label counts (undo applied), then the majority (a tie counts as
    positive). The columns are id, thread, text, slur, off_topic, delete, annotators,
    thread_title, thread_text and source. A label nobody gave is blank (unknown).

    Example:

        moderation labels export labels/ --out labels.csv
    """
    from .files import atomic_write

    fmt = fmt or ("csv" if out and out.lower().endswith((".csv", ".tsv")) else "jsonl")
    try:
        events = read_label_files(files, warn=_warn_stderr)
    except LabelFileError as exc:
        raise click.ClickException(str(exc)) from None
    rows = export_rows(events)
    if out is None or out == "-":
        write_export(rows, sys.stdout, fmt)
        return
    try:
        with atomic_write(out, newline="" if fmt == "csv" else None) as fh:
            n = write_export(rows, fh, fmt)
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write ({exc.strerror or exc})") from None
    click.echo(f"wrote {n:,} comments to {out}", err=True)
