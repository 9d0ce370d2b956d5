"""The labeling tool.

- The session as a state machine, without a terminal: label, toggle, undo, skip, help, resume,
  the orders (sequential, uncertain with refits, random) and what the view-model shows.
- The screen drawn from a view (rich, ANSI), without a terminal.
- A few smoke tests of the real `moderation` console script in a pseudo-terminal (pexpect):
  keys reach the session, the label file is durable under kill -9 and two annotators at once,
  and the background worker fills in spans and re-ranks.
- `moderation labels stats|export` and the errors of `moderation label`, as subprocesses.

Each screen the tool draws ends with the hide-cursor sequence (FRAME_END), so a pty test reads
one screen at a time and knows the tool is waiting for a key.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import FIXTURES, ROOT, SEED

from moderation.apps.cli.labels import print_stats
from moderation.apps.labeling.items import collect_items
from moderation.apps.labeling.model_view import ModelView
from moderation.apps.labeling.screen import Screen
from moderation.apps.labeling.session import LABEL_KEYS, Session, View
from moderation.apps.labeling.terminal import FRAME_END, keys_of
from moderation.apps.labeling.worker import idle
from moderation.core import LABELS, LabelFileError
from moderation.io import extract
from moderation.labels import latest_by_annotator, load_training_data, read_events
from moderation.labels.agreement import label_stats
from moderation.labels.events import read_label_files
from moderation.labels.export import export_rows, write_export

EXE = Path(sys.executable).with_name("moderation")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SEED_COMMENTS = 12  # comments the seed thread offers (16 posts minus articles, title, meta, the deleted one)
TITLE = "「在韓米軍の目的は中国けん制」"
CLEAN = {"slur": 0, "off_topic": 0, "delete": 0}


def lines_of(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "the label file ends in a half line"
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def progress_of(view: View) -> tuple[int, int, int]:
    return view.done, view.total, view.this_session


def shown(session: Session, width: int = 120) -> str:
    """The screen of a session as plain text (what the pty tests read)."""
    return ANSI.sub("", Screen().render(session.view(), width))


@pytest.fixture(scope="module")
def seed_items():
    return collect_items(extract([SEED]))


@pytest.fixture(scope="module")
def moderator():
    from moderation.moderator import Moderator

    return Moderator.load()


# --------------------------------------------------------------------------- the session, without a terminal


def test_session_label_toggle_save_skip_undo_help_quit_then_resume(tmp_path, seed_items):
    labels = tmp_path / "seed.jsonl"
    session = Session(seed_items, labels, "m1")
    first = session.view()
    assert first.comment.title.startswith(TITLE) and progress_of(first) == (0, SEED_COMMENTS, 0)
    id0 = first.comment.id

    assert session.press("n")  # n: save as clean, go on
    second = session.view()
    id1 = second.comment.id
    assert id1 != id0 and progress_of(second) == (1, SEED_COMMENTS, 1)
    assert second.comment.replies == ((5, ""),)  # reply_to resolved in the thread: a deleted post
    assert lines_of(labels)[0]["labels"] == CLEAN

    session.press("s")
    assert session.view().toggles == {"slur"}
    session.press("d")
    assert session.view().toggles == {"slur", "delete"}
    session.press("s")
    assert session.view().toggles == {"delete"}  # a toggle toggles back
    session.press("s")
    session.press("\r")  # Enter: save the toggled set
    third = session.view()
    id2 = third.comment.id
    assert "그건 너의 생각일뿐이다" in third.comment.text and third.comment.replies == ((4, None),)
    assert third.toggles == set()  # toggles reset for the next comment
    saved = lines_of(labels)
    assert [e["id"] for e in saved] == [id0, id1]
    assert saved[1]["labels"] == {"slur": 1, "off_topic": 0, "delete": 1}
    assert saved[1]["annotator"] == "m1" and saved[1]["source"].endswith("000_4f4399744ce36bb6.txt")
    assert saved[1]["thread_title"].startswith(TITLE)
    assert saved[1]["thread_text"] == seed_items[session.index_of[id1]].thread_text

    session.press("?")
    assert session.view().help
    session.press("?")
    assert not session.view().help

    session.press("x")  # skip id2: nothing saved
    fourth = session.view()
    id3 = fourth.comment.id
    assert id3 not in (id0, id1, id2) and len(lines_of(labels)) == 2
    assert fourth.skipped == 1 and fourth.status == f"skipped {id2}"

    session.press("u")  # undo the last saved label: the comment comes back with its toggles
    back = session.view()
    assert back.comment.id == id1 and back.toggles == {"slur", "delete"} and back.done == 1
    undo = lines_of(labels)[2]
    assert undo["undo"] is True and undo["id"] == id1 and undo["annotator"] == "m1"

    session.press("s")
    session.press("o")
    session.press("\r")  # re-label it: off_topic+delete
    assert session.view().comment.id == id3  # the skipped one is gone this session
    assert session.press("q") is False
    assert session.saved_this_session == 2
    events = lines_of(labels)
    assert len(events) == 4
    standing = latest_by_annotator(events)
    assert standing[(id1, "m1")]["labels"] == {"slur": 0, "off_topic": 1, "delete": 1}
    assert standing[(id0, "m1")]["labels"] == CLEAN

    # Resume: what m1 labeled is skipped; the skipped comment comes first; undo reaches the last session.
    again = Session(seed_items, labels, "m1", events=read_label_files([labels]))
    screen = again.view()
    assert screen.comment.id == id2 and progress_of(screen) == (2, SEED_COMMENTS, 0)
    again.press("u")
    back = again.view()
    assert back.comment.id == id1 and back.toggles == {"off_topic", "delete"}
    assert progress_of(back) == (1, SEED_COMMENTS, 0)  # undoing a label of an earlier session


def test_another_annotator_starts_from_the_top_and_the_rate_shows_after_three_saves(tmp_path, seed_items):
    labels = tmp_path / "l.jsonl"
    ticks = iter(range(0, 1000, 10))
    session = Session(seed_items, labels, "m1", clock=lambda: next(ticks))
    for _ in range(3):
        assert session.view().rate_per_hour is None
        session.press("n")
    assert session.view().rate_per_hour == pytest.approx(3 / 40 * 3600)  # clock read at start and per view
    other = Session(seed_items, labels, "m2", events=read_label_files([labels]))
    assert other.view().comment.id == seed_items[0].id and other.done_count == 0
    assert other.known == {i: CLEAN for i in range(3)}  # every annotator's labels count for the refit


def test_keys_that_do_nothing_say_so_and_the_done_screen_still_undoes(tmp_path):
    from moderation.apps.labeling.items import Item
    from moderation.core import Comment

    items = [Item(Comment("t", f"t-{n}", n, "comment", f"投稿{n}"), None, None, "") for n in (1, 2)]
    session = Session(items, tmp_path / "l.jsonl", "m1", notices=["l.jsonl:2: corrupt line"])
    assert session.view().notices == ("l.jsonl:2: corrupt line",)
    session.press("z")
    assert session.view().status == "key z does nothing here; press ? for help"
    assert session.view().notices == ()  # warnings stay until the first key
    session.press("\x07")
    assert session.status == "key '\\x07' does nothing here; press ? for help"
    session.press("n")
    session.press("x")
    done = session.view()
    assert done.comment is None and not done.all_done and done.left == 0
    session.press("n")
    assert session.status == "nothing left to label: u undo the last label · q quit"
    session.press("u")
    assert session.view().comment.id == "t-1"
    session.press("u")
    assert session.status == "nothing to undo"
    for key in ("q", "\x03", "\x04"):
        assert session.press(key) is False


def test_a_save_that_cannot_be_written_says_so_and_keeps_the_comment(tmp_path, seed_items):
    (tmp_path / "not-a-dir").write_text("", encoding="utf-8")
    session = Session(seed_items, tmp_path / "not-a-dir" / "l.jsonl", "m1")
    first = session.current
    for key in "sd\r":
        assert session.press(key)
    assert session.current == first and session.toggles == {"slur", "delete"}  # nothing lost, nothing moved
    assert session.status.startswith("NOT SAVED") and session.done_count == 0


def test_an_undo_that_cannot_be_written_says_so_and_keeps_the_label(tmp_path, seed_items):
    labels = tmp_path / "l.jsonl"
    session = Session(seed_items, labels, "m1")
    session.press("n")
    (tmp_path / "not-a-dir").write_text("", encoding="utf-8")
    session.labels_path = tmp_path / "not-a-dir" / "l.jsonl"  # the file became unwritable
    session.press("u")
    assert session.status.startswith("NOT UNDONE") and session.done_count == 1 and session.current == 1
    session.labels_path = labels
    session.press("u")  # the label is still there to undo
    assert session.current == 0 and lines_of(labels)[-1]["undo"] is True


def test_a_corrupt_line_is_reported_and_labeling_resumes_from_the_good_lines(tmp_path, seed_items):
    labels = tmp_path / "l.jsonl"
    good = [
        {
            "id": seed_items[i].id,
            "text": seed_items[i].text,
            "labels": CLEAN,
            "annotator": "m1",
            "at": "2026-11-27T00:00:00Z",
        }
        for i in range(2)
    ]
    content = (
        json.dumps(good[0], ensure_ascii=False)
        + "\n"
        + '{"id": "x", "labels": {"slur": \n'
        + json.dumps(good[1], ensure_ascii=False)
        + "\n"
    )
    labels.write_text(content, encoding="utf-8")
    notices: list[str] = []
    session = Session(seed_items, labels, "m1", events=read_label_files([labels], warn=notices.append), notices=notices)
    assert "l.jsonl:2: corrupt line" in shown(session) and progress_of(session.view()) == (2, SEED_COMMENTS, 0)
    assert session.view().comment.id == seed_items[2].id
    session.press("n")
    after = labels.read_text(encoding="utf-8")
    assert after.startswith(content) and len(after.splitlines()) == 4  # only ever appended


def test_uncertain_order_starts_least_certain_and_refits_after_refit_every_saves(tmp_path, seed_items, moderator):
    from moderation.moderator import score_records

    rows = [r for r in score_records(moderator, extract([SEED])) if r["kind"] == "comment"]

    def margin(row):
        return min(
            abs(math.log(row[k] / (1 - row[k])) - math.log(th["hold"] / (1 - th["hold"])))
            for k, th in moderator.thresholds.items()
        )

    view = ModelView(moderator, seed_items, keep_features=True)
    session = Session(seed_items, tmp_path / "u.jsonl", "m1", order="uncertain", model=view, refit_every=4)
    assert session.view().comment.id == min(rows, key=margin)["id"]
    shown_ids = []
    for keys in ["sd\r", "sd\r", "n", "n"] + ["n"] * (SEED_COMMENTS - 4):
        shown_ids.append(session.view().comment.id)
        for key in keys:
            session.press(key)
        if len(shown_ids) == 4:
            # The fourth save asks for a refit, done between keys: slur and delete have 2 and 2 labels.
            assert session.refit_pending
            while idle(session) is not None:
                pass
            assert session.status == "re-ranked 7 remaining on 4 labels (refitted: slur, delete)"
    assert session.view().all_done
    saved = lines_of(tmp_path / "u.jsonl")
    assert [e["id"] for e in saved] == shown_ids  # what was shown is what was saved
    assert sorted(shown_ids) == sorted(r["id"] for r in rows)  # every comment exactly once
    assert [e["labels"] for e in saved[:2]] == [{"slur": 1, "off_topic": 0, "delete": 1}] * 2


def test_session_in_process_spans_refit_and_ranking(tmp_path, seed_items, moderator):
    """The model's work without a worker process: what run_terminal does while no key waits."""
    view = ModelView(moderator, seed_items, keep_features=True)
    session = Session(seed_items, tmp_path / "l.jsonl", "m1", order="uncertain", model=view, refit_every=4)
    margins = view.margins(session.queue)
    assert list(margins) == sorted(margins)  # least certain first
    slurs = {i for i, item in enumerate(seed_items) if "下朝鮮" in item.text or "アイゴー" in item.text}
    assert all(view.flagged[i] for i in slurs)
    for _ in range(4):
        session.save({"slur": int(session.current in slurs), "off_topic": 0, "delete": int(session.current in slurs)})
    assert session.refit_pending
    while idle(session) is not None:
        pass
    assert "re-ranked 7 remaining on 4 labels" in session.status
    assert all(view.explained(i) is not None for i in session.queue[:3] if view.flagged[i])
    assert session.wanted_spans() == []
    assert (session.view().scores.spans is not None) == bool(view.flagged[session.current])
    assert re.search(r"^spans   (nothing flagged|no span stands out|\S+: 「)", shown(session), re.M)
    before = list(session.queue)
    session.apply_ranking(list(reversed(before[1:])), ["slur"], 4)  # a worker's ranking is applied as given
    assert session.queue == before[:1] + list(reversed(before[1:]))
    # --hide-scores: the model orders the queue but its scores and spans stay off the screen.
    hidden = Session(seed_items, tmp_path / "h.jsonl", "m2", order="uncertain", model=view, show_scores=False)
    assert hidden.queue == sorted(hidden.queue, key=lambda i: view.margins([i])[0])
    assert hidden.view().scores is None and hidden.wanted_spans() == []
    screen = shown(hidden)
    assert "(scores hidden)" in screen and not re.search(r"^model |^spans ", screen, re.M)
    # --order random: a permutation, the same one for the same --seed.
    shuffled = [Session(seed_items, tmp_path / "r.jsonl", "m3", order="random", seed=7).queue for _ in range(2)]
    assert shuffled[0] == shuffled[1] and sorted(shuffled[0]) == list(range(len(seed_items)))
    assert shuffled[0] != list(range(len(seed_items)))


