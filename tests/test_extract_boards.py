"""The extractor on the board families operators have: numbered dats, bbspink, 5ch's current
pages, shitaraba, futaba, matome exports, JSON comment exports; honest output for unknown pages;
and no pattern or reader that takes more than linear time on any input."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.io import board_text, extract, extract_file, page, registry
from moderation.io.readers import dat, fivech, futaba, json_export, matome, scrape, textsave
from moderation.io.readers.json_export import JsonFields

BOARDS = FIXTURES / "boards"
FORUM_FIELDS = JsonFields(text="message", id="comment_id", parent="in_reply_to", thread="topic", author="user")


def rows(records) -> list[dict]:
    return [
        {
            "kind": r.kind,
            "no": r.no,
            "author": r.author,
            "posted_at": r.posted_at,
            "deleted": r.deleted,
            "reply_to": r.reply_to,
            "text": r.text,
        }
        for r in records
    ]


def _expected_for(source: Path) -> Path:
    if source.name == "shitaraba_1319198591.html":
        return BOARDS / "shitaraba_1319198591.page.expected.json"
    return BOARDS / (source.name.split(".")[0] + ".expected.json")


SOURCES = sorted(p for p in BOARDS.iterdir() if not p.name.endswith(".expected.json") and p.suffix != ".md")


@pytest.mark.parametrize("source", SOURCES, ids=[p.name for p in SOURCES])
def test_every_post_number_author_date_text_and_deletion(source: Path):
    expected = json.loads(_expected_for(source).read_text(encoding="utf-8"))
    fields = FORUM_FIELDS if source.name == "forum_export.json" else None
    recs = list(extract_file(source, json_fields=fields))
    assert {r.source_format for r in recs} == {expected["source_format"]}
    assert rows(recs) == expected["records"]
    text = source.read_bytes()
    for rec in recs:  # spans lie inside the decoded file, in order
        assert 0 <= rec.span[0] <= rec.span[1] <= len(text)


def test_numbered_dats_keep_their_numbers_and_dates_are_never_text():
    for name in ("shitaraba_1319198591.dat", "machi_1241917200.dat"):
        recs = [r for r in extract_file(BOARDS / name) if r.kind == "comment"]
        assert all(not re.match(r"\d{4}/\d", r.text) for r in recs)
        assert all(r.posted_at for r in recs if not r.deleted)
    shitaraba = [r for r in extract_file(BOARDS / "shitaraba_1319198591.dat") if r.kind == "comment"]
    assert [r.no for r in shitaraba] == [1, 2, 5, 6, 7]  # gaps stay gaps
    assert [r.no for r in shitaraba if r.deleted] == [6]  # ＜削除＞
    assert shitaraba[0].author == "名無しさん" and shitaraba[0].posted_at == "2011-10-21T21:03:11"


def test_dat_dialect_is_detected_from_content():
    assert dat.detect_dialect((BOARDS / "machi_1241917200.dat").read_text(encoding="cp932").splitlines()).numbered
    assert not dat.detect_dialect((FIXTURES / "dat" / "livejupiter_1754030001.dat").read_text().splitlines()).numbered


def test_a_broken_dat_record_is_rejoined():
    recs = list(extract_file(BOARDS / "broken_1709251200.dat"))
    assert [r.kind for r in recs] == ["title", "comment", "comment", "comment"]
    assert recs[2].no == 2 and recs[2].text == "一行目\n二行目" and "<>" not in recs[2].text


def test_the_same_thread_as_dat_and_as_page_reads_the_same():
    as_dat = [
        (r.no, r.deleted, r.text) for r in extract_file(BOARDS / "shitaraba_1319198591.dat") if r.kind == "comment"
    ]
    page = [
        (r.no, r.deleted, r.text) for r in extract_file(BOARDS / "shitaraba_1319198591.html") if r.kind == "comment"
    ]
    assert as_dat == page


def test_an_unknown_page_yields_no_comment():
    warnings: list[str] = []
    recs = list(extract_file(BOARDS / "unknown_portal.html", warn=warnings.append))
    assert recs and {r.kind for r in recs} <= {"title", "meta"}
    assert any("no reader recognises" in w for w in warnings)


def test_pages_of_no_board_never_yield_comments():
    # A blog whose articles are article.post > div.post-content (as in 5ch's newest layout),
    # a FAQ <dl> whose <dt> start with numbers, a blockquote after "No.123" and a date.
    for name in ("unknown_portal.html", "unknown_blog.html"):
        warnings: list[str] = []
        recs = list(extract_file(BOARDS / name, warn=warnings.append))
        assert recs and {r.kind for r in recs} <= {"title", "meta"}, name
        assert warnings, name
    for layout in (fivech.page_posts, fivech.div_posts, fivech.li_posts, futaba.posts, matome.posts):
        assert layout(page.Page((BOARDS / "unknown_blog.html").read_text(encoding="utf-8"))) == []


def test_a_line_break_in_the_source_is_not_a_line_break_of_the_post():
    html = "<title>t</title><dl><dt>1 ：名無し：2023/05/01(月) 10:00:00</dt><dd>一行目<br />\n二行目\r\n続き</dd></dl>"
    recs = [r for r in extract_file(_write(html, "t.html")) if r.kind == "comment"]
    assert recs[0].text == "一行目\n二行目 続き"


def _write(text: str, name: str, encoding: str = "utf-8") -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_file_cut_inside_a_character_or_with_a_few_broken_bytes_is_still_read(tmp_path):
    raw = (FIXTURES / "html" / "2ch_old.html").read_bytes()
    whole = [(r.no, r.text) for r in extract_file(FIXTURES / "html" / "2ch_old.html") if r.kind == "comment"]
    for cut in range(len(raw) - 40, len(raw)):  # some cuts fall inside a two-byte character
        (tmp_path / "cut.html").write_bytes(raw[:cut])
        got = [(r.no, r.text) for r in extract_file(tmp_path / "cut.html") if r.kind == "comment"]
        assert [no for no, _ in got] == [no for no, _ in whole]
        assert all("\ufffd" not in text for _, text in got)
    at = raw.index("。".encode("cp932"))  # one broken byte pair in the middle of a post
    (tmp_path / "broken.html").write_bytes(raw[:at] + b"\x82\x20" + raw[at + 2 :])
    got = [r for r in extract_file(tmp_path / "broken.html") if r.kind == "comment"]
    assert [r.no for r in got] == [no for no, _ in whole]
    res = run_cli("extract", str(tmp_path / "broken.html"), "--encoding", "utf-8")  # named, it stays strict
    assert res.returncode == 1 and "--encoding cp932" in res.stderr


def test_a_saved_again_page_keeps_its_old_charset_but_is_utf8():
    html = '<meta charset="Shift_JIS"><title>スレ</title>'
    html += "<dl><dt>1 ：名無し：2023/05/01(月) 10:00:00</dt><dd>本文です</dd></dl>"
    recs = list(extract_file(_write(html, "saved.html")))
    assert [r.text for r in recs] == ["スレ", "本文です"]


def test_offsets_hold_past_line_65535_where_lxml_stops_counting():
    posts = "".join(
        f'<div class="post" id="{n}"><span class="number">{n}</span>'
        f'<span class="date">2023/05/01(月) 10:00:{n % 60:02d}</span>\n<div class="message">本文{n}</div></div>\n'
        for n in range(1, 40_001)
    )
    text = "<html><head><title>長いスレ</title></head><body>\n" + posts + "</body></html>"
    recs = [r for r in extract_file(_write(text, "long.html")) if r.kind == "comment"]
    assert len(recs) == 40_000 and recs[-1].no == 40_000
    for rec in (recs[0], recs[20_000], recs[-1]):  # 2 lines per post: these sit beyond line 65535
        assert text[rec.span[0] :].startswith(f'<div class="post" id="{rec.no}">')


def test_scraped_dumps_stay_scrape_and_text_saves_are_text():
    # The text reader claims numbered header lines; the seed layout (no number on the header
    # line) stays with the scrape reader.
    for path in [*sorted((FIXTURES / "scrape").glob("*.txt")), *sorted(Path("seeds").glob("*.txt"))]:
        assert registry.detect_format(path, path.read_text(encoding="utf-8")) == "scrape", path
    assert textsave.parse_head("12 あぼーん").deleted and textsave.parse_head("12 削除されてて草") is None
    assert textsave.parse_head("3月 2023/05/01(月) 10:00 に行く") is None
    assert textsave.parse_head("5 この日 2023/05/01(月) 10:00 から工事") is None


def test_the_1001_line_of_a_dat_is_a_notice_not_a_post():
    recs = list(extract_file(BOARDS / "5ch_mixed_eol.dat"))
    assert recs[-1].kind == "meta" and "Over 1000 Thread" in recs[-1].text
    assert [r.no for r in recs if r.kind == "comment"] == [1, 2, 3, 4, 5]


def test_matome_quote_of_an_older_post_stays_in_its_body():
    recs = [r for r in extract_file(BOARDS / "matome_honobono.html") if r.kind == "comment"]
    assert [r.no for r in recs] == [1, 3, 8, 12]
    assert recs[2].reply_to == [3] and recs[2].text.startswith(">3: 名無しさん")
    assert matome.split_head("3: 名無しさん 2023/04/01(土) 09:02:11.45 ID:x") == (3, "名無しさん")


def test_board_families_are_detected_and_registered():
    names = registry.input_formats()
    for name in ("5ch", "open2ch", "shitaraba", "futaba", "matome", "json"):
        assert name in names
    sample = (BOARDS / "futaba_1200000001.htm").read_bytes().decode("cp932")
    assert registry.detect_format("x.htm", sample) == "futaba"
    assert registry.detect_format("x.html", (FIXTURES / "html" / "open2ch.html").read_text()) == "open2ch"
    # A .dat whose bodies hold read.cgi links and <br> is still a dat, not a page.
    assert registry.detect_format("t.dat", (FIXTURES / "dat" / "newsplus_1754021234.dat").read_text()) == "dat"


def test_directory_walk_reads_json_exports_but_not_expectations(tmp_path):
    (tmp_path / "c.json").write_text('[{"text": "一つ目"}, {"text": "二つ目"}]', encoding="utf-8")
    (tmp_path / "c.expected.json").write_text("[]", encoding="utf-8")
    assert [r.text for r in extract(tmp_path)] == ["一つ目", "二つ目"]


# --------------------------------------------------------------------------- the CLI


def test_cli_names_the_reader_and_warns_on_fallback():
    res = run_cli(
        "extract", str(BOARDS / "futaba_1200000001.htm"), str(BOARDS / "unknown_portal.html"), "--format", "jsonl"
    )
    assert res.returncode == 0, res.stderr
    assert "futaba_1200000001.htm: read as futaba" in res.stderr
    assert "unknown_portal.html: read as html" in res.stderr and "no reader recognises" in res.stderr
    kinds = [json.loads(line)["kind"] for line in res.stdout.splitlines()]
    assert kinds.count("comment") == 6 and "Traceback" not in res.stderr


def test_cli_json_mapping_and_reddit_preset():
    res = run_cli(
        "extract", str(BOARDS / "forum_export.json"), "--input-format", "json", "--text-field", "message",
        "--id-field", "comment_id", "--parent-field", "in_reply_to", "--thread-field", "topic", "--format", "jsonl",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["id"], r["thread"], r["text"], r["reply_to"]) for r in out] == [
        ("101", "bench", "ベンチ増えたね", []),
        ("102", "bench", "座りやすい", [101]),
        ("103", "bench", "同意", [102]),
    ]
    res = run_cli("extract", str(BOARDS / "forum_export.json"), "--format", "jsonl")
    assert res.returncode == 1 and "--text-field" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("extract", str(BOARDS / "reddit_abc123.json"), "--json-preset", "reddit", "--format", "jsonl")
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["author"], r["deleted"]) for r in out] == [
        ("parkfan", False),
        ("u_one", False),
        ("u_two", False),
        (None, True),
    ]


def test_cli_input_format_choices_come_from_the_registry():
    res = run_cli("extract", "--help")
    for name in registry.input_formats():
        assert name in res.stdout


def test_wrong_encoding_suggests_the_detected_one(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("町内会の夏祭りの反省スレです。意見をどうぞ。".encode("euc_jp"))
    res = run_cli("extract", str(path), "--encoding", "utf-8")
    assert res.returncode == 1 and "--encoding euc_jp" in res.stderr and "Traceback" not in res.stderr


def test_json_export_reads_nested_replies():
    doc = '{"items": [{"id": "a", "text": "上", "children": [{"id": "b", "text": "下"}]}]}'
    recs = list(json_export.read_json(doc, thread="t", source=""))
    assert [(r.id, r.text, r.extra.get("parent_id")) for r in recs] == [("a", "上", None), ("b", "下", "a")]


# --------------------------------------------------------------------------- linear time on hostile input

# Every pattern and reader must stay linear: a line of blanks once took 5 s at 400 characters
# (cubic). The bound below is generous (2 s for 100 kB, where a linear reader takes well under
# 0.1 s) so a loaded machine does not fail it, while anything super-linear cannot pass it.
_BUDGET_PER_100KB = 2.0
_RUN_CHARS = [" ", "\t", "\u3000", ">", "＞", ":", "：", "0", "9", "/", "<", "-", "\n", "w", "<>", "&gt;", "。", "「"]

PATTERNS = [
    (name, obj)
    for module in (board_text, page, scrape, dat, fivech, matome, futaba, json_export, textsave)
    for name, obj in vars(module).items()
    if isinstance(obj, re.Pattern)
]
READERS = [r for r in registry.readers() if r.name not in ("parquet",)]


def _runs(draw_parts: list[tuple[str, int]]) -> str:
    return "".join(part * count for part, count in draw_parts)


hostile = st.lists(st.tuples(st.sampled_from(_RUN_CHARS), st.integers(1, 4000)), min_size=1, max_size=6).map(_runs)


def _timed(fn, text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile)
def test_every_pattern_is_linear_on_runs_of_blanks_marks_and_digits(text):
    text = (text * (1 + 100_000 // max(1, len(text))))[:100_000]
    for name, pattern in PATTERNS:
        elapsed = _timed(lambda t, p=pattern: (p.search(t), p.match(t), sum(1 for _ in p.finditer(t))), text)
        assert elapsed < _BUDGET_PER_100KB, f"{name} took {elapsed:.2f}s on 100 kB"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile, st.sampled_from(["", "<html><body><script>", "名無し<>sage<>", "1<>名無し<><>", '<div class="post">']))
def test_every_reader_is_linear_on_runs_of_blanks_marks_and_digits(text, prefix):
    text = prefix + (text * (1 + 100_000 // max(1, len(text))))[:100_000]
    for reader in READERS:

        def run(t, reader=reader):
            try:
                list(reader.read(t, thread="t", source=""))
            except Exception as exc:  # a reader may refuse input (JSON), but only with ExtractError
                assert type(exc).__name__ == "ExtractError", exc

        elapsed = _timed(run, text)
        assert elapsed < _BUDGET_PER_100KB * 1.01, f"{reader.name} took {elapsed:.2f}s on {len(text)} chars"


def test_the_reported_hangs_are_gone(tmp_path):
    # The three inputs of the report: a 800-space line, a page whose scripts are one long
    # run of blanks, and a 4-line .txt with a 600-space line.
    cases = {
        "a.txt": "本文\n" + " " * 800 + "\n続き\n",
        "b.html": "<html><head><script>" + " " * 200_000 + "</script></head><body><p>x</p></body></html>",
        "c.txt": "1\n" + " " * 600 + "\n>>1\nそうだね\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        elapsed = _timed(lambda _t, n=name: list(extract_file(tmp_path / n)), "")
        assert elapsed < _BUDGET_PER_100KB * 2, f"{name}: {elapsed:.2f}s"
