"""Drawing a :class:`~moderation.apps.labeling.session.View` as one full screen of text with ANSI
styles (rich).

The comment's lexicon hits are highlighted (bold red underlined) and the model's spans shown
on a yellow background. With a height, a comment too long for the terminal is cut (with a
note) so that the title, the toggles and the progress stay on screen.

Examples
--------
>>> import re
>>> from moderation.core import Comment
>>> from moderation.apps.labeling.session import Session
>>> from moderation.apps.labeling.items import Item
>>> item = Item(Comment("t", "t-1", 1, "comment", "それな"), "在韓米軍の役割", None, "")
>>> text = re.sub(r"\\x1b\\[[0-9;?]*[A-Za-z]", "", Screen().render(Session([item], "l.jsonl", "m1").view(), 80))
>>> print(text.splitlines()[1])
thread  在韓米軍の役割  [t]
"""

from __future__ import annotations

import bisect
import io
from typing import Any

from ...core import step
from ...display import display_map, displayable
from ...labels.events import labels_text
from .session import LABEL_KEYS, CommentView, ScoresView, View

#: Longer comments are cut on screen (the label covers the whole text).
MAX_SHOWN_CHARS = 2000
#: The post a comment replies to is shown up to this many characters.
REPLY_EXCERPT = 240
#: The help shown with ``?``: key, what it does.
HELP: tuple[tuple[str, str], ...] = (
    ("s", "toggle slur: a slur, dehumanising epithet or mocking caricature of a group"),
    ("o", "toggle off_topic: unrelated to the thread, spam/ads, or a language the board does not use"),
    (
        "d",
        "toggle delete: a moderator would remove it (hate, attacks, threats, personal info, spam, obscenity, floods)",
    ),
    ("Enter", "save the toggled labels (nothing toggled = clean) and go on"),
    ("n", "save as clean and go on"),
    ("x", "skip: save nothing; it comes back in your next session"),
    ("u", "undo your last saved label: that comment comes back"),
    ("?", "show or hide this help"),
    ("q", "quit (toggles not saved are dropped)"),
)
#: How escaped control and format characters (``␛``, ``\\u202e``) stand out from the text.
ESCAPE_STYLE = "reverse"
_ACTION_STYLE = {"allow": "green", "hold": "yellow", "reject": "bold red"}


class Screen:
    """Draws views at a given width; keeps its rich console between draws.

    Examples
    --------
    >>> Screen().render.__doc__.split(".")[0]
    'The whole screen as text with ANSI styles (a full redraw)'
    """

    def __init__(self) -> None:
        self._console: Any = None
        self._buffer = io.StringIO()

    def render(self, view: View, width: int = 100, height: int | None = None) -> str:
        """The whole screen as text with ANSI styles (a full redraw).

        Parameters
        ----------
        view : View
        width : int
            Columns.
        height : int, optional
            Lines: a comment too long for them is cut (with a note) so the title, toggles and
            progress stay on screen.

        Returns
        -------
        str
        """
        from rich.console import Console

        if self._console is None or self._console.width != width:
            self._buffer = io.StringIO()
            self._console = Console(
                file=self._buffer,
                width=width,
                force_terminal=True,
                color_system="standard",
                highlight=False,
                markup=False,
                emoji=False,
                soft_wrap=False,
                legacy_windows=False,
            )
        screen = self._draw(view, None)
        if height is not None and view.comment is not None:
            overflow = screen.count("\n") - (height - 1)
            if overflow > 0:
                from rich.text import Text

                shown = display_map(view.comment.text[:MAX_SHOWN_CHARS])
                inner = max(10, width - 4)
                wrapped = [Text(p).wrap(self._console, inner) for p in shown.text.split("\n")]
                keep = max(3, sum(max(1, len(w)) for w in wrapped) - overflow - 1)
                lo = count = 0  # the characters of the first `keep` wrapped lines
                for w in wrapped:
                    for line in w or [Text("")]:
                        if count == keep:
                            break
                        lo += len(line.plain)
                        count += 1
                    if count == keep:
                        break
                    lo += 1  # the newline
                screen = self._draw(view, bisect.bisect_left(shown.offsets, lo))  # back to original offsets
        return screen

    def _draw(self, view: View, max_chars: int | None) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        for renderable in _renderables(view, max_chars):
            self._console.print(renderable)
        return self._buffer.getvalue()


