"""`moderation label --web` in a real browser: headless Chromium from the system packages
(/usr/bin/chromium, installed by .ci/run), driven by Playwright, against the real console script.

- hostile comments (HTML, script, terminal sequences) render as visible text and run nothing;
  every response has the CSP and nosniff headers; the page loads nothing but its own files;
- keys label, toggle, note, undo and end a session through the page, into the label file;
- a moderator in the terminal and one in the browser label one file at once; stats, adjudicate,
  export and train then see each comment once;
- review and adjudication through the page (change a label with a note, undo, decide);
- kill -9 in the middle of review and of adjudication, in the page and in the terminal: every
  save the interface acknowledged is in the file, and every line is a whole event.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, SEED, run_cli

from moderation.apps.labeling.items import collect_items
from moderation.apps.labeling.session import Session
from moderation.apps.labeling.terminal import FRAME_END
from moderation.io import extract
from moderation.labels import latest_by_annotator, load_training_data
from moderation.labels.events import read_events, read_label_files

EXE = Path(sys.executable).with_name("moderation")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = {
    "img": '<img src=x onerror="window.__pwned=1;alert(1)">画像',
    "script": "<script>window.__pwned=2;alert(2)</script>スクリプト",
    "osc": "\x1b]0;title\x07\x1b[2J\u202eevil\x9b31m",
    "style": '<style>body{display:none}</style><a href="javascript:alert(3)">link</a>',
}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install -y chromium (see .ci/run)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class WebTool:
    """`moderation label ... --web --port 0` as a subprocess; the URL is read from stderr."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [str(EXE), *args, "--web", "--port", "0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        lines = []
        for line in self.proc.stderr:
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if m:
                self.url = m.group(1)
                return
        raise AssertionError("the page did not start:\n" + "".join(lines))

    def stop(self) -> str:
        self.proc.send_signal(2)  # Ctrl-C
        return self.proc.communicate(timeout=90)[1]  # generous: CI machines can be loaded