def test_session_refuses_an_unknown_order_and_uncertain_without_a_model(seed_items, tmp_path):
    with pytest.raises(ValueError, match="order must be one of"):
        Session(seed_items, tmp_path / "l.jsonl", "m1", order="best")
    with pytest.raises(ValueError, match="needs a model"):
        Session(seed_items, tmp_path / "l.jsonl", "m1", order="uncertain")


def test_label_keys_are_the_labels_and_escape_sequences_are_not_keys():
    assert tuple(LABEL_KEYS.values()) == LABELS and all(len(k) == 1 for k in LABEL_KEYS)
    assert keys_of(b"s\x1b[Dd\x1b[1;5C\x1bOd\r") == ["s", "d", "\r"]
    assert keys_of(b"x\x1b") == ["x", "\x1b"]  # Esc on its own is a key (it closes the note)


# --------------------------------------------------------------------------- the screen, without a terminal


def test_screen_shows_reply_text_title_toggles_help_and_highlights_lexicon_hits(tmp_path):
    comments = tmp_path / "thread.jsonl"
    rows = [
        {"id": "c1", "thread": "t", "no": 1, "text": "日韓関係はどうなるのか", "thread_title": "【日韓】首脳会談"},
        {
            "id": "c2",
            "thread": "t",
            "no": 2,
            "text": "チョンは帰れ",
            "reply_to": [1],
            "thread_title": "【日韓】首脳会談",
        },
        {"id": "c3", "thread": "t", "no": 3, "text": "", "thread_title": "【日韓】首脳会談"},
    ]
    comments.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    session = Session(collect_items(extract([comments])), tmp_path / "l.jsonl", "m1")
    screen = Screen()
    first = ANSI.sub("", screen.render(session.view(), 120))
    assert "thread  【日韓】首脳会談  [t]" in first  # the empty comment is not offered
    assert "labeled 0 of 2 · 0 this session · 0 skipped · 2 left · —/h" in first
    assert re.search(r"^id c1\s*$", first, re.M)
    session.press("n")
    raw = screen.render(session.view(), 120)
    second = ANSI.sub("", raw)
    assert "↳ replies to >>1  日韓関係はどうなるのか" in second
    assert "\x1b[1;4;31mチョン\x1b[0m" in raw  # the lexicon hit, bold red underlined
    for key in "sd":
        session.press(key)
    toggles = ANSI.sub("", screen.render(session.view(), 120))
    assert "[x] s slur   [ ] o off_topic   [x] d delete   Enter saves: slur+delete" in toggles
    session.press("d")
    assert "(a slur is almost always delete)" in ANSI.sub("", screen.render(session.view(), 120))
    session.press("?")
    assert "show or hide this help" in ANSI.sub("", screen.render(session.view(), 120))
    session.press("?")
    session.press("n")
    done = ANSI.sub("", screen.render(session.view(), 120))
    assert "All 2 comments are labeled by m1 (2 this session)." in done and "u undo the last label · q quit" in done


