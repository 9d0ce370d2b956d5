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
from .session import LABEL_KEYS, ScoresView, View

#: Below this width, or with fewer lines than this for the comment, a "terminal too small"
#: screen is drawn instead.
MIN_WIDTH = 40
MIN_BODY_LINES = 3
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
    ("space / k", "next / previous page of a long comment (all of it must be shown before saving)"),
    ("c", "show the thread context: the article and earlier posts (c again: back)"),
    ("/", "write a note for this label (Enter keeps it, Esc drops it); saved and exported with it"),
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
            Lines: a comment (or the thread context) too long for them is shown a page at a
            time (:meth:`layout`), so the title, toggles and progress stay on screen; below
            the minimum size a "terminal too small" screen is drawn instead.

        Returns
        -------
        str
        """
        window = self.window(view, width, height)
        if window is None:
            return self._too_small(view, width, height or 0)
        return self._draw(view, width, window)

    def window(self, view: View, width: int, height: int | None = None) -> tuple[int, int, int] | None:
        """What the body (the comment, or with ``c`` the thread context) shows at this size,
        from ``view.top``: ``(start, end, total)`` offsets into its displayable text (whole
        display lines; ``end`` is where the next page starts). None when the terminal is too
        small. A front end tells the session with
        :meth:`~moderation.apps.labeling.session.Session.set_shown`.

        Examples
        --------
        >>> from moderation.core import Comment
        >>> from moderation.apps.labeling.session import Session
        >>> from moderation.apps.labeling.items import Item
        >>> long = "\\n".join(f"行{i}" for i in range(60))
        >>> view = Session([Item(Comment("t", "t-1", 1, "comment", long), "題", None, "")], "l.jsonl", "m1").view()
        >>> Screen().window(view, 80, 24)[1:], Screen().window(view, 80)
        ((46, 229), (0, 229, 229))
        """
        self._console_for(width)
        if view.comment is None or view.help:
            return (0, 0, 0)
        text = _body(view).text
        lines = _wrap(text, max(10, width - 4))
        if height is None:
            return (0, len(text), len(text))
        fixed = self._draw(view, width, (0, 0, len(text))).count("\n") - 1  # the screen without the body
        room = height - 1 - fixed
        if width < MIN_WIDTH or room < MIN_BODY_LINES:
            return None
        first = max(0, bisect.bisect_right([a for a, _b in lines], view.top) - 1)  # the line holding top
        last = min(len(lines), first + room)
        end = lines[last][0] if last < len(lines) else len(text)
        return (lines[first][0], end, len(text))

    def _console_for(self, width: int) -> None:
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

    def _draw(self, view: View, width: int, window: tuple[int, int, int]) -> str:
        self._console_for(width)
        self._buffer.seek(0)
        self._buffer.truncate()
        for renderable in _renderables(view, window, max(10, width - 4)):
            self._console.print(renderable)
        return self._buffer.getvalue()

    def _too_small(self, view: View, width: int, height: int) -> str:
        from rich.text import Text

        self._console_for(width)
        self._buffer.seek(0)
        self._buffer.truncate()
        lines = [
            Text(f"terminal too small ({width}×{height})", style="bold yellow"),
            Text(f"make it at least {MIN_WIDTH} columns and about 20 lines to see the comment"),
            Text(f"labeled {view.done} of {view.total} · nothing is lost · q quits", style="dim"),
        ]
        for line in lines[: max(1, height - 1)]:
            line.truncate(width, overflow="ellipsis")
            self._console.print(line, no_wrap=True, overflow="ellipsis")
        return self._buffer.getvalue()


class _Body:
    """The body's text made displayable and styled (escapes, model spans, lexicon hits)."""

    def __init__(self, text: Any, plain: str):
        self.styled = text
        self.text = plain


