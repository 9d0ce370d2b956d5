"""The labeling tool through the real `moderation` console script: a pseudo-terminal (pexpect)
for `moderation label`, subprocesses for `moderation labels stats|export`.

Each screen the tool draws ends with the hide-cursor sequence (FRAME_END), so a test reads one
screen at a time and knows the tool is waiting for a key.
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
from moderation.labeling import (
    FRAME_END, LABEL_KEYS, LABEL_NAMES, LabelFileError, export_rows, keys_of, label_stats, print_stats,
    read_label_files, write_export,
)
from moderation.labels import latest_by_annotator, load_training_data, read_events
from moderation.model import LABELS

EXE = Path(sys.executable).with_name("moderation")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SEED_COMMENTS = 12  # comments the seed thread offers (16 posts minus articles, title, meta, the deleted one)


# --------------------------------------------------------------------------- driving the terminal

class Tool:
    """`moderation label` in a pseudo-terminal, read one screen at a time."""

    def __init__(self, *args: str, timeout: float = 30):
        self.child = pexpect.spawn(str(EXE), list(args), cwd=str(ROOT), dimensions=(60, 220), encoding="utf-8",
                                   timeout=timeout, env={**os.environ, "TERM": "xterm", "COLUMNS": "220"})
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
    return {label for label in LABEL_NAMES if f"[x] {label[0]} {label}" in screen}


def progress(screen: str) -> tuple[int, int, int]:
    m = re.search(r"labeled (\d+) of (\d+) · (\d+) this session", screen)
    assert m, screen
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def lines_of(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "the label file ends in a half line"
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def label_tool(labels: Path, *extra: str, inputs=(str(SEED),), annotator: str = "m1") -> Tool:
    return Tool("label", *inputs, "--labels", str(labels), "--annotator", annotator, *extra)


# --------------------------------------------------------------------------- label, toggle, undo, skip, quit, resume

def test_label_toggle_save_skip_undo_help_quit_then_resume(tmp_path):
    labels = tmp_path / "seed.jsonl"
    tool = label_tool(labels)
    first = tool.screen()
    assert "「在韓米軍の目的は中国けん制」" in first                    # the thread title
    assert progress(first) == (0, SEED_COMMENTS, 0)
    id0 = shown_id(first)

    second = tool.press("n")                                           # n: save as clean, go on
    id1 = shown_id(second)
    assert id1 and id1 != id0 and progress(second) == (1, SEED_COMMENTS, 1)
    assert "replies to >>5  [deleted post]" in second                  # reply_to resolved in the thread
    assert lines_of(labels)[0]["labels"] == {"slur": 0, "off_topic": 0, "delete": 0}

    assert toggled(tool.press("s")) == {"slur"}
    screen = tool.press("d")
    assert toggled(screen) == {"slur", "delete"} and "Enter saves: slur+delete" in screen
    assert toggled(tool.press("s")) == {"delete"}                      # a toggle toggles back
    tool.press("s")
    third = tool.press("\r")                                           # Enter: save the toggled set
    id2 = shown_id(third)
    assert "그건 너의 생각일뿐이다" in third and "replies to >>4  (not in this input)" in third
    assert toggled(third) == set()                                     # toggles reset for the next comment
    saved = lines_of(labels)
    assert [e["id"] for e in saved] == [id0, id1]
    assert saved[1]["labels"] == {"slur": 1, "off_topic": 0, "delete": 1}
    assert saved[1]["annotator"] == "m1" and saved[1]["source"].endswith("000_4f4399744ce36bb6.txt")
    assert saved[1]["thread_title"].startswith("「在韓米軍の目的は中国けん制」")

    assert "show or hide this help" in tool.press("?")
    assert "show or hide this help" not in tool.press("?")

    fourth = tool.press("x")                                           # skip id2: nothing saved
    id3 = shown_id(fourth)
    assert id3 not in (id0, id1, id2) and len(lines_of(labels)) == 2

    back = tool.press("u")                                             # undo the last saved label
    assert shown_id(back) == id1 and toggled(back) == {"slur", "delete"}
    assert progress(back)[0] == 1
    undo = lines_of(labels)[2]
    assert undo["undo"] is True and undo["id"] == id1 and undo["annotator"] == "m1"

    tool.press("s")
    tool.press("o")
    after = tool.press("\r")                                           # re-label it: off_topic+delete
    assert shown_id(after) == id3                                      # the skipped one is gone this session
    out = tool.quit()
    assert "labeled 2 this session" in out
    events = lines_of(labels)
    assert len(events) == 4
    standing = latest_by_annotator(events)
    assert standing[(id1, "m1")]["labels"] == {"slur": 0, "off_topic": 1, "delete": 1}
    assert standing[(id0, "m1")]["labels"] == {"slur": 0, "off_topic": 0, "delete": 0}

    # Resume: what m1 labeled is skipped; the skipped comment comes first; undo reaches the last session.
    again = label_tool(labels)
    screen = again.screen()
    assert shown_id(screen) == id2 and progress(screen) == (2, SEED_COMMENTS, 0)
    back = again.press("u")
    assert shown_id(back) == id1 and toggled(back) == {"off_topic", "delete"}
    again.quit()


def test_screen_shows_reply_text_title_and_highlights_lexicon_hits(tmp_path):
    comments = tmp_path / "thread.jsonl"
    rows = [{"id": "c1", "thread": "t", "no": 1, "text": "日韓関係はどうなるのか", "thread_title": "【日韓】首脳会談"},
            {"id": "c2", "thread": "t", "no": 2, "text": "チョンは帰れ", "reply_to": [1], "thread_title": "【日韓】首脳会談"},
            {"id": "c3", "thread": "t", "no": 3, "text": "", "thread_title": "【日韓】首脳会談"}]
    comments.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tool = label_tool(tmp_path / "l.jsonl", inputs=(str(comments),))
    first = tool.screen()
    assert "【日韓】首脳会談" in first and progress(first) == (0, 2, 0)   # the empty comment is not offered
    second = tool.press("n")
    assert shown_id(second) == "c2" and "replies to >>1  日韓関係はどうなるのか" in second
    assert "\x1b[1;4;31mチョン\x1b[0m" in tool.raw                     # the lexicon hit, bold red underlined
    done = tool.press("n")
    assert "All 2 comments are labeled by m1" in done
    assert shown_id(tool.press("u")) == "c2"                           # undo works from the done screen too
    tool.quit()


# --------------------------------------------------------------------------- durability

def test_kill_9_mid_session_loses_no_saved_label_and_leaves_no_half_line(tmp_path):
    labels = tmp_path / "l.jsonl"
    tool = label_tool(labels, inputs=(str(FIXTURES / "scrape"),))
    tool.screen()
    saved = []
    for key in "nsd\rn" * 3:
        tool.press(key)
        if key in "n\r":
            saved.append(1)
    tool.child.send("n")                                               # a save in flight …
    os.kill(tool.child.pid, signal.SIGKILL)                            # … and kill -9 at once
    tool.child.expect(pexpect.EOF)
    tool.child.close()
    events = lines_of(labels)                                          # every line parses, no half line
    assert len(events) in (len(saved), len(saved) + 1)
    assert [e["labels"] for e in events[:6]] == [{"slur": 0, "off_topic": 0, "delete": 0},
                                                 {"slur": 1, "off_topic": 0, "delete": 1},
                                                 {"slur": 0, "off_topic": 0, "delete": 0}] * 2
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
    assert all(e["labels"] == {"slur": 0, "off_topic": 0, "delete": 0} for e in by["bob"])
    assert len(read_events(labels)) == 2 * total                       # the project's reader agrees


# --------------------------------------------------------------------------- the model and --order uncertain

@pytest.fixture(scope="module")
def moderator():
    from moderation.score import Moderator

    return Moderator.load()


def test_uncertain_order_with_the_default_model_and_refit(tmp_path, moderator):
    from moderation.extract import extract
    from moderation.score import score_records

    rows = [r for r in score_records(moderator, extract([SEED])) if r["kind"] == "comment"]

    def margin(row):
        return min(abs(math.log(row[k] / (1 - row[k])) - math.log(th["hold"] / (1 - th["hold"])))
                   for k, th in moderator.thresholds.items())

    expected_first = min(rows, key=margin)["id"]
    labels = tmp_path / "u.jsonl"
    tool = label_tool(labels, "--order", "uncertain", "--model", "models/default", "--refit-every", "4")
    screen = tool.screen()
    assert shown_id(screen) == expected_first
    assert re.search(r"model\s+slur \d\.\d\d \(hold", screen)
    shown = []
    for n, keys in enumerate(["sd\r", "sd\r", "n", "n"] + ["n"] * (SEED_COMMENTS - 4), start=1):
        shown.append(shown_id(screen))
        for key in keys[:-1]:
            tool.child.send(key)
            tool.until(lambda s, k=key: LABEL_KEYS[k] in toggled(s))
        tool.child.send(keys[-1])
        screen = tool.until(lambda s, n=n: progress(s)[2] == n)
        if n == 4:
            # The fourth save triggers a refit in the pause that follows: slur and delete have 2 and 2 labels.
            screen = tool.until(lambda s: "re-ranked" in s)
            assert re.search(r"re-ranked 7 remaining on 4 labels \(refitted: slur, delete\)", screen)
    assert "All 12 comments are labeled by m1" in screen
    saved = lines_of(labels)
    assert [e["id"] for e in saved] == shown                             # what was shown is what was saved
    assert sorted(shown) == sorted(r["id"] for r in rows)                # every comment exactly once
    assert [e["labels"] for e in saved[:2]] == [{"slur": 1, "off_topic": 0, "delete": 1}] * 2
    tool.quit()


def test_session_in_process_spans_refit_and_ranking(tmp_path, moderator):
    """The same session without a terminal or a worker process: what run_terminal does while no key waits."""
    from moderation.extract import extract
    from moderation.labeling import ModelView, Session, collect_items

    items = collect_items(extract([SEED]))
    view = ModelView(moderator, items, keep_features=True)
    session = Session(items, tmp_path / "l.jsonl", "m1", order="uncertain", model=view, refit_every=4)
    margins = view.margins(session.queue)
    assert list(margins) == sorted(margins)                              # least certain first
    slurs = {i for i, item in enumerate(items) if "下朝鮮" in item.text or "アイゴー" in item.text}
    assert all(view.flagged[i] for i in slurs)
    for _ in range(4):
        session.save({"slur": int(session.current in slurs), "off_topic": 0,
                      "delete": int(session.current in slurs)})
    assert session.refit_pending
    results = []
    while (result := session.idle()) is not None:
        results.append(result)
    assert "re-ranked 7 remaining on 4 labels" in session.status
    assert all(view.explained(i) is not None for i in session.queue[:3] if view.flagged[i])
    assert "spans" in session.render(120) and session.wanted_spans() == []
    before = list(session.queue)
    session.apply_ranking(list(reversed(before[1:])), ["slur"], 4)        # a worker's ranking is applied as given
    assert session.queue == before[:1] + list(reversed(before[1:]))
    # --hide-scores: the model orders the queue but its scores and spans stay off the screen.
    hidden = Session(items, tmp_path / "h.jsonl", "m2", order="uncertain", model=view, show_scores=False)
    assert hidden.queue == sorted(hidden.queue, key=lambda i: view.margins([i])[0])
    screen = ANSI.sub("", hidden.render(120))
    assert "(scores hidden)" in screen and not re.search(r"^model |^spans ", screen, re.M)
    assert hidden.wanted_spans() == []
    # --order random: a permutation, the same one for the same --seed.
    shuffled = [Session(items, tmp_path / "r.jsonl", "m3", order="random", seed=7).queue for _ in range(2)]
    assert shuffled[0] == shuffled[1] and sorted(shuffled[0]) == list(range(len(items)))
    assert shuffled[0] != list(range(len(items)))


def test_a_save_that_cannot_be_written_says_so_and_keeps_the_comment(tmp_path):
    from moderation.extract import extract
    from moderation.labeling import Session, collect_items

    (tmp_path / "not-a-dir").write_text("", encoding="utf-8")
    session = Session(collect_items(extract([SEED])), tmp_path / "not-a-dir" / "l.jsonl", "m1")
    first = session.current
    for key in "sd\r":
        assert session.press(key)
    assert session.current == first and session.toggles == {"slur", "delete"}   # nothing lost, nothing moved
    assert session.status.startswith("NOT SAVED") and session.done_count == 0


# --------------------------------------------------------------------------- the other commands, run at once

def run_all(runs: dict[str, tuple]) -> dict[str, subprocess.CompletedProcess]:
    """Run `moderation` invocations side by side (each pays the interpreter's start-up) with stdin
    a pipe, not a terminal; returns the finished processes by name."""
    exe = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "moderation"]
    procs = {name: subprocess.Popen(exe + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=ROOT) for name, args in runs.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(input="", timeout=120)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def event(cid, annotator, text="", **labels):
    return {"id": cid, "thread": "t", "text": text or f"comment {cid}", "labels": labels, "annotator": annotator,
            "at": "2026-11-27T00:00:00Z", "source": "test"}


def write_events(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path


# slur over ten comments:  A 1110000010, B 1100000110. Agreement 8/10 = 0.8; A and B each say 1 on 4/10,
# so chance = 0.4*0.4 + 0.6*0.6 = 0.52 and kappa = (0.8 - 0.52) / (1 - 0.52) = 7/12.
# delete: A 1100000010, B 1100000000: p_o 0.9, p_A 0.3, p_B 0.2, chance 0.06 + 0.56 = 0.62,
# kappa = 0.28 / 0.38 = 14/19. off_topic: all 0, so kappa is undefined.
KAPPA = {"slur": ([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 1, 1, 0]),
         "delete": ([1, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 0, 0, 0, 0, 0, 0, 0, 0])}
# Units (A, B, C): u1 1,1,1  u2 0,0,0  u3 1,0,0  u4 1,1,0  u5 0,0,-  u6 1,-,- (unpairable).
# Coincidences: o00 = 3 + 1 + 2 = 6, o11 = 3 + 1 = 4, o01 = o10 = 1 + 1 = 2; n0 = 8, n1 = 6, n = 14.
# alpha = 1 - (n - 1) * (o01 + o10) / (2 * n0 * n1) = 1 - 13 * 4 / 96 = 11/24.
ALPHA = {"u1": (1, 1, 1), "u2": (0, 0, 0), "u3": (1, 0, 0), "u4": (1, 1, 0), "u5": (0, 0, None), "u6": (1, None, None)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every non-interactive case of this file, run at once: the files they read and their results."""
    tmp = tmp_path_factory.mktemp("runs")
    files = {}
    two = []
    for i in range(10):
        for who, k in (("A", 0), ("B", 1)):
            two.append(event(f"c{i}", who, slur=KAPPA["slur"][k][i], off_topic=0, delete=KAPPA["delete"][k][i]))
    two.append(event("solo", "A", slur=1, off_topic=0, delete=1))        # one annotator only: no pair
    files["two"] = write_events(tmp / "two.jsonl", two)
    three = [event(cid, who, slur=v, delete=v) for cid, values in ALPHA.items()
             for who, v in zip("ABC", values) if v is not None]
    # B first said u2 was a slur, then took it back (undo) and relabeled: only the latest counts.
    three[:0] = [event("u2", "B", slur=1, delete=1), {"id": "u2", "annotator": "B", "at": "2026-11-27T00:00:01Z",
                                                      "undo": True}]
    files["three"] = write_events(tmp / "three.jsonl", three)
    files["export"] = write_events(tmp / "export.jsonl", [
        event("a", "m1", slur=1, off_topic=0, delete=1),
        event("a", "m2", slur=0, off_topic=0, delete=1),
        event("a", "m3", slur=1, off_topic=0, delete=0),
        event("b", "m1", slur=1, off_topic=0, delete=1),
        {"id": "b", "annotator": "m1", "at": "2026-11-27T00:00:02Z", "undo": True},
        event("b", "m1", slur=0, off_topic=1, delete=0),                   # m1's latest on b
        event("c", "m2", slur=1),                                          # only slur given
        event("d", "m1", slur=1, off_topic=0, delete=1),
        {"id": "d", "annotator": "m1", "at": "2026-11-27T00:00:03Z", "undo": True},  # nothing stands on d
    ])
    files["export.csv"] = tmp / "train.csv"
    bad = {"csv": "id,text,slur\n1,こんにちは,0\n", "array": '[{"id": "a", "labels": {"slur": 1}}]\n',
           "table": '{"id": "c1", "text": "ただのコメント"}\n'}
    for name, content in bad.items():
        files[f"bad-{name}"] = tmp / f"{name}.labels"
        files[f"bad-{name}"].write_text(content, encoding="utf-8")
    files["bad-content"] = bad
    results = run_all({
        "kappa": ("labels", "stats", str(files["two"]), "--format", "json"),
        "kappa-table": ("labels", "stats", str(files["two"])),
        "alpha": ("labels", "stats", str(files["three"]), "--format", "json"),
        "export-csv": ("labels", "export", str(files["export"]), "--out", str(files["export.csv"])),
        "no-tty": ("label", str(SEED), "--labels", str(tmp / "never.jsonl")),
        "missing-input": ("label", str(tmp / "nope.txt"), "--labels", str(tmp / "never.jsonl")),
        "bad-csv": ("label", str(SEED), "--labels", str(files["bad-csv"])),
        "bad-array": ("labels", "stats", str(files["bad-array"])),
        "bad-table": ("labels", "export", str(files["bad-table"])),
    })
    return files, results


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_without_a_terminal_it_says_so_and_exits_non_zero(runs):
    files, results = runs
    message = one_line_error(results["no-tty"])
    assert "needs a terminal" in message and "stdin is not a TTY" in message


def test_a_missing_input_is_one_line_without_a_traceback(runs):
    files, results = runs
    assert "nope.txt: no such file or directory" in one_line_error(results["missing-input"])
    with pytest.raises(LabelFileError, match="nope.jsonl: no such file"):           # what stats and export say
        read_label_files([files["two"].parent / "nope.jsonl"])


@pytest.mark.parametrize("name, message", [("csv", "looks like CSV"), ("array", "is a JSON array"),
                                           ("table", "no label events")])
def test_a_file_that_is_not_a_label_file_is_refused_clearly(runs, name, message):
    files, results = runs
    error = one_line_error(results[f"bad-{name}"])
    assert message in error and "not a label file" in error
    assert files[f"bad-{name}"].read_text(encoding="utf-8") == files["bad-content"][name]   # left alone


def test_a_corrupt_line_is_reported_skipped_and_never_rewritten(tmp_path):
    from moderation.extract import extract
    from moderation.labeling import collect_items

    items = collect_items(extract([SEED]))
    labels = tmp_path / "l.jsonl"
    good = [{"id": items[i].id, "text": items[i].text, "labels": {"slur": 0, "off_topic": 0, "delete": 0},
             "annotator": "m1", "at": "2026-11-27T00:00:00Z"} for i in range(2)]
    content = (json.dumps(good[0], ensure_ascii=False) + "\n" + '{"id": "x", "labels": {"slur": \n'
               + json.dumps(good[1], ensure_ascii=False) + "\n")
    labels.write_text(content, encoding="utf-8")
    stats = subprocess.Popen([str(EXE), "labels", "stats", str(labels), "--format", "json"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The labeling tool says so, resumes from the good lines, and only ever appends.
    tool = label_tool(labels)
    screen = tool.screen()
    assert "l.jsonl:2: corrupt line" in screen and progress(screen) == (2, SEED_COMMENTS, 0)
    assert shown_id(screen) == items[2].id
    stdout, stderr = stats.communicate(timeout=60)
    assert stats.returncode == 0 and f"{labels}:2: corrupt line" in stderr
    assert json.loads(stdout)["annotators"]["m1"]["comments"] == 2
    tool.press("n")
    tool.quit()
    after = labels.read_text(encoding="utf-8")
    assert after.startswith(content) and len(after.splitlines()) == 4


def test_stats_cohen_kappa_for_two_annotators_matches_the_hand_computed_value(runs):
    files, results = runs
    assert results["kappa"].returncode == 0, results["kappa"].stderr
    stats = json.loads(results["kappa"].stdout)
    slur = stats["agreement"]["slur"]
    assert slur["measure"] == "cohen_kappa" and slur["items"] == 10
    assert slur["value"] == pytest.approx(7 / 12) and slur["observed"] == pytest.approx(0.8)
    assert stats["agreement"]["delete"]["value"] == pytest.approx(14 / 19)
    assert stats["agreement"]["off_topic"]["value"] is None                    # no variation: undefined
    assert stats["annotators"]["A"] == {"comments": 11, "slur": 5, "off_topic": 0, "delete": 4}
    assert stats["annotators"]["B"] == {"comments": 10, "slur": 4, "off_topic": 0, "delete": 2}
    assert [(d["id"], d["labels"]) for d in stats["disagreements"]] == [
        ("c2", ["slur"]), ("c7", ["slur"]), ("c8", ["delete"])]
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
    assert rows[2] == {"id": "c", "thread": "t", "text": "comment c", "slur": 1, "off_topic": None, "delete": None,
                       "annotators": ["m2"], "thread_title": None, "thread_text": None, "source": "test"}


def test_label_keys_name_the_model_labels_and_escape_sequences_are_not_keys():
    assert LABEL_NAMES == LABELS
    assert keys_of("s\x1b[Dd\x1b[1;5C\x1bOd\r".encode()) == ["s", "d", "\r"]
    assert keys_of("x\x1b".encode()) == ["x"]