def body_of(screen: str) -> str:
    """The text inside the comment panel of a plain screen (no newlines in the comments used)."""
    inside = [line for line in screen.splitlines() if line.startswith("│")]
    return "".join(line[1:-1].strip() for line in inside)


def test_a_3000_character_comment_is_read_whole_at_80x24_and_cannot_be_saved_unread(tmp_path):
    from moderation.apps.labeling.items import Item
    from moderation.core import Comment

    text = "".join(f"長い書き込み{i:04d}だ。" for i in range(250))[:3000]
    labels = tmp_path / "l.jsonl"
    session = Session([Item(Comment("t", "t-1", 1, "comment", text), "題", None, "")], labels, "m1")
    screen = Screen()
    seen, n = [], 0
    while True:  # as the terminal loop does: lay out, tell the session, draw
        window = screen.window(session.view(), 80, 24)
        session.set_shown(window[1], window[2])
        shown = ANSI.sub("", screen.render(session.view(), 80, 24))
        assert len(shown.splitlines()) <= 23 and "Enter saves: clean" in shown and "labeled 0 of 1" in shown
        seen.append(body_of(shown))
        if not session.unseen_chars:
            break
        assert "% shown · space next" in shown
        session.press("\r")  # refused: part of the comment not shown yet (and its status changes the layout)
        assert not labels.exists() and "NOT SAVED" in session.status and "not shown yet" in session.status
        session.press(" ")
        n += 1
    assert n > 3
    assert "".join(seen) == text  # every character, once, in order
    session.press("k")  # back a page and forth again: still all seen
    session.press("\r")
    assert labels.exists() and session.current is None