def _body(view: View) -> _Body:
    from rich.text import Text

    from ...ml.lexicon import Lexicon

    comment = view.comment
    assert comment is not None
    source = comment.thread_text if view.context else comment.text
    # Spans index the original text; the escapes of control and format characters move them.
    display = display_map(source or ("(no article or earlier posts in the input)" if view.context else ""))
    plain = display.text.replace("\t", " ")  # one cell, so offsets stay put
    at = display.offsets
    shown = Text(plain)
    for a, b in display.escapes:
        shown.stylize(ESCAPE_STYLE, a, b)
    if not view.context:
        reasons = list(view.scores.spans or ()) if view.scores is not None else []
        for r in reasons:
            a, b = r["span"]
            if r.get("source") != "lexicon" and b < len(at):
                shown.stylize("black on yellow", at[a], at[b])
        for hit in Lexicon.load().find(source):
            a, b = hit.span
            if b < len(at):
                shown.stylize("bold red underline", at[a], at[b])
    return _Body(shown, plain)


def _wrap(text: str, width: int) -> list[tuple[int, int]]:
    """Display lines of ``text`` at ``width`` cells: ``(start, end)`` offsets, the newline that
    ends a line not included. Wide characters count two cells; lines break anywhere (Japanese
    text has no spaces to break at), so every character is on exactly one line.

    Examples
    --------
    >>> _wrap("abcdef\\nあいう", 4)
    [(0, 4), (4, 6), (7, 9), (9, 10)]
    """
    from rich.cells import get_character_cell_size

    lines = []
    start = used = 0
    for i, ch in enumerate(text):
        if ch == "\n":
            lines.append((start, i))
            start, used = i + 1, 0
            continue
        cells = get_character_cell_size(ch)
        if used + cells > width and i > start:
            lines.append((start, i))
            start, used = i, 0
        used += cells
    lines.append((start, len(text)))
    return lines


def _renderables(view: View, window: tuple[int, int, int] = (0, 0, 0), inner: int = 96) -> list:
    from rich.panel import Panel
    from rich.text import Text

    out: list = []
    heading = {
        "label": "moderation label",
        "review": "moderation label --review",
        "adjudicate": "moderation labels adjudicate",
    }
    head = Text.assemble(
        (heading.get(view.mode, "moderation label"), "bold"),
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
    if view.help:
        out.append(Text(""))
        out.extend(_footer(view, done_screen=True))
        return out
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
    if view.context:
        title = "thread context: the article and earlier posts (c: back to the comment)"
    else:
        title = "comment" if comment.no is None else f"comment {comment.no}"
    subtitle = None
    start, end, total = window
    if (start, end) != (0, total):
        subtitle = f"{100 * end // max(1, total)}% shown · space next · k back"
        if not view.context and view.unseen:
            subtitle += " · read it all before saving"
    out.append(
        Panel(
            _page_text(view, window, inner),
            title=title,
            title_align="left",
            subtitle=subtitle,
            subtitle_align="right",
            border_style="magenta" if view.context else "cyan",
            expand=True,
        )
    )
    out.append(Text(f"id {displayable(comment.id, one_line=True)}"))
    for annotator, labels, note in comment.others:
        line = Text.assemble(("by      ", "dim"), (displayable(annotator, one_line=True), "bold"), f"  {labels}")
        if note:
            line.append(f"  — {displayable(note, one_line=True)}", style="italic")
        out.append(line)
    if view.note or view.editing_note:
        line = Text.assemble(("note    ", "dim"), displayable(view.note, one_line=True))
        if view.editing_note:
            line.append("▌  (Enter keeps · Esc drops)", style="dim")
        out.append(line)
    if view.scores is not None:
        out.extend(_model_lines(view.scores, reasons))
    out.append(_toggle_line(view))
    out.extend(_footer(view, done_screen=False))
    return out


def _page_text(view: View, window: tuple[int, int, int], inner: int) -> Any:
    """The body from ``window[0]`` to ``window[1]`` (whole display lines, :func:`_wrap`), styled."""
    from rich.text import Text

    start, end, _total = window
    if view.comment is None or start == end:
        return Text("")
    body = _body(view)
    out = Text(no_wrap=True, overflow="crop")
    for n, (a, b) in enumerate(
        line for line in _wrap(body.text, inner) if start <= line[0] < end or line == (start, end)
    ):
        if n:
            out.append("\n")
        out.append_text(body.styled[a:b])
    return out


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
        out.append(
            Text(
                "s/o/d toggle · Enter save · n clean · x skip · u undo · "
                "space page · c context · / note · ? help · q quit",
                style="dim",
            )
        )
    return out
