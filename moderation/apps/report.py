"""Terminal output with rich: tables of records for people, not for pipes.

Every piece of input text goes through :func:`moderation.display.displayable` (or
:func:`~moderation.display.display_map` where spans are highlighted): a comment can never
act on the terminal it is shown in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..core import Comment, is_never
from ..display import display_map, displayable

KIND_STYLE = {"article": "cyan", "comment": "", "title": "bold magenta", "meta": "dim"}


def console_for(fh) -> Console:
    # A terminal gets its own width; a pipe or file gets room for the wide tables.
    tty = hasattr(fh, "isatty") and fh.isatty()
    return Console(file=fh, soft_wrap=False, highlight=False, width=None if tty else 140)


def print_records(records: Sequence[Comment], fh, *, max_chars: int = 160) -> None:
    """A table of extracted records, one row per record, grouped by thread."""
    console = console_for(fh)
    by_thread: dict[str, list[Comment]] = {}
    for rec in records:
        by_thread.setdefault(rec.thread, []).append(rec)
    for thread, recs in by_thread.items():
        title = next((r.text for r in recs if r.kind == "title"), "")
        counts = {k: sum(r.kind == k for r in recs) for k in KIND_STYLE}
        table = Table(
            title=Text(displayable(f"{thread}  {title}".strip(), one_line=True)),
            title_justify="left",
            show_lines=False,
            caption=", ".join(f"{n} {k}" for k, n in counts.items() if n),
            caption_justify="left",
        )
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("no", justify="right", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        table.add_column(">>", no_wrap=True)
        table.add_column("text", overflow="fold")
        for i, rec in enumerate(recs, start=1):
            text = rec.text if len(rec.text) <= max_chars else rec.text[: max_chars - 1] + "…"
            text = displayable(text.replace("\n", " ⏎ "), one_line=True)
            if rec.deleted:
                text = "[deleted]"
            table.add_row(
                str(i),
                "" if rec.no is None else str(rec.no),
                rec.kind,
                ",".join(map(str, rec.reply_to)),
                Text(text),
                style=KIND_STYLE.get(rec.kind, ""),
            )
        console.print(table)
    if not records:
        console.print("no records")


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_metrics(labels: dict, fh, *, title: str = "") -> None:
    """Per label: examples, ROC-AUC, average precision, precision/recall/F1 at hold and reject."""
    table = Table(title=Text(title), title_justify="left")
    for col in ("label", "n", "pos", "ROC-AUC", "AP", "hold ≥", "P", "R", "F1", "reject ≥", "P", "R", "F1"):
        table.add_column(col, justify="left" if col == "label" else "right", no_wrap=True)
    for label, info in labels.items():
        if not info.get("trained") or "metrics" not in info:  # eval: a trained label nobody labelled
            table.add_row(label, *["—"] * 12, style="dim")
            table.add_row(Text(f"  not trained: {displayable(info.get('reason', ''), one_line=True)}", style="dim"))
            continue
        m = info["metrics"]
        reject = m["reject"]
        never = info["reject"] == "never" or is_never(info["reject"])
        table.add_row(
            label,
            str(m["n"]),
            str(m["positives"]),
            _fmt(m["roc_auc"]),
            _fmt(m["average_precision"]),
            _fmt(info["hold"], 2),
            _fmt(m["hold"]["precision"], 2),
            _fmt(m["hold"]["recall"], 2),
            _fmt(m["hold"]["f1"], 2),
            "never" if never else _fmt(info["reject"], 2),
            "—" if never else _fmt(reject["precision"], 2),
            "—" if never else _fmt(reject["recall"], 2),
            "—" if never else _fmt(reject["f1"], 2),
        )
    console_for(fh).print(table)


def plot_pr_curves(curves: dict, path) -> None:
    """Precision-recall curves per label as a PNG (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve

    from ..io.files import atomic_write

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for label, (y, p) in curves.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(recall, precision, where="post", label=f"{label} (AP {average_precision_score(y, p):.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title("precision–recall per label")
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)


ACTION_STYLE = {"allow": "green", "hold": "yellow", "reject": "bold red"}


def highlighted(text: str, reasons: list[dict]) -> Text:
    """The comment, made displayable, with the spans that explain its flags highlighted (spans
    index the original text; :func:`~moderation.display.display_map` carries them over).

    Examples
    --------
    >>> highlighted("\x1b[2Jbad", [{"span": [4, 7], "source": "lexicon"}]).plain
    '␛[2Jbad'
    """
    shown = display_map(text)
    out = Text(shown.text)
    for a, b in shown.escapes:
        out.stylize("reverse", a, b)
    for r in reasons:
        a, b = r["span"]
        out.stylize(
            "bold red underline" if r.get("source") == "lexicon" else "bold yellow", shown.offsets[a], shown.offsets[b]
        )
    return out


def print_scored(rows: list[dict], fh, manifest: dict, *, max_chars: int = 300) -> None:
    """A summary per thread (comments by action), then the flagged posts with their spans."""
    from ..moderator import summarize

    console = console_for(fh)
    summary = summarize(rows)
    table = Table(title=Text(f"model {manifest.get('version')}"), title_justify="left")
    for col in ("thread", "comments", "allow", "hold", "reject"):
        table.add_column(col, justify="left" if col == "thread" else "right")
    for thread, counts in summary.items():
        table.add_row(
            Text(displayable(thread, one_line=True)),
            str(sum(counts.values())),
            str(counts["allow"]),
            Text(str(counts["hold"]), style="yellow"),
            Text(str(counts["reject"]), style="red"),
        )
    console.print(table)
    flagged = [r for r in rows if r["action"] != "allow"]
    if not flagged:
        console.print("no flagged comments")
        return
    posts = Table(title=Text("flagged comments"), title_justify="left", show_lines=True)
    for col, kw in (
        ("action", {"no_wrap": True}),
        ("labels", {"no_wrap": True}),
        ("scores", {"no_wrap": True}),
        ("comment", {"overflow": "fold"}),
    ):
        posts.add_column(col, **kw)
    for row in flagged:
        text = row["text"] if len(row["text"]) <= max_chars else row["text"][: max_chars - 1] + "…"
        reasons = [r for r in row.get("reasons", []) if r["span"][1] <= len(text)]
        scores = " ".join(f"{k[:3]} {row[k]:.2f}" for k in ("slur", "off_topic", "delete") if row.get(k) is not None)
        posts.add_row(
            Text(row["action"], style=ACTION_STYLE[row["action"]]),
            Text(",".join(row["labels"])),
            scores,
            highlighted(text, reasons),
        )
    console.print(posts)


class Progress:
    """A live count on stderr while scoring a long input (only on a terminal), drawn by
    :mod:`rich.progress`; a context manager that clears itself when done.

    Examples
    --------
    >>> import io
    >>> with Progress(io.StringIO()) as progress:
    ...     progress.advance(10)
    >>> progress.elapsed >= 0
    True
    """

    def __init__(self, fh, verb: str = "scoring"):
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        self.start = time.perf_counter()
        self.end: float | None = None
        live = hasattr(fh, "isatty") and fh.isatty()
        self._bar = RichProgress(
            SpinnerColumn(),
            TextColumn(verb + "… {task.completed:,} comments"),
            TimeElapsedColumn(),
            console=Console(file=fh),
            transient=True,
            disable=not live,
        )
        self._task = self._bar.add_task("scoring", total=None)

    def __enter__(self) -> Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def advance(self, n: int) -> None:
        """``n`` comments done so far."""
        self._bar.update(self._task, completed=n)

    def stop(self) -> None:
        """Clear the live line (idempotent)."""
        if self.end is None:
            self.end = time.perf_counter()
            self._bar.stop()

    @property
    def elapsed(self) -> float:
        return (self.end or time.perf_counter()) - self.start