def test_too_small_help_context_and_note_screens(tmp_path):
    from moderation.apps.labeling.items import Item
    from moderation.core import Comment

    item = Item(Comment("t", "t-1", 2, "comment", "それな"), "題", None, "記事の本文\n最初の書き込み")
    labels = tmp_path / "l.jsonl"
    session = Session([item], labels, "m1")
    tiny = ANSI.sub("", Screen().render(session.view(), 40, 12))
    assert "terminal too small (40×12)" in tiny and len(tiny.splitlines()) <= 11
    session.press("?")
    help_screen = ANSI.sub("", Screen().render(session.view(), 80, 24))
    assert help_screen.startswith("moderation label") and "show or hide this help" in help_screen
    assert len(help_screen.splitlines()) <= 23
    session.press("?")
    session.press("c")
    context = ANSI.sub("", Screen().render(session.view(), 80, 24))
    assert "thread context" in context and "記事の本文" in context and "それな" not in context
    session.press("c")
    for key in "/理由:ｓ語\x7fです\r":
        session.press(key)
    assert session.view().note == "理由:ｓです" and "note    理由:ｓです" in ANSI.sub(
        "", Screen().render(session.view(), 80)
    )
    session.press("ｓ")  # a full-width key acts as its ASCII key, with a hint
    assert session.view().toggles == {"slur"} and "input method" in session.status
    session.press("で")
    assert session.view().toggles == {"slur", "delete"}
    session.press("\r")
    assert lines_of(labels)[0]["note"] == "理由:ｓです"
    assert export_rows(read_label_files([labels]))[0]["notes"] == ["m1: 理由:ｓです"]


# --------------------------------------------------------------------------- smoke tests in a pseudo-terminal