def _renderables(view: View, max_chars: int | None = None) -> list:
    from rich.panel import Panel
    from rich.text import Text

    out: list = []
    head = Text.assemble(
        ("moderation label", "bold"),
        "  ",
        (displayable(view.annotator, one_line=True), "bold cyan"),
        " → ",
        displayable(view.labels_path, one_line=True),
        ("  order " + view.order, "dim"),
    )
    if view.has_model:
        head.append(f"  model {view.model_version}" + ("" if view.show_scores else " (scores hidden)"), "dim")
    out.append(head)
    comment = view.comment
    if comment is None:
        out.append(Text(""))
        if view.all_done:
            out.append(
                Text(
                    f"All {view.total} comments are labeled by {view.annotator} ({view.this_session} this session).",
                    style="bold green",
                )
            )
        else:
            out.append(
                Text(
                    f"Nothing left this session: {view.done} of {view.total} comments are "
                    f"labeled by {view.annotator}; the {view.total - view.done} skipped "
                    "come back next time.",
                    style="bold yellow",
                )
            )
        out.append(Text("u undo the last label · q quit"))
        out.extend(_footer(view, done_screen=True))
        return out
    thread = Text.assemble(("thread  ", "dim"))
    if comment.title:
        thread.append(displayable(comment.title, one_line=True), style="bold")
    elif comment.headline:
        thread.append(displayable(comment.headline, one_line=True), style="bold")
        thread.append("  (first article's headline; no title in the input)", style="dim")
    else:
        thread.append("(no title in the input)", style="dim")
    thread.append(f"  [{displayable(comment.thread, one_line=True)}]", style="dim")
    out.append(thread)
    for n, text in comment.replies:
        line = Text.assemble((f"  ↳ replies to >>{n}  ", "dim"))
        if text is None:
            line.append("(not in this input)", style="dim italic")
        elif text == "":
            line.append("[deleted post]", style="dim italic")
        else:
            excerpt = text if len(text) <= REPLY_EXCERPT else text[: REPLY_EXCERPT - 1] + "…"
            line.append(displayable(excerpt.replace("\n", " ⏎ "), one_line=True), style="italic")
        out.append(line)
    reasons = list(view.scores.spans or ()) if view.scores is not None else []
    title = "comment" if comment.no is None else f"comment {comment.no}"
    out.append(
        Panel(
            _comment_text(comment, reasons, max_chars),
            title=title,
            title_align="left",
            border_style="cyan",
            expand=True,
        )
    )
    out.append(Text(f"id {displayable(comment.id, one_line=True)}"))
    if view.scores is not None:
        out.extend(_model_lines(view.scores, reasons))
    out.append(_toggle_line(view))
    out.extend(_footer(view, done_screen=False))
    return out


def _comment_text(comment: CommentView, reasons: list[dict], max_chars: int | None = None) -> Any:
    from rich.text import Text

    from ...ml.lexicon import Lexicon

    text = comment.text
    limit = min(MAX_SHOWN_CHARS, max_chars if max_chars is not None else MAX_SHOWN_CHARS)
    cut = len(text) > limit
    # Spans index the original text; the escapes of control and format characters move them.
    display = display_map(text[:limit] if cut else text)
    at = display.offsets
    kept = len(at) - 1
    shown = Text(display.text)
    for a, b in display.escapes:
        shown.stylize(ESCAPE_STYLE, a, b)
    for r in reasons:
        a, b = r["span"]
        if r.get("source") != "lexicon" and b <= kept:
            shown.stylize("black on yellow", at[a], at[b])
    for hit in Lexicon.load().find(text):
        a, b = hit.span
        if b <= kept:
            shown.stylize("bold red underline", at[a], at[b])
    if cut:
        shown.append(f"\n… ({len(text) - limit} more characters not shown: a bigger terminal shows more)", style="dim")
    return shown


def _model_lines(scores: ScoresView, reasons: list[dict]) -> list:
    from rich.text import Text

    line = Text.assemble(("model   ", "dim"))
    for label, p in scores.scores.items():
        th = scores.thresholds.get(label)
        if p is None or th is None:
            line.append(f"{label} —   ", style="dim")
            continue
        style = {"reject": "bold red", "hold": "yellow", "allow": "green"}[step(p, th)]
        line.append(f"{label} {p:.2f}", style=style)
        line.append(f" (hold {th['hold']:.2f})   ", style="dim")
    line.append(f"→ {scores.action}", style=_ACTION_STYLE[scores.action])
    lines = [line]
    spans = Text.assemble(("spans   ", "dim"))
    if not scores.flagged:
        spans.append("nothing flagged", style="dim")
    elif scores.spans is None:
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
            spans.append(
                f"「{displayable(r['excerpt'], one_line=True)}」",
                style="bold red" if r.get("source") == "lexicon" else "yellow",
            )
            spans.append(f"{' lexicon' if r.get('source') == 'lexicon' else ''}  ", style="dim")
    lines.append(spans)
    return lines


def _toggle_line(view: View) -> Any:
    from rich.text import Text

    line = Text.assemble(("labels  ", "dim"))
    for key, label in LABEL_KEYS.items():
        on = label in view.toggles
        line.append(f"[{'x' if on else ' '}] {key} {label}", style="bold reverse" if on else "")
        line.append("   ")
    line.append(f"Enter saves: {labels_text({label: 1 for label in view.toggles})}", style="bold")
    if "slur" in view.toggles and "delete" not in view.toggles:
        line.append("   (a slur is almost always delete)", style="yellow")
    return line


def _footer(view: View, *, done_screen: bool) -> list:
    from rich.table import Table
    from rich.text import Text

    out: list = []
    rate = view.rate_per_hour
    progress = Text(
        f"labeled {view.done} of {view.total} · {view.this_session} this session · "
        f"{view.skipped} skipped · {view.left} left · "
        f"{'—' if rate is None else f'{rate:,.0f}'}/h",
        style="dim",
    )
    out.append(progress)
    if view.notices:
        for notice in view.notices[:5]:
            out.append(Text(f"warning: {displayable(notice, one_line=True)}", style="yellow"))
        if len(view.notices) > 5:
            out.append(Text(f"… and {len(view.notices) - 5} more warnings (printed when you quit)", style="yellow"))
    if view.status:
        out.append(Text(displayable(view.status, one_line=True), style="cyan"))
    if view.help:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for key, what in HELP:
            table.add_row(Text(key, style="bold"), what)
        out.append(table)
    elif not done_screen:
        out.append(Text("s/o/d toggle · Enter save · n clean · x skip · u undo · ? help · q quit", style="dim"))
    return out
