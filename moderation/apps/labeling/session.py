"""A labeling session as a pure state machine: the queue of comments, the toggled labels, and
the transitions of each key (toggle, save, skip, undo, help, quit).

It knows nothing about terminals and draws nothing: :meth:`Session.view` says what to show
(a :class:`View`), :mod:`~moderation.apps.labeling.screen` draws it and
:mod:`~moderation.apps.labeling.terminal` feeds keys in. Its only I/O is appending label
events to the label file (:func:`moderation.labels.events.append_events`: one write under a
lock, then fsync) before a save or an undo returns.

Examples
--------
>>> import tempfile, pathlib, json
>>> from moderation.io.readers.scrape import parse_scrape
>>> from moderation.apps.labeling.items import collect_items
>>> items = collect_items(parse_scrape("在韓米軍の話\\n>>1\\n下朝鮮は黙ってろ", thread="t"))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "l.jsonl"
>>> s = Session(items, path, "m1")
>>> for key in "n" + "sd" + "\\r":
...     _ = s.press(key)
>>> for line in path.read_text().splitlines():
...     print(json.loads(line)["text"], json.loads(line)["labels"])
在韓米軍の話 {'slur': 0, 'off_topic': 0, 'delete': 0}
下朝鮮は黙ってろ {'slur': 1, 'off_topic': 0, 'delete': 1}
>>> s.done_count, s.current is None, s.view().comment is None
(2, True, True)
"""

from __future__ import annotations

import os
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...core import LABELS
from ...labels.events import (
    append_events,
    label_event,
    labels_text,
    latest_adjudications,
    latest_by_annotator,
    resolve,
    undo_event,
)
from .items import Item

if TYPE_CHECKING:
    from .model_view import ModelView

#: The key that toggles each label, in display order.
LABEL_KEYS: dict[str, str] = {"s": "slur", "o": "off_topic", "d": "delete"}
if tuple(LABEL_KEYS.values()) != LABELS:  # checked at import: a new label needs a key here
    raise ImportError(f"LABEL_KEYS names {tuple(LABEL_KEYS.values())}, but the labels are {LABELS}")
#: The orders comments can be offered in.
ORDERS: tuple[str, ...] = ("sequential", "uncertain", "random")
ENTER_KEYS: tuple[str, ...] = ("\r", "\n")  # save the toggled labels
CLEAN_KEY = "n"  # save as clean
SKIP_KEY = "x"
UNDO_KEY = "u"
HELP_KEY = "?"
QUIT_KEYS: tuple[str, ...] = ("q", "\x03", "\x04")  # q, Ctrl-C, Ctrl-D
NEXT_PAGE_KEYS: tuple[str, ...] = (" ", "j", "<pgdn>", "<down>")  # page a long comment
PREV_PAGE_KEYS: tuple[str, ...] = ("k", "b", "<pgup>", "<up>")
CONTEXT_KEY = "c"  # show the thread's article and earlier posts instead of the comment
NOTE_KEY = "/"  # write a note for the label (Enter keeps it, Esc drops it)
ESCAPE_KEY = "\x1b"
BACKSPACE_KEYS: tuple[str, ...] = ("\x7f", "\x08")
#: The modes a session runs in: label new comments, review this annotator's labels, or
#: adjudicate disagreements (saves are final decisions).
MODES: tuple[str, ...] = ("label", "review", "adjudicate")
#: Kana an input method types for a key (the first letter of its romaji): with a Japanese
#: input method on, ``す`` or ``お`` still act as ``s`` or ``o``.
KANA_KEYS: dict[str, str] = {
    **dict.fromkeys("さしすせそサシスセソ", "s"),
    **dict.fromkeys("おぉオォ", "o"),
    **dict.fromkeys("だぢづでどダヂヅデド", "d"),
    **dict.fromkeys("なにぬねのんナニヌネノン", "n"),
    **dict.fromkeys("うぅウゥ", "u"),
    **dict.fromkeys("かきくけこカキクケコ", "k"),
    **dict.fromkeys("じジ", "j"),
    **dict.fromkeys("ちチ", "c"),
    **dict.fromkeys("ばびぶべぼバビブベボ", "b"),
    "。": ".",
    "・": "/",
    "？": "?",
    "　": " ",
}