class Tool:
    """`moderation label` in a pseudo-terminal, read one screen at a time."""

    def __init__(self, *args: str, timeout: float = 30):
        self.child = pexpect.spawn(
            str(EXE),
            list(args),
            cwd=str(ROOT),
            dimensions=(60, 220),
            encoding="utf-8",
            timeout=timeout,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "220"},
        )
        self.child.delaybeforesend = None  # pexpect sleeps 50 ms before every send by default
        self.raw = ""

    def screen(self) -> str:
        """The next screen drawn, as plain text."""
        self.child.expect_exact(FRAME_END)
        self.raw = self.child.before.rsplit("\x1b[2J", 1)[-1]
        return ANSI.sub("", self.raw)

    def until(self, predicate) -> str:
        """Screens until one satisfies ``predicate`` (with a model, spans filled in redraw it)."""
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen

    def press(self, keys: str) -> str:
        """Send keys (one screen is drawn per key here) and return the last screen."""
        text = ""
        for key in keys:
            self.child.send(key)
            text = self.screen()
        return text

    def quit(self) -> str:
        self.child.send("q")
        self.child.expect(pexpect.EOF)
        out = ANSI.sub("", self.child.before)
        self.child.close()
        assert self.child.exitstatus == 0, out
        return out


def shown_id(screen: str) -> str | None:
    m = re.search(r"^id (\S+)\s*$", screen, re.M)
    return m.group(1) if m else None


def toggled(screen: str) -> set[str]:
    return {label for label in LABELS if f"[x] {label[0]} {label}" in screen}


def progress(screen: str) -> tuple[int, int, int]:
    m = re.search(r"labeled (\d+) of (\d+) · (\d+) this session", screen)
    assert m, screen
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def label_tool(labels: Path, *extra: str, inputs=(str(SEED),), annotator: str = "m1") -> Tool:
    return Tool("label", *inputs, "--labels", str(labels), "--annotator", annotator, *extra)


def test_pty_keys_save_toggle_undo_quit_and_resume(tmp_path):
    labels = tmp_path / "seed.jsonl"
    tool = label_tool(labels)
    first = tool.screen()
    assert TITLE in first and progress(first) == (0, SEED_COMMENTS, 0)
    id0 = shown_id(first)
    second = tool.press("n")
    assert shown_id(second) != id0 and "replies to >>5  [deleted post]" in second
    assert toggled(tool.press("sd")) == {"slur", "delete"}
    tool.press("\r")
    assert [e["labels"] for e in lines_of(labels)] == [CLEAN, {"slur": 1, "off_topic": 0, "delete": 1}]
    back = tool.press("u")
    assert shown_id(back) == shown_id(second) and toggled(back) == {"slur", "delete"}
    assert "labeled 1 this session" in tool.quit()
    again = label_tool(labels)
    screen = again.screen()
    assert shown_id(screen) == shown_id(second) and progress(screen) == (1, SEED_COMMENTS, 0)
    again.quit()


def test_kill_9_mid_session_loses_no_saved_label_and_leaves_no_half_line(tmp_path):
    labels = tmp_path / "l.jsonl"
    tool = label_tool(labels, inputs=(str(FIXTURES / "scrape"),))
    tool.screen()
    saved = []
    for key in "nsd\rn" * 3:
        tool.press(key)
        if key in "n\r":
            saved.append(1)
    tool.child.send("n")  # a save in flight …
    os.kill(tool.child.pid, signal.SIGKILL)  # … and kill -9 at once
    tool.child.expect(pexpect.EOF)
    tool.child.close()
    events = lines_of(labels)  # every line parses, no half line
    assert len(events) in (len(saved), len(saved) + 1)
    assert [e["labels"] for e in events[:6]] == [CLEAN, {"slur": 1, "off_topic": 0, "delete": 1}, CLEAN] * 2
    assert len({e["id"] for e in events}) == len(events)
    # Resumed, it goes on after what survived.
    again = label_tool(labels, inputs=(str(FIXTURES / "scrape"),))
    assert progress(again.screen())[0] == len(events)
    again.quit()


def test_two_annotators_labeling_at_once_do_not_corrupt_the_file(tmp_path):
    labels = tmp_path / "shared.jsonl"
    inputs = (str(FIXTURES / "scrape"), str(FIXTURES / "dat" / "livejupiter_1754030001.dat"))
    a = label_tool(labels, inputs=inputs, annotator="alice")
    b = label_tool(labels, inputs=inputs, annotator="bob")
    total = progress(a.screen())[1]
    assert progress(b.screen())[1] == total
    # Both fire every key at once: their saves (each a locked append + fsync) race on one file.
    a.child.send("sd\r" * total)
    b.child.send("n" * total)
    for tool in (a, b):
        tool.child.expect(f"All {total} comments are labeled by", timeout=60)
    a.quit()
    b.quit()
    events = lines_of(labels)
    assert len(events) == 2 * total
    by = {name: [e for e in events if e["annotator"] == name] for name in ("alice", "bob")}
    assert len({e["id"] for e in by["alice"]}) == len({e["id"] for e in by["bob"]}) == total
    assert all(e["labels"] == {"slur": 1, "off_topic": 0, "delete": 1} for e in by["alice"])
    assert all(e["labels"] == CLEAN for e in by["bob"])
    assert len(read_events(labels)) == 2 * total  # the project's reader agrees