def open_page(browser, url: str, annotator: str):
    page = browser.new_page()
    seen = {"requests": [], "dialogs": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(f"{url}?annotator={annotator}")
    page.wait_for_selector("body[data-ready]")
    return page, seen


def press(page, key: str, until: str | None = None) -> None:
    """One key, then wait until the page has the server's answer (its status or text changed)."""
    watched = """() => ['status', 'text', 'toggles', 'note', 'done']
        .map((id) => document.getElementById(id).textContent).join('|')"""
    before = page.evaluate(watched)
    page.keyboard.press(key)
    page.wait_for_function(f"(before) => ({watched})() !== before", arg=before)
    if until:
        page.wait_for_function("(s) => document.body.innerText.includes(s)", arg=until)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


@pytest.fixture
def hostile_input(tmp_path) -> Path:
    path = tmp_path / "hostile.jsonl"
    rows = [
        {"id": f"h-{k}", "thread": "t", "no": n + 1, "text": v, "thread_title": "<b>題</b>\x1b]0;x\x07"}
        for n, (k, v) in enumerate(HOSTILE.items())
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_hostile_comments_render_as_text_and_run_nothing_under_a_strict_csp(browser, hostile_input, tmp_path):
    tool = WebTool("label", str(hostile_input), "--labels", str(tmp_path / "l.jsonl"))
    try:
        page, seen = open_page(browser, tool.url, "alice")
        for name, text in HOSTILE.items():
            shown = page.inner_text("#text")
            if name == "osc":
                assert "␛]0;title␇␛[2J\\u202eevil\\u009b31m" in shown  # visible, escaped, in order
            else:
                assert shown == text  # HTML shown as the characters that were posted
            tags = page.eval_on_selector_all("#text *", "els => els.map(e => e.tagName)")
            assert set(tags) <= {"SPAN"}  # only the page's own highlight spans: no element from the comment
            assert page.inner_text("#title") == "<b>題</b>␛]0;x␇"
            press(page, "n")
        assert page.evaluate("window.__pwned") is None and seen["dialogs"] == [] and seen["errors"] == []
        assert all(url.startswith(tool.url) for url in seen["requests"])  # nothing but its own files
        for path in ("", "app.js", "app.css", "api/view?annotator=alice"):
            headers = page.request.get(tool.url + path).headers
            assert "script-src 'self'" in headers["content-security-policy"]
            assert "default-src 'none'" in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff"
        # An inline script is refused by the policy itself (not only never inserted).
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
            " document.body.append(s); }"
        )
        assert page.evaluate("window.__inline") is None
        # Keys from another origin or as a form post are refused; another Host is refused.
        assert (
            page.request.post(
                tool.url + "api/key",
                data="annotator=alice&key=n",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ).status
            == 415
        )
        assert page.request.get(tool.url, headers={"Host": "evil.example"}).status == 403
        saved = {e["id"]: e["text"] for e in lines_of(tmp_path / "l.jsonl")}
        assert saved == {f"h-{k}": v for k, v in HOSTILE.items()}  # the label file keeps the text exact
        page.close()
    finally:
        tool.stop()


def test_keys_label_toggle_note_undo_and_end_a_session_in_the_page(browser, tmp_path):
    labels = tmp_path / "seed.jsonl"
    tool = WebTool("label", str(SEED), "--labels", str(labels))
    try:
        page, _seen = open_page(browser, tool.url, "alice")
        first = page.inner_text("#id")
        press(page, "s")
        press(page, "d")
        assert page.eval_on_selector_all("#toggles .on", "els => els.map(e => e.dataset.label)") == ["slur", "delete"]
        press(page, "Enter")
        assert lines_of(labels)[-1]["labels"] == {"slur": 1, "off_topic": 0, "delete": 1}
        assert lines_of(labels)[-1]["id"] == first.removeprefix("id ")
        press(page, "/")
        for ch in "理由あり":
            page.keyboard.type(ch)
        page.wait_for_function("() => document.getElementById('note').textContent === '理由あり'")
        press(page, "Enter")
        press(page, "n")
        assert lines_of(labels)[-1]["note"] == "理由あり" and lines_of(labels)[-1]["labels"]["slur"] == 0
        press(page, "c")
        assert "thread context" in page.inner_text("#panel-title")
        press(page, "c")
        press(page, "u")
        assert lines_of(labels)[-1]["undo"] is True
        press(page, "q", until="Session ended for alice")
        page.close()
    finally:
        err = tool.stop()
    assert "alice: labeled 1 this session" in err


def test_terminal_and_browser_at_once_then_stats_adjudicate_export_and_train(browser, tmp_path):
    """The issue's team flow: one moderator in the terminal, one in the browser, one file."""
    comments = tmp_path / "few.jsonl"
    rows = [
        {"id": f"c{n}", "thread": "t", "no": n, "text": text, "thread_title": "在韓米軍"}
        for n, text in enumerate(["在韓米軍の話だ", "下朝鮮は黙ってろ", "ラーメン食べたい", "それな"], start=1)
    ]
    comments.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    labels = tmp_path / "team.jsonl"
    tool = WebTool("label", str(comments), "--labels", str(labels))
    term = pexpect.spawn(
        str(EXE),
        ["label", str(comments), "--labels", str(labels), "--annotator", "term"],
        cwd=str(ROOT),
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=60,
        env={**os.environ, "TERM": "xterm"},
    )
    term.delaybeforesend = None
    try:
        page, _seen = open_page(browser, tool.url, "web")
        term.expect_exact(FRAME_END)
        # Interleaved: the terminal says clean, clean, slur+delete, clean; the page says
        # clean, off_topic, slur+delete, clean: they disagree on c2 (a tie on off_topic).
        for term_keys, web_keys in (("n", ["n"]), ("n", ["o", "Enter"]), ("sd\r", ["s", "d", "Enter"]), ("n", ["n"])):
            for key in term_keys:
                term.send(key)
                term.expect_exact(FRAME_END)
            for key in web_keys:
                press(page, key)
        term.send("q")
        term.expect(pexpect.EOF)
        page.close()
    finally:
        tool.stop()
        term.close()
    events = read_events(labels)
    assert sorted(e["annotator"] for e in events) == ["term"] * 4 + ["web"] * 4
    stats = json.loads(run_cli("labels", "stats", str(labels), "--format", "json").stdout)
    assert [d["id"] for d in stats["disagreements"]] == ["c2"]
    assert stats["agreement"]["off_topic"]["items"] == 4
    tie = json.loads(run_cli("labels", "export", str(labels), "--format", "jsonl").stdout.split("\n")[1])
    assert tie["id"] == "c2" and tie["off_topic"] is None and tie["unresolved"] == ["off_topic"]  # not silently 1
    # Adjudicate in the terminal: the one disagreement, decided as off_topic with a note.
    lead = pexpect.spawn(
        str(EXE),
        ["labels", "adjudicate", str(labels), "--annotator", "lead"],
        cwd=str(ROOT),
        dimensions=(40, 160),
        encoding="utf-8",
        timeout=60,
    )
    lead.delaybeforesend = None
    lead.expect_exact(FRAME_END)
    assert "by      term" in lead.before or "term" in lead.before
    for key in ["o", "/", "関", "係", "な", "い", "\r", "\r"]:
        lead.send(key)
        lead.expect_exact(FRAME_END)
    lead.send("q")
    lead.expect(pexpect.EOF)
    lead.close()
    decided = read_events(labels)[-1]
    assert decided["adjudication"] is True and decided["labels"]["off_topic"] == 1 and decided["note"] == "関係ない"
    export = tmp_path / "export.csv"
    assert run_cli("labels", "export", str(labels), "--out", str(export)).returncode == 0
    rows = json.loads(run_cli("labels", "export", str(labels), "--format", "jsonl").stdout.split("\n")[1])
    assert rows["off_topic"] == 1 and rows["adjudicated"] is True and rows["unresolved"] == []
    # Each comment counts once in training, from both the label file and its export (the loader
    # `moderation train` uses merges repeated ids and says so).
    warnings: list[str] = []
    frame, summary = load_training_data([labels, export], warn=warnings.append)
    assert sorted(frame["id"]) == ["c1", "c2", "c3", "c4"] and summary["duplicates"] == {"merged": 4, "tied": 0}
    assert frame.set_index("id").loc["c2", "off_topic"] == 1 and "4 rows repeat a comment id" in warnings[0]


# --------------------------------------------------------------------------- review and adjudication


def seed_labels(path: Path, annotator: str, keys: list[str]) -> list[str]:
    """Label the seed thread through the session itself (the real label file), one entry of
    ``keys`` per comment; returns the ids in order."""
    items = collect_items(extract([SEED]))
    session = Session(items, path, annotator)
    ids = []
    for keys_of_one in keys:
        ids.append(session.view().comment.id)
        for key in keys_of_one:
            session.press(key)
    return ids


def toggles_of(page) -> list[str]:
    return page.eval_on_selector_all("#toggles .on", "els => els.map(e => e.dataset.label)")


def type_note(page, note: str) -> None:
    press(page, "/")
    for ch in note:
        page.keyboard.type(ch)
    page.wait_for_function("(n) => document.getElementById('note').textContent === n", arg=note)
    press(page, "Enter")


def test_review_in_the_page_changes_a_label_with_a_note_and_undoes(browser, tmp_path):
    labels = tmp_path / "l.jsonl"
    ids = seed_labels(labels, "alice", ["s\r", "n", "s\r", "n"])
    tool = WebTool("label", "--labels", str(labels), "--review", "--only", "slur")
    try:
        page, seen = open_page(browser, tool.url, "alice")
        assert page.inner_text("#heading") == "moderation label --review"
        assert page.inner_text("#id") == f"id {ids[0]}" and toggles_of(page) == ["slur"]  # as alice left it
        press(page, "s")
        assert toggles_of(page) == []
        type_note(page, "読み違い")
        press(page, "Enter", until=f"saved {ids[0]}: clean (with a note)")
        changed = lines_of(labels)[-1]
        assert changed["id"] == ids[0] and changed["labels"]["slur"] == 0 and changed["note"] == "読み違い"
        assert page.inner_text("#id") == f"id {ids[2]}" and toggles_of(page) == ["slur"]
        press(page, "u", until=f"undid the label of {ids[0]}")
        assert lines_of(labels)[-1] == {**lines_of(labels)[-1], "id": ids[0], "annotator": "alice", "undo": True}
        assert page.inner_text("#id") == f"id {ids[0]}" and toggles_of(page) == []  # back, as it was saved …
        assert page.inner_text("#note") == "読み違い"  # … note included
        press(page, "d")
        press(page, "Enter", until=f"saved {ids[0]}: delete")
        press(page, "q", until="Session ended for alice")
        assert seen["errors"] == []
        page.close()
    finally:
        err = tool.stop()
    assert "alice: labeled 1 this session" in err
    standing = latest_by_annotator(read_events(labels))[(ids[0], "alice")]
    assert standing["labels"] == {"slur": 0, "off_topic": 0, "delete": 1} and standing["note"] == "読み違い"


def test_adjudication_in_the_page_shows_every_annotator_and_decides(browser, tmp_path):
    labels = tmp_path / "team.jsonl"
    ids = seed_labels(labels, "alice", ["sd\r", "o\r", "n"])
    seed_labels(labels, "bob", ["/理由あり\rn", "n", "n"])
    tool = WebTool("labels", "adjudicate", str(labels))
    try:
        page, seen = open_page(browser, tool.url, "lead")
        assert page.inner_text("#heading") == "moderation labels adjudicate"
        assert page.inner_text("#id") == f"id {ids[0]}"
        others = page.inner_text("#others")
        assert "by alice: slur+delete" in others and "by bob: clean — 理由あり" in others
        press(page, "s")
        press(page, "d")
        type_note(page, "蔑称で確定")
        press(page, "Enter", until=f"decided {ids[0]}: slur+delete (with a note)")
        decided = lines_of(labels)[-1]
        assert decided["adjudication"] is True and decided["annotator"] == "lead" and decided["note"] == "蔑称で確定"
        assert page.inner_text("#id") == f"id {ids[1]}" and "by alice: off_topic" in page.inner_text("#others")
        press(page, "u", until=f"undid the label of {ids[0]}")
        assert lines_of(labels)[-1]["undo"] is True and lines_of(labels)[-1]["adjudication"] is True
        assert toggles_of(page) == ["slur", "delete"] and page.inner_text("#note") == "蔑称で確定"  # as decided
        press(page, "Enter", until=f"decided {ids[0]}")
        press(page, "n", until=f"decided {ids[1]}: clean")
        assert page.is_visible("#done")
        press(page, "q", until="Session ended for lead")
        assert seen["errors"] == []
        page.close()
    finally:
        tool.stop()
    export = run_cli("labels", "export", str(labels), "--format", "jsonl").stdout
    rows = {r["id"]: r for r in map(json.loads, export.splitlines())}
    assert rows[ids[0]]["slur"] == 1 and rows[ids[0]]["adjudicated"] is True
    assert rows[ids[1]]["off_topic"] == 0 and rows[ids[1]]["unresolved"] == []
    assert "lead (adjudication): 蔑称で確定" in rows[ids[0]]["notes"]


# --------------------------------------------------------------------------- kill -9 in review and adjudication


def team_file(path: Path) -> tuple[list[str], int]:
    """alice and bob on the 12 seed comments, disagreeing on every other one."""
    ids = seed_labels(path, "alice", ["s\r", "n"] * 6)
    seed_labels(path, "bob", ["n"] * 12)
    return ids, len(lines_of(path))


def check_after_kill(labels: Path, before: int, acked: list[str], who: str, adjudication: bool) -> None:
    """Every line is a whole event; each save the interface acknowledged is there, in order."""
    events = lines_of(labels)  # every line parses: no half line
    new = events[before:]
    assert len(new) in (len(acked), len(acked) + 1), new
    assert [e["id"] for e in new[: len(acked)]] == acked
    for e in new:
        assert e["annotator"] == who and e["labels"] == {"slur": 0, "off_topic": 1, "delete": 0}
        assert bool(e.get("adjudication")) is adjudication
    assert len(read_label_files([labels])) == len(events)  # the project's reader agrees, nothing skipped


@pytest.mark.parametrize("mode", ["review", "adjudicate"])
def test_kill_9_in_the_middle_of_a_page_loses_no_saved_label(browser, tmp_path, mode):
    labels = tmp_path / "team.jsonl"
    _ids, before = team_file(labels)
    args = ("label", "--labels", str(labels), "--review") if mode == "review" else ("labels", "adjudicate", str(labels))
    who = "alice" if mode == "review" else "lead"
    tool = WebTool(*args)
    acked = []
    try:
        page, _seen = open_page(browser, tool.url, who)
        for _ in range(4):
            shown = page.inner_text("#id").removeprefix("id ")
            if toggles_of(page):
                for label in toggles_of(page):
                    press(page, label[0])  # review starts from alice's label: clear it
            press(page, "o")
            press(page, "Enter", until=f" {shown}: off_topic")  # the answer: on disk (fsynced)
            acked.append(shown)
        for label in toggles_of(page):
            press(page, label[0])
        press(page, "o")
        page.keyboard.press("Enter")  # a save in flight …
        os.kill(tool.proc.pid, signal.SIGKILL)  # … and kill -9 at once
        tool.proc.wait(30)
        page.close()
    finally:
        if tool.proc.poll() is None:
            tool.stop()
    check_after_kill(labels, before, acked, who, mode == "adjudicate")


@pytest.mark.parametrize("mode", ["review", "adjudicate"])
def test_kill_9_in_the_middle_of_the_terminal_loses_no_saved_label(tmp_path, mode):
    labels = tmp_path / "team.jsonl"
    _ids, before = team_file(labels)
    args = ["label", "--labels", str(labels), "--review", "--annotator", "alice"]
    if mode == "adjudicate":
        args = ["labels", "adjudicate", str(labels), "--annotator", "lead"]
    child = pexpect.spawn(
        str(EXE),
        args,
        cwd=str(ROOT),
        dimensions=(60, 200),
        encoding="utf-8",
        timeout=60,
        env={**os.environ, "TERM": "xterm"},
    )
    child.delaybeforesend = None
    acked = []

    def screen() -> str:
        child.expect_exact(FRAME_END)
        return ANSI.sub("", child.before.rsplit("\x1b[2J", 1)[-1])

    shown = screen()
    for _ in range(4):
        cid = re.search(r"^id (\S+)\s*$", shown, re.M).group(1)
        if "[x] s slur" in shown:
            child.send("s")
            screen()
        child.send("o")
        screen()
        child.send("\r")
        shown = screen()  # drawn after the append was fsynced
        assert f" {cid}: off_topic" in shown
        acked.append(cid)
    if "[x] s slur" in shown:
        child.send("s")
        screen()
    child.send("o")
    screen()
    child.send("\r")  # a save in flight …
    os.kill(child.pid, signal.SIGKILL)  # … and kill -9 at once
    child.expect(pexpect.EOF)
    child.close()
    check_after_kill(labels, before, acked, "alice" if mode == "review" else "lead", mode == "adjudicate")


def test_the_models_spans_arrive_after_the_comment_without_holding_up_a_key(browser, tmp_path):
    """With a model, the page shows the comment at once and the spans when the worker has them."""
    comments = tmp_path / "slur.jsonl"
    rows = [
        {"id": f"c{n}", "thread": "t", "no": n, "text": text, "thread_title": "在韓米軍"}
        for n, text in enumerate(["下朝鮮は黙ってろ", "ラーメン食べたい", "チョンは帰れ"], start=1)
    ]
    comments.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tool = WebTool("label", str(comments), "--labels", str(tmp_path / "l.jsonl"), "--model", "models/default")
    try:
        page, seen = open_page(browser, tool.url, "alice")
        page.wait_for_function("() => document.getElementById('model').textContent.includes('slur: 「下朝鮮」')")
        press(page, "n")
        assert page.inner_text("#model").endswith("spans nothing flagged")  # not "…" for ever
        press(page, "n")
        page.wait_for_function("() => /slur: 「チョン/.test(document.getElementById('model').textContent)")
        assert page.inner_text("#id") == "id c3" and seen["errors"] == []
        page.close()
    finally:
        tool.stop()


def test_two_moderators_ordering_by_uncertainty_each_get_their_own_refit(tmp_path):
    """The page's server with its real worker process: refits are done one at a time, and each
    ranking goes back to the moderator who asked for it."""
    import time

    from moderation.apps.labeling.model_view import ModelView
    from moderation.apps.labeling.web import LabelingServer
    from moderation.moderator import Moderator

    items = collect_items(extract([SEED]))
    view = ModelView(Moderator.load(), items, keep_features=True)
    labels = tmp_path / "l.jsonl"

    def make(name: str) -> Session:
        return Session(items, labels, name, model=view, order="uncertain", refit_every=2)

    server = LabelingServer(make, model=view)
    try:
        for who in ("a", "b"):
            server.view(who)
        for key in ["s", "\r", "n", "s", "\r", "n"]:
            server.press("a", key)
            server.press("b", "n")
        # A refit runs on the labels saved when the worker takes it: under load, a's first one
        # may see one slur label and one clean ("too few labels of each kind"). Labels keep
        # coming on a real board: two more clean ones ask for the refit that sees both kinds.
        deadline = time.monotonic() + 60
        topped_up = False
        while time.monotonic() < deadline and not (
            "refitted: slur" in server.sessions["a"].status and server.sessions["b"].refits
        ):
            if not topped_up and server.sessions["a"].refits and "too few" in server.sessions["a"].status:
                server.press("a", "n")
                server.press("a", "n")
                topped_up = True
            time.sleep(0.05)
        status = {name: (s.refits, s.status) for name, s in server.sessions.items()}
        assert status["a"][0] >= 1 and "refitted: slur" in status["a"][1], status  # a's slur labels
        assert status["b"][0] >= 1 and "refitted: none yet" in status["b"][1], status  # b saved only clean
    finally:
        server.close()
