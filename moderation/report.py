"""Terminal output with rich: tables of records for people, not for pipes."""
from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .extract import Comment

KIND_STYLE = {"article": "cyan", "comment": "", "title": "bold magenta", "meta": "dim"}


def console_for(fh) -> Console:
    return Console(file=fh, soft_wrap=False, highlight=False)


def print_records(records: Sequence[Comment], fh, *, max_chars: int = 160) -> None:
    """A table of extracted records, one row per record, grouped by thread."""
    console = console_for(fh)
    by_thread: dict[str, list[Comment]] = {}
    for rec in records:
        by_thread.setdefault(rec.thread, []).append(rec)
    for thread, recs in by_thread.items():
        title = next((r.text for r in recs if r.kind == "title"), "")
        counts = {k: sum(r.kind == k for r in recs) for k in KIND_STYLE}
        table = Table(title=Text(f"{thread}  {title}".strip()), title_justify="left", show_lines=False,
                      caption=", ".join(f"{n} {k}" for k, n in counts.items() if n), caption_justify="left")
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("no", justify="right", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column(">>", no_wrap=True)
        table.add_column("text", overflow="fold")
        for i, rec in enumerate(recs, start=1):
            text = rec.text.replace("\n", " ⏎ ")
            if len(text) > max_chars:
                text = text[: max_chars - 1] + "…"
            if rec.deleted:
                text = "[deleted]"
            table.add_row(str(i), "" if rec.no is None else str(rec.no), rec.kind,
                          ",".join(map(str, rec.reply_to)), Text(text), style=KIND_STYLE.get(rec.kind, ""))
        console.print(table)
    if not records:
        console.print("no records")