def test_pty_background_worker_fills_in_spans_and_reranks(tmp_path):
    """The model's work in the forked worker: spans arrive and redraw the screen, a refit re-ranks."""
    comments = tmp_path / "slur.jsonl"
    comments.write_text(
        json.dumps(
            {"id": "c1", "thread": "t", "text": "下朝鮮は黙ってろ", "thread_title": "在韓米軍"}, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    flagged = label_tool(tmp_path / "s.jsonl", "--model", "models/default", inputs=(str(comments),))
    assert re.search(r"spans\s+…", flagged.screen())  # drawn before the worker has the spans …
    assert "slur: 「下朝鮮」 lexicon" in flagged.screen()  # … and drawn again when they arrive
    flagged.quit()
    labels = tmp_path / "u.jsonl"
    tool = label_tool(labels, "--order", "uncertain", "--model", "models/default", "--refit-every", "4")
    screen = tool.screen()
    assert re.search(r"model\s+slur \d\.\d\d \(hold", screen)
    for n, keys in enumerate(["sd\r", "sd\r", "n", "n"], start=1):
        for key in keys[:-1]:
            tool.child.send(key)
            tool.until(lambda s, k=key: LABEL_KEYS[k] in toggled(s))
        tool.child.send(keys[-1])
        screen = tool.until(lambda s, n=n: progress(s)[2] == n)
    screen = tool.until(lambda s: "re-ranked" in s)
    assert re.search(r"re-ranked 7 remaining on 4 labels \(refitted: slur, delete\)", screen)
    tool.child.send("n" * (SEED_COMMENTS - 4))
    tool.child.expect(f"All {SEED_COMMENTS} comments are labeled by m1", timeout=60)
    tool.quit()
    saved = lines_of(labels)
    assert len({e["id"] for e in saved}) == len(saved) == SEED_COMMENTS


def test_pty_a_3000_character_comment_is_paged_at_80x24_and_a_key_typed_at_start_up_is_kept(tmp_path):
    comments = tmp_path / "long.jsonl"
    long_text = "".join(f"長い書き込み{i:04d}だ。" for i in range(250))[:3000]
    rows = [
        {"id": "long", "thread": "t", "no": 1, "text": long_text},
        {"id": "short", "thread": "t", "no": 2, "text": "それな"},
    ]
    comments.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    labels = tmp_path / "l.jsonl"
    child = pexpect.spawn(
        str(EXE),
        ["label", str(comments), "--labels", str(labels), "--annotator", "m1"],
        cwd=str(ROOT),
        dimensions=(24, 80),
        encoding="utf-8",
        timeout=30,
        env={**os.environ, "TERM": "xterm"},
    )
    child.delaybeforesend = None
    child.send("n")  # typed while the tool starts: kept, and refused (the comment was not all shown)
    screens = []
    while True:
        child.expect_exact(FRAME_END)
        screens.append(ANSI.sub("", child.before.rsplit("\x1b[2J", 1)[-1]))
        if "NOT SAVED" in screens[-1]:
            break
    first = screens[-1]
    assert len(first.splitlines()) <= 23 and "more characters of this comment not shown yet" in first
    seen = [body_of(first)]
    screen = first
    while "100% shown" not in screen:
        assert "% shown" in screen
        child.send(" ")
        child.expect_exact(FRAME_END)
        screen = ANSI.sub("", child.before.rsplit("\x1b[2J", 1)[-1])
        seen.append(body_of(screen))
    assert "".join(seen) == long_text and not labels.exists()
    child.send("s")
    child.expect_exact(FRAME_END)
    child.send("\r")
    child.expect_exact(FRAME_END)
    assert "それな" in child.before
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert [(e["id"], e["labels"]["slur"]) for e in lines_of(labels)] == [("long", 1)]
    # --review, from the label file alone: the label comes back with its toggles; changed, it is appended.
    review = label_tool(labels, "--review", "--only", "slur", inputs=())
    screen = review.screen()
    assert shown_id(screen) == "long" and toggled(screen) == {"slur"} and "moderation label --review" in screen
    review.press("s")
    review.press("/")
    for key in "ok":
        review.press(key)
    assert "note kept" in review.press("\r")
    assert "saved long: clean (with a note)" in review.press("\r")  # 60 lines of 220: it fits whole
    review.quit()
    changed = lines_of(labels)[-1]
    assert len(lines_of(labels)) == 2 and changed["labels"]["slur"] == 0 and changed["note"] == "ok"


# --------------------------------------------------------------------------- the other commands, run at once


def run_all(runs: dict[str, tuple]) -> dict[str, subprocess.CompletedProcess]:
    """Run `moderation` invocations side by side (each pays the interpreter's start-up) with stdin
    a pipe, not a terminal; returns the finished processes by name."""
    exe = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "moderation"]
    procs = {
        name: subprocess.Popen(
            exe + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        for name, args in runs.items()
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(input="", timeout=120)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def event(cid, annotator, text="", **labels):
    return {
        "id": cid,
        "thread": "t",
        "text": text or f"comment {cid}",
        "labels": labels,
        "annotator": annotator,
        "at": "2026-11-27T00:00:00Z",
        "source": "test",
    }


def write_events(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


# slur over ten comments:  A 1110000010, B 1100000110. Agreement 8/10 = 0.8; A and B each say 1 on 4/10,
# so chance = 0.4*0.4 + 0.6*0.6 = 0.52 and kappa = (0.8 - 0.52) / (1 - 0.52) = 7/12.
# delete: A 1100000010, B 1100000000: p_o 0.9, p_A 0.3, p_B 0.2, chance 0.06 + 0.56 = 0.62,
# kappa = 0.28 / 0.38 = 14/19. off_topic: all 0, so kappa is undefined.
KAPPA = {
    "slur": ([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 1, 1, 0]),
    "delete": ([1, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
}
# Units (A, B, C): u1 1,1,1  u2 0,0,0  u3 1,0,0  u4 1,1,0  u5 0,0,-  u6 1,-,- (unpairable).
# Coincidences: o00 = 3 + 1 + 2 = 6, o11 = 3 + 1 = 4, o01 = o10 = 1 + 1 = 2; n0 = 8, n1 = 6, n = 14.
# alpha = 1 - (n - 1) * (o01 + o10) / (2 * n0 * n1) = 1 - 13 * 4 / 96 = 11/24.
ALPHA = {
    "u1": (1, 1, 1),
    "u2": (0, 0, 0),
    "u3": (1, 0, 0),
    "u4": (1, 1, 0),
    "u5": (0, 0, None),
    "u6": (1, None, None),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every non-interactive case of this file, run at once: the files they read and their results."""
    tmp = tmp_path_factory.mktemp("runs")
    files = {}
    two = []
    for i in range(10):
        for who, k in (("A", 0), ("B", 1)):
            two.append(event(f"c{i}", who, slur=KAPPA["slur"][k][i], off_topic=0, delete=KAPPA["delete"][k][i]))
    two.append(event("solo", "A", slur=1, off_topic=0, delete=1))  # one annotator only: no pair
    files["two"] = write_events(tmp / "two.jsonl", two)
    three = [
        event(cid, who, slur=v, delete=v)
        for cid, values in ALPHA.items()
        for who, v in zip("ABC", values, strict=True)
        if v is not None
    ]
    # B first said u2 was a slur, then took it back (undo) and relabeled: only the latest counts.
    three[:0] = [
        event("u2", "B", slur=1, delete=1),
        {"id": "u2", "annotator": "B", "at": "2026-11-27T00:00:01Z", "undo": True},
    ]
    files["three"] = write_events(tmp / "three.jsonl", three)
    files["export"] = write_events(
        tmp / "export.jsonl",
        [
            event("a", "m1", slur=1, off_topic=0, delete=1),
            event("a", "m2", slur=0, off_topic=0, delete=1),
            event("a", "m3", slur=1, off_topic=0, delete=0),
            event("b", "m1", slur=1, off_topic=0, delete=1),
            {"id": "b", "annotator": "m1", "at": "2026-11-27T00:00:02Z", "undo": True},
            event("b", "m1", slur=0, off_topic=1, delete=0),  # m1's latest on b
            event("c", "m2", slur=1),  # only slur given
            event("d", "m1", slur=1, off_topic=0, delete=1),
            {"id": "d", "annotator": "m1", "at": "2026-11-27T00:00:03Z", "undo": True},  # nothing stands on d
        ],
    )
    files["export.csv"] = tmp / "train.csv"
    bad = {
        "csv": "id,text,slur\n1,こんにちは,0\n",
        "array": '[{"id": "a", "labels": {"slur": 1}}]\n',
        "table": '{"id": "c1", "text": "ただのコメント"}\n',
    }
    for name, content in bad.items():
        files[f"bad-{name}"] = tmp / f"{name}.labels"
        files[f"bad-{name}"].write_text(content, encoding="utf-8")
    files["bad-content"] = bad
    corrupt = tmp / "corrupt.jsonl"
    corrupt.write_text(
        json.dumps(event("a", "m1", slur=0))
        + "\n"
        + '{"id": "x", "labels": {"slur": \n'
        + json.dumps(event("b", "m1", slur=0))
        + "\n",
        encoding="utf-8",
    )
    files["corrupt"] = corrupt
    results = run_all(
        {
            "kappa": ("labels", "stats", str(files["two"]), "--format", "json"),
            "kappa-table": ("labels", "stats", str(files["two"])),
            "alpha": ("labels", "stats", str(files["three"]), "--format", "json"),
            "export-csv": ("labels", "export", str(files["export"]), "--out", str(files["export.csv"])),
            "corrupt": ("labels", "stats", str(corrupt), "--format", "json"),
            "no-tty": ("label", str(SEED), "--labels", str(tmp / "never.jsonl")),
            "missing-input": ("label", str(tmp / "nope.txt"), "--labels", str(tmp / "never.jsonl")),
            "bad-csv": ("label", str(SEED), "--labels", str(files["bad-csv"])),
            "bad-array": ("labels", "stats", str(files["bad-array"])),
            "bad-table": ("labels", "export", str(files["bad-table"])),
        }
    )
    return files, results


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_without_a_terminal_it_says_so_and_exits_non_zero(runs):
    _files, results = runs
    message = one_line_error(results["no-tty"])
    assert "needs a terminal" in message and "stdin is not a TTY" in message


def test_a_missing_input_is_one_line_without_a_traceback(runs):
    files, results = runs
    assert "nope.txt: no such file or directory" in one_line_error(results["missing-input"])
    with pytest.raises(LabelFileError, match=r"nope\.jsonl: no such file"):  # what stats and export say
        read_label_files([files["two"].parent / "nope.jsonl"])


@pytest.mark.parametrize(
    "name, message", [("csv", "looks like CSV"), ("array", "is a JSON array"), ("table", "no label events")]
)
def test_a_file_that_is_not_a_label_file_is_refused_clearly(runs, name, message):
    files, results = runs
    error = one_line_error(results[f"bad-{name}"])
    assert message in error and "not a label file" in error
    assert files[f"bad-{name}"].read_text(encoding="utf-8") == files["bad-content"][name]  # left alone


def test_stats_reports_a_corrupt_line_skips_it_and_never_rewrites_the_file(runs):
    files, results = runs
    result = results["corrupt"]
    assert result.returncode == 0 and f"{files['corrupt']}:2: corrupt line" in result.stderr
    assert json.loads(result.stdout)["annotators"]["m1"]["comments"] == 2
    assert len(files["corrupt"].read_text(encoding="utf-8").splitlines()) == 3


def test_stats_cohen_kappa_for_two_annotators_matches_the_hand_computed_value(runs):
    _files, results = runs
    assert results["kappa"].returncode == 0, results["kappa"].stderr
    stats = json.loads(results["kappa"].stdout)
    slur = stats["agreement"]["slur"]
    assert slur["measure"] == "cohen_kappa" and slur["items"] == 10
    assert slur["value"] == pytest.approx(7 / 12) and slur["observed"] == pytest.approx(0.8)
    assert stats["agreement"]["delete"]["value"] == pytest.approx(14 / 19)
    assert stats["agreement"]["off_topic"]["value"] is None  # no variation: undefined
    assert stats["annotators"]["A"] == {"comments": 11, "slur": 5, "off_topic": 0, "delete": 4}
    assert stats["annotators"]["B"] == {"comments": 10, "slur": 4, "off_topic": 0, "delete": 2}
    assert [(d["id"], d["labels"]) for d in stats["disagreements"]] == [
        ("c2", ["slur"]),
        ("c7", ["slur"]),
        ("c8", ["delete"]),
    ]
    table = results["kappa-table"].stdout
    assert "Cohen's kappa" in table and "0.583" in table and "0.737" in table and "3 disagreements" in table
    assert "undefined (no variation)" in table


def test_stats_krippendorff_alpha_for_three_annotators_matches_the_hand_computed_value(runs):
    files, results = runs
    stats = json.loads(results["alpha"].stdout)
    slur = stats["agreement"]["slur"]
    assert slur["measure"] == "krippendorff_alpha" and slur["items"] == 5
    assert slur["value"] == pytest.approx(11 / 24)
    assert stats["agreement"]["delete"]["value"] == pytest.approx(11 / 24)
    assert stats["agreement"]["off_topic"]["items"] == 0 and stats["agreement"]["off_topic"]["value"] is None
    assert stats["annotators"]["B"]["comments"] == 5 and stats["annotators"]["B"]["slur"] == 2  # undo applied
    assert [d["id"] for d in stats["disagreements"]] == ["u3", "u4"]
    table = io.StringIO()
    print_stats(label_stats(read_label_files([files["three"]])), table)
    assert "Krippendorff's alpha (nominal)" in table.getvalue() and "0.458" in table.getvalue()


def test_export_resolves_latest_then_majority_with_blanks_for_unknown(runs):
    files, results = runs
    assert results["export-csv"].returncode == 0, results["export-csv"].stderr
    out = files["export.csv"]
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0])[:7] == ["id", "thread", "text", "slur", "off_topic", "delete", "annotators"]
    got = {r["id"]: (r["slur"], r["off_topic"], r["delete"], r["annotators"]) for r in rows}
    assert got == {"a": ("1", "0", "1", "m1;m2;m3"), "b": ("0", "1", "0", "m1"), "c": ("1", "", "", "m2")}
    # The training reader takes the export as it is: blanks are unknown, not 0.
    frame, _summary = load_training_data([out])
    c = frame.set_index("id").loc["c"]
    assert c["slur"] == 1 and math.isnan(c["off_topic"]) and math.isnan(c["delete"])
    jsonl = io.StringIO()
    write_export(export_rows(read_label_files([files["export"]])), jsonl, "jsonl")
    rows = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert rows[2] == {
        "id": "c",
        "thread": "t",
        "text": "comment c",
        "slur": 1,
        "off_topic": None,
        "delete": None,
        "annotators": ["m2"],
        "thread_title": None,
        "thread_text": None,
        "source": "test",
        "adjudicated": False,
        "unresolved": [],
        "notes": [],
    }