def ascii_key(key: str) -> str:
    """The key a full-width or kana key stands for (``ｓ`` → ``s``, ``す`` → ``s``, ``？`` →
    ``?``); other keys are returned unchanged.

    Examples
    --------
    >>> [ascii_key(k) for k in ("ｓ", "す", "Ｄ", "お", "／", "x", "漢")]
    ['s', 's', 'd', 'o', '/', 'x', '漢']
    """
    if len(key) != 1 or key.isascii():
        return key
    if key in KANA_KEYS:
        return KANA_KEYS[key]
    folded = unicodedata.normalize("NFKC", key)
    if len(folded) == 1 and folded.isascii() and folded.isprintable():
        return folded.lower() if folded.isalpha() else folded
    return key


def initial_order(
    n: int, order: str, *, model: ModelView | None = None, seed: int | None = None, done: Iterable[int] = ()
) -> list[int]:
    """The order a session offers items in when it starts (``labels queue`` writes the same).

    Parameters
    ----------
    n : int
        The number of items.
    order : {'sequential', 'uncertain', 'random'}
    model : ModelView, optional
        Required for ``uncertain``: least certain first (:meth:`ModelView.margins`), input
        order breaking ties.
    seed : int, optional
        For ``random``.
    done : iterable of int
        Items left out (already labeled).

    Returns
    -------
    list of int
        Item indices.

    Examples
    --------
    >>> initial_order(4, "sequential", done=[1])
    [0, 2, 3]
    >>> initial_order(4, "random", seed=0) == initial_order(4, "random", seed=0)
    True
    """
    skip = set(done)
    queue = [i for i in range(n) if i not in skip]
    if order == "random":
        random.Random(seed).shuffle(queue)
    elif order == "uncertain":
        if model is None:
            raise ValueError("order='uncertain' needs a model")
        margins = model.margins(queue)
        queue = [i for _m, _pos, i in sorted(zip(margins, range(len(queue)), queue, strict=True))]
    elif order != "sequential":
        raise ValueError(f"order must be one of {', '.join(ORDERS)}")
    return queue


# --------------------------------------------------------------------------- what to show


@dataclass(frozen=True)
class CommentView:
    """The comment on screen and what surrounds it.

    Attributes
    ----------
    id, thread, text : str
    no : int or None
        Its post number.
    title, headline : str or None
        The thread title; else the first line of the thread's first article.
    replies : tuple of (int, str or None)
        Per post it replies to: the post's text, ``""`` if deleted, None if not in the input.
    thread_text : str
        The article and earlier posts (what the model reads as context).
    others : tuple of (str, str, str)
        When adjudicating or reviewing: per annotator, their labels and note.
    """

    id: str
    thread: str
    no: int | None
    text: str
    title: str | None
    headline: str | None
    replies: tuple[tuple[int, str | None], ...]
    thread_text: str = ""
    others: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class ScoresView:
    """The model's view of the comment on screen.

    Attributes
    ----------
    scores : dict
        Label → probability, None for a label the model lacks.
    thresholds : dict
        Label → ``{"hold", "reject"}``, None for a label without thresholds.
    action : str
    flagged : tuple of str
    spans : tuple of dict or None
        The reasons behind the flags; None while they are being computed.
    """

    scores: dict[str, float | None]
    thresholds: dict[str, dict[str, float] | None]
    action: str
    flagged: tuple[str, ...]
    spans: tuple[dict, ...] | None


