"""`moderation label --web` in a real browser: headless Chromium from the system packages
(/usr/bin/chromium, installed by .ci/run), driven by Playwright, against the real console script.

- hostile comments (HTML, script, terminal sequences) render as visible text and run nothing;
  every response has the CSP and nosniff headers; the page loads nothing but its own files;
- keys label, toggle, note, undo and end a session through the page, into the label file;
- a moderator in the terminal and one in the browser label one file at once; stats, adjudicate,
  export and train then see each comment once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, SEED, run_cli

from moderation.apps.labeling.terminal import FRAME_END
from moderation.labels import load_training_data
from moderation.labels.events import read_events

EXE = Path(sys.executable).with_name("moderation")
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