@dataclass(frozen=True)
class View:
    """Everything a screen shows at one moment of a :class:`Session` (a view-model).

    Attributes
    ----------
    annotator, labels_path, order : str
    has_model : bool
    model_version : str or None
    show_scores : bool
    comment : CommentView or None
        None when nothing is left to label.
    scores : ScoresView or None
        None without a model, with scores hidden, or with nothing left.
    toggles : frozenset of str
        The labels toggled on for the comment on screen.
    done, total, this_session, skipped, left : int
        Progress: labeled by this annotator, offered, saved this session, skipped this
        session, still queued.
    rate_per_hour : float or None
        Saves per hour this session (None until there are three).
    notices : tuple of str
        Warnings to show (only until the first key).
    status : str
        What the last key did.
    help : bool
        Whether the key help is shown.
    mode : str
        One of :data:`MODES`.
    top : int
        Where the body (comment or context) starts on screen: an offset into its displayable text.
    unseen : int
        Characters of the comment not shown yet (a save is refused until it is 0).
    context : bool
        The thread context is shown instead of the comment.
    note : str
        The note that goes with the next save.
    editing_note : bool
        Keys are typed into the note.
    """

    annotator: str
    labels_path: str
    order: str
    has_model: bool
    model_version: str | None
    show_scores: bool
    comment: CommentView | None
    scores: ScoresView | None
    toggles: frozenset[str]
    done: int
    total: int
    this_session: int
    skipped: int
    left: int
    rate_per_hour: float | None
    notices: tuple[str, ...]
    status: str
    help: bool
    mode: str = "label"
    top: int = 0
    unseen: int = 0
    context: bool = False
    note: str = ""
    editing_note: bool = False

    @property
    def all_done(self) -> bool:
        """Every offered comment is labeled by this annotator."""
        return self.done == self.total


# --------------------------------------------------------------------------- the session


class Session:
    """The state of one labeling session: the queue, the toggles, saving, undo and re-ranking.

    It knows nothing about terminals: :func:`~moderation.apps.labeling.terminal.run_terminal`
    feeds it keys and draws :meth:`view`; tests and benchmarks drive it directly. Work that
    needs the model (spans, refits) is done outside it (a
    :class:`~moderation.apps.labeling.worker.Background` worker or
    :func:`~moderation.apps.labeling.worker.idle`) and handed back through
    :meth:`apply_spans` and :meth:`apply_ranking`.

    Parameters
    ----------
    items : sequence of Item
        Every comment offered by the input (already-labeled ones included: they count in
        the progress and are skipped).
    labels_path : path-like
        The label file events are appended to.
    annotator : str
    events : iterable of dict
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
    notices : sequence of str
        Warnings to show on the first screen (corrupt lines, skipped input rows).
    clock : callable
        Seconds, for the labeling rate.
    mode : {'label', 'review', 'adjudicate'}
        ``label`` offers what this annotator has not labeled; ``review`` walks the items (the
        annotator's past labels: toggles start from them, a save appends a new label);
        ``adjudicate`` walks the items (disagreements) and saves final decisions.

    Raises
    ------
    ValueError
        For an unknown order, or ``order='uncertain'`` without a model.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from moderation.core import Comment
    >>> items = [Item(Comment("t", f"t-{n}", n, "comment", f"投稿{n}"), "題", None, "") for n in (1, 2)]
    >>> s = Session(items, pathlib.Path(tempfile.mkdtemp()) / "l.jsonl", "m1")
    >>> s.toggle("slur"); s.view().toggles
    frozenset({'slur'})
    >>> s.skip(); s.view().comment.id, s.status
    ('t-2', 'skipped t-1')
    """

    def __init__(
        self,
        items: Sequence[Item],
        labels_path: str | os.PathLike,
        annotator: str,
        *,
        events: Iterable[dict] = (),
        order: str = "sequential",
        model: ModelView | None = None,
        refit_every: int = 20,
        seed: int | None = None,
        show_scores: bool = True,
        notices: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        mode: str = "label",
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        if order == "uncertain" and model is None:
            raise ValueError("order='uncertain' needs a model")
        self.items = list(items)
        self.labels_path = Path(labels_path)
        self.annotator = annotator
        self.order = order
        self.mode = mode
        self.model = model
        self.refit_every = max(1, int(refit_every))
        self.show_scores = show_scores
        self.clock = clock
        self.started = clock()
        self.index_of = {item.id: i for i, item in enumerate(self.items)}
        events = [e for e in events if isinstance(e, dict)]
        standing = latest_by_annotator(events)
        mine = sorted(
            (
                (e.get("_line", 0), cid)
                for (cid, ann), e in standing.items()
                if ann == annotator and cid in self.index_of
            )
        )
        self.standing = {cid: e for (cid, ann), e in standing.items() if ann == annotator}
        self.others: dict[str, list[dict]] = {}
        for (cid, _ann), e in standing.items():
            self.others.setdefault(cid, []).append(e)
        self.adjudicated = latest_adjudications(events)
        self.done: set[int] = set() if mode != "label" else {self.index_of[cid] for _line, cid in mine}
        # Undo history: this annotator's standing labels in file order, so that 'u' right after
        # a resume takes back the last label of the previous session.
        # Each entry: item, labels, saved this session, note (an undo brings labels and note back).
        self.history: list[tuple[int, dict, bool, str]] = (
            [
                (
                    self.index_of[cid],
                    dict(standing[(cid, annotator)].get("labels") or {}),
                    False,
                    str(standing[(cid, annotator)].get("note") or ""),
                )
                for _l, cid in mine
            ]
            if mode == "label"
            else []
        )
        # Labels known so far (every annotator, resolved), for the light model of --order uncertain.
        self.known: dict[int, dict] = {
            self.index_of[r["id"]]: dict(r["labels"])
            for r in resolve(events)
            if r["id"] in self.index_of and r["labels"]
        }
        self.queue: list[int] = initial_order(len(self.items), order, model=model, seed=seed, done=self.done)
        self.toggles: set[str] = set()
        self.saved_this_session = 0
        self.skipped = 0
        self.saves_since_refit = 0
        self.refit_pending = False
        self.refits = 0
        self.help = False
        self.status = ""
        self.notices = list(notices)
        self.show_notices = True  # until the first key
        self._reset_body()
        self.hidden = False  # the screen is too small to show the comment
        self._note_before = ""
        self.context = False
        self.note = ""
        self.editing_note = False
        self._entered: int | None = None
        self._enter()

    def _enter(self) -> None:
        """Set up the comment that came on screen: first page, and (reviewing) its standing labels."""
        cur = self.current
        if cur == self._entered:
            return
        self._entered = cur
        self._reset_body()
        self.editing_note = False
        self.note = ""
        if cur is None:
            return
        cid = self.items[cur].id
        before = self.adjudicated.get(cid) if self.mode == "adjudicate" else self.standing.get(cid)
        if self.mode != "label" and before is not None:
            self.toggles = {label for label in LABELS if (before.get("labels") or {}).get(label) == 1}
            self.note = str(before.get("note") or "")

    def _reset_body(self) -> None:
        # Where the body (the comment, or the thread context) starts on screen: an offset into
        # its displayable text; the offsets paged from (for k); how far it was shown.
        self.top = self.ctx_top = 0
        self.tops: list[int] = []
        self.ctx_tops: list[int] = []
        self.shown_end: int | None = None
        self.ctx_end: int | None = None
        self.body_chars: int | None = None
        self.seen_to = 0
        self.context = False

    def set_shown(self, end: int, total: int, *, hidden: bool = False) -> None:
        """What the front end drew of the body: up to display offset ``end`` of ``total``
        (from :attr:`top`). A save needs the whole comment shown; the next page starts exactly
        at ``end``, so however the layout changes in between, no character is skipped.
        ``hidden``: the screen is too small to show the comment at all (nothing can be saved).

        Examples
        --------
        >>> from moderation.core import Comment
        >>> from moderation.apps.labeling.items import Item
        >>> s = Session([Item(Comment("t", "t-1", 1, "comment", "x" * 100), "題", None, "")], "l.jsonl", "m1")
        >>> s.set_shown(40, 100); s.unseen_chars
        60
        >>> _ = s.press(" "); s.top, s.unseen_chars
        (40, 60)
        >>> s.set_shown(100, 100); s.unseen_chars
        0
        """
        self.hidden = hidden
        if hidden:
            return
        if self.context:
            self.ctx_end = end
            return
        self.shown_end, self.body_chars = end, total
        if self.top <= self.seen_to:
            self.seen_to = max(self.seen_to, end)

    @property
    def unseen_chars(self) -> int:
        """Characters of the comment on screen not shown yet (0 before any front end said)."""
        return 0 if self.body_chars is None else max(0, self.body_chars - self.seen_to)

    # ----------------------------------------------------------------------- state
    @property
    def current(self) -> int | None:
        """Index of the item on screen (None when nothing is left)."""
        return self.queue[0] if self.queue else None

    @property
    def done_count(self) -> int:
        """Offered comments this annotator has a standing label for."""
        return len(self.done)

    @property
    def rate_per_hour(self) -> float | None:
        """Saves per hour this session (None before the third save)."""
        elapsed = self.clock() - self.started
        if self.saved_this_session < 3 or elapsed <= 0:
            return None
        return self.saved_this_session / elapsed * 3600

    # ----------------------------------------------------------------------- keys
    def press(self, key: str) -> bool:
        """Handle one key; returns False when the session should end (a quit key).

        Saving appends the event (flushed and fsynced) before returning, so whatever is
        drawn next comes after the label is on disk. A save or undo that cannot be written
        leaves everything as it was and says so in :attr:`status`.

        Parameters
        ----------
        key : str
            One key: a label key (:data:`LABEL_KEYS`), Enter, ``n``, ``x``, ``u``, ``?`` or a
            quit key.

        Returns
        -------
        bool
        """
        self.show_notices = False
        if self.editing_note:
            self._note_key(key)
            return True
        typed, key = key, ascii_key(key)
        if key in QUIT_KEYS:
            return False
        if key == HELP_KEY:
            self.help = not self.help
            return True
        if key == UNDO_KEY:
            try:
                self.undo()
            except OSError as exc:
                self.status = f"NOT UNDONE: cannot write {self.labels_path} ({exc.strerror or exc})"
            return True
        if self.current is None:
            if key not in ("\x1b",):
                self.status = "nothing left to label: u undo the last label · q quit"
            return True
        if self.hidden and (key in LABEL_KEYS or key in ENTER_KEYS or key == CLEAN_KEY):
            self.status = "the terminal is too small to show the comment: make it bigger (nothing was saved)"
            return True
        if key in NEXT_PAGE_KEYS or key in PREV_PAGE_KEYS:
            forward = key in NEXT_PAGE_KEYS
            if self.context:
                if forward and self.ctx_end is not None and self.ctx_end > self.ctx_top:
                    self.ctx_tops.append(self.ctx_top)
                    self.ctx_top = self.ctx_end
                elif not forward and self.ctx_tops:
                    self.ctx_top = self.ctx_tops.pop()
            elif forward and self.shown_end is not None and self.body_chars and self.shown_end < self.body_chars:
                self.tops.append(self.top)
                self.top = self.shown_end
            elif not forward and self.tops:
                self.top = self.tops.pop()
            self.status = ""
        elif key == CONTEXT_KEY:
            self.context = not self.context
            self.ctx_top, self.ctx_tops, self.ctx_end = 0, [], None
            self.status = ""
        elif key == NOTE_KEY:
            self.editing_note = True
            self.status = "writing a note: Enter keeps it (saved with the label), Esc drops the change"
            self._note_before = self.note
        elif key in LABEL_KEYS:
            self.toggle(LABEL_KEYS[key])
        elif key in ENTER_KEYS or key == CLEAN_KEY:
            if self.unseen_chars > 0 and not self.context:
                self.status = (
                    f"NOT SAVED: {self.unseen_chars:,} more characters of this comment not shown yet; "
                    "space shows the next page (a label covers the whole text)"
                )
                return True
            labels = {label: int(key != CLEAN_KEY and label in self.toggles) for label in LABELS}
            try:
                self.save(labels)
            except OSError as exc:  # the comment stays on screen with its toggles: nothing is lost silently
                self.status = (
                    f"NOT SAVED: cannot write {self.labels_path} ({exc.strerror or exc}); fix that and save again"
                )
        elif key == SKIP_KEY:
            self.skip()
        elif key == ESCAPE_KEY or key.startswith("<"):
            pass
        else:
            shown = key if key.isprintable() else repr(key)
            self.status = f"key {shown} does nothing here; press ? for help"
            if not typed.isascii():
                self.status += " (an input method seems on: switch it to direct input, or use the keys it maps)"
        if typed != key and not self.status:
            self.status = f"{typed} read as {key} (an input method seems on; direct input is faster)"
        self._enter()
        return True

    def _note_key(self, key: str) -> None:
        if key in ENTER_KEYS:
            self.editing_note = False
            self.status = "note kept: it is saved with the label" if self.note else "no note"
        elif key == ESCAPE_KEY:
            self.editing_note = False
            self.note = self._note_before
            self.status = "note unchanged"
        elif key in BACKSPACE_KEYS:
            self.note = self.note[:-1]
        elif key in ("\x03", "\x04"):
            self.editing_note = False
            self.note = self._note_before
        elif (len(key) == 1 and key.isprintable()) or key == "\t":
            self.note += key if key != "\t" else " "

    def toggle(self, label: str) -> None:
        """Toggle ``label`` for the comment on screen."""
        self.toggles ^= {label}
        self.status = ""

    def skip(self) -> None:
        """Pass over the comment on screen without saving; it comes back next session."""
        index = self.queue.pop(0)
        self.skipped += 1
        self.toggles = set()
        self.status = f"skipped {self.items[index].id}"
        self._enter()

    def save(self, labels: dict[str, int]) -> dict:
        """Append a label event for the current item and move on.

        Parameters
        ----------
        labels : dict
            Label → 0/1.

        Returns
        -------
        dict
            The event written.

        Raises
        ------
        OSError
            When the label file cannot be written (nothing changes then).
        """
        index = self.queue[0]
        item = self.items[index]
        rec = item.comment
        event = label_event(
            rec.id,
            rec.text,
            labels,
            annotator=self.annotator,
            thread=rec.thread,
            source=rec.source or None,
            thread_title=item.title,
            thread_text=item.thread_text or None,
            note=self.note.strip() or None,
            adjudication=True if self.mode == "adjudicate" else None,
        )
        append_events(self.labels_path, [event])  # one write under a lock, then fsync
        (self.adjudicated if self.mode == "adjudicate" else self.standing)[rec.id] = event
        self.queue.pop(0)
        self.done.add(index)
        self.history.append((index, dict(event["labels"]), True, str(event.get("note") or "")))
        self.known[index] = dict(event["labels"])
        self.saved_this_session += 1
        self.toggles = set()
        what = "decided" if self.mode == "adjudicate" else "saved"
        self.status = f"{what} {rec.id}: {labels_text(event['labels'])}" + (" (with a note)" if "note" in event else "")
        self._enter()
        if self.order == "uncertain":
            self.saves_since_refit += 1
            if self.saves_since_refit >= self.refit_every:
                self.refit_pending = True
        return event

    def undo(self) -> dict | None:
        """Take back this annotator's last label: append an undo event, and put the comment back
        on screen with its toggles and note as they were.

        Returns
        -------
        dict or None
            The undo event (None if there was nothing to undo).

        Raises
        ------
        OSError
            When the label file cannot be written (nothing changes then).
        """
        if not self.history:
            self.status = "nothing to undo"
            return None
        index, labels, this_session, note = self.history[-1]
        item = self.items[index]
        event = undo_event(item.id, annotator=self.annotator, adjudication=self.mode == "adjudicate")
        append_events(self.labels_path, [event])
        (self.adjudicated if self.mode == "adjudicate" else self.standing).pop(item.id, None)
        self.history.pop()
        self.done.discard(index)
        self.known.pop(index, None)
        if index in self.queue:
            self.queue.remove(index)
        self.queue.insert(0, index)
        self.toggles = {label for label in LABELS if labels.get(label) == 1}
        self._entered = index  # on screen again with the toggles it was saved with
        self._reset_body()
        self.editing_note = False
        self.note = note  # the note comes back with the labels
        if this_session:
            self.saved_this_session -= 1
        self.status = f"undid the label of {item.id} (was {labels_text(labels)}); change it and save"
        return event

    # ----------------------------------------------------------------------- work done elsewhere
    def wanted_spans(self) -> list[int]:
        """Items whose spans are wanted next: the comment on screen, then the two after it
        (flagged ones only, not yet computed)."""
        if self.model is None or not self.show_scores:
            return []
        return [i for i in self.queue[:3] if self.model.flagged[i] and self.model.explained(i) is None]

    def refit_request(self) -> tuple[dict[int, dict], list[int]] | None:
        """The labels so far and the items to re-rank, when a refit is due (it is then
        considered under way until :meth:`apply_ranking`)."""
        if not self.refit_pending:
            return None
        self.refit_pending = False
        self.saves_since_refit = 0
        return dict(self.known), list(self.queue[1:])

    def apply_spans(self, index: int, reasons: list[dict]) -> bool:
        """Store spans computed elsewhere; True when they belong to the comment on screen."""
        if self.model is not None:
            self.model.store(index, reasons)
        return index == self.current

    def apply_ranking(self, ranked: Sequence[int], refitted: Sequence[str], n_known: int) -> None:
        """Re-order what remains (the comment on screen stays) by a ranking from
        :meth:`ModelView.rank`; items it does not know keep their place after it."""
        rank = {index: r for r, index in enumerate(ranked)}
        head, rest = self.queue[:1], self.queue[1:]
        self.queue = head + sorted(rest, key=lambda i: rank.get(i, len(rank)))  # stable: unknown ones keep their order
        self.refits += 1
        what = ", ".join(refitted) if refitted else "none yet (too few labels of each kind)"
        self.status = f"re-ranked {len(rest)} remaining on {n_known} labels (refitted: {what})"

    # ----------------------------------------------------------------------- what to show
    def view(self) -> View:
        """What the screen shows now.

        Returns
        -------
        View
        """
        cur = self.current
        comment = scores = None
        if cur is not None:
            item = self.items[cur]
            rec = item.comment
            others = tuple(
                (str(e.get("annotator")), labels_text(e.get("labels") or {}), str(e.get("note") or ""))
                for e in self.others.get(rec.id, ())
                if self.mode == "adjudicate" or e.get("annotator") != self.annotator
            )
            comment = CommentView(
                rec.id,
                rec.thread,
                rec.no,
                item.text,
                item.title,
                item.headline,
                tuple(item.replies),
                item.thread_text,
                others if self.mode != "label" else (),
            )
            if self.model is not None and self.show_scores:
                spans = self.model.explained(cur)
                scores = ScoresView(
                    self.model.scores(cur),
                    {label: self.model.thresholds.get(label) for label in LABELS},
                    self.model.actions[cur],
                    tuple(self.model.flagged[cur]),
                    None if spans is None else tuple(spans),
                )
        return View(
            annotator=self.annotator,
            labels_path=str(self.labels_path),
            order=self.order,
            has_model=self.model is not None,
            model_version=None if self.model is None else self.model.version,
            show_scores=self.show_scores,
            comment=comment,
            scores=scores,
            toggles=frozenset(self.toggles),
            done=self.done_count,
            total=len(self.items),
            this_session=self.saved_this_session,
            skipped=self.skipped,
            left=len(self.queue),
            rate_per_hour=self.rate_per_hour,
            notices=tuple(self.notices) if self.show_notices else (),
            status=self.status,
            help=self.help,
            mode=self.mode,
            top=self.ctx_top if self.context else self.top,
            unseen=self.unseen_chars,
            context=self.context,
            note=self.note,
            editing_note=self.editing_note,
        )
