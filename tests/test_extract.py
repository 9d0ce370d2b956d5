"""The comment extractor on the seed thread, on fixtures of every input format, and on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SEED, load_expected, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.apps.cli import cli
from moderation.core import Comment, ExtractError
from moderation.io import extract, extract_file, extract_frame, registry
from moderation.io.readers.dat import parse_dat
from moderation.io.readers.html import parse_html
from moderation.io.readers.scrape import parse_scrape
from moderation.io.readers.tabular import iter_csv, iter_jsonl


def shape(records) -> list[dict]:
    return [{"kind": r.kind, "no": r.no, "reply_to": r.reply_to, "deleted": r.deleted, "text": r.text} for r in records]


# --------------------------------------------------------------------------- the seed thread


def test_seed_segmentation_matches_the_pinned_expectation(seed_text):
    assert shape(parse_scrape(seed_text)) == load_expected(FIXTURES / "seed.expected.json")


def test_seed_markers_each_start_a_record(seed_text):
    records = parse_scrape(seed_text, thread="seed")
    comments = [r for r in records if r.kind == "comment"]
    # Every reply anchor in the seed begins its own post with the right target.
    assert [r.reply_to for r in comments if r.reply_to] == [[5], [4], [9], [9], [9], [2], [9], [17], [22], [22]]
    # The Korean reply glued after "…よね?" is its own record.
    korean = next(r for r in comments if r.reply_to == [4])
    assert korean.text == "그건 너의 생각일뿐이다."
    # The post glued onto the first article's source URL starts its own record.
    assert comments[0].text == "韓国は中国牽制の為に莫大な米軍駐留経費を支払っているのは暗黙の了解だ。"


def test_seed_articles_title_footer_and_deleted_post(seed_text):
    records = parse_scrape(seed_text, thread="seed")
    articles = [r for r in records if r.kind == "article"]
    assert len(articles) == 3
    assert articles[0].text.startswith("在韓米軍の役割を再検討する") and "【図表】" in articles[0].text
    assert articles[0].urls == ["https://www.chosunonline.com/site/data/html_dir/2025/07/26/2025072680029.html"]
    assert "https://" not in articles[0].text
    assert articles[1].text.startswith("在韓米軍の役割変化「安全保障請求書」差し出した米国(2)\n")
    assert articles[2].text.startswith("韓米首脳会談目前…「同盟の現代化」で韓国の負担増か?\n")
    assert articles[2].text.endswith("/AFPBB News")
    # The posts the glued headlines were cut from keep their own text.
    assert any(r.text.endswith("陸の空母と言っているんだよ") for r in records if r.kind == "comment")
    assert any(r.text.endswith("どちらを選んでも紛争地帯ですね") for r in records if r.kind == "comment")
    titles = [r for r in records if r.kind == "title"]
    assert [t.text for t in titles] == ["「在韓米軍の目的は中国けん制」 70年続いた安全保障の枠組みが変わる"]
    assert [r.text for r in records if r.kind == "meta"] == ["29", "ツイートLINEお気に入り", "23", "5"]
    deleted = [r for r in records if r.deleted]
    assert len(deleted) == 1 and deleted[0].no == 5 and deleted[0].kind == "comment"
    assert deleted[0].posted_at == "2025-07-27T10:58:14" and deleted[0].author == "名無し"
    # Multi-line posts stay whole.
    multi = next(r for r in records if r.text.startswith("韓国は朝鮮戦争すら終わっていないのに"))
    assert multi.text.count("\n") == 3


def test_seed_spans_cover_the_source_in_order(seed_text):
    records = parse_scrape(seed_text)
    previous_end = 0
    for rec in records:
        start, end = rec.span
        assert previous_end <= start < end <= len(seed_text)
        previous_end = end
        if rec.kind == "comment" and not rec.deleted:
            # The record's text (anchors aside) is the source text of its span.
            assert rec.text.replace("\n", "") in seed_text[start:end].replace("\n", "")
    # Nothing but whitespace between records: no text is dropped.
    covered = "".join(seed_text[a:b] for a, b in (r.span for r in records))
    assert covered.replace("\n", "") == seed_text.replace("\n", "")


def test_ids_are_stable_and_unique(seed_text):
    a = parse_scrape(seed_text, thread="seed")
    b = parse_scrape(seed_text, thread="seed")
    assert [r.id for r in a] == [r.id for r in b]
    assert len({r.id for r in a}) == len(a)


# --------------------------------------------------------------------------- fixtures of every format


def fixture_cases():
    cases = []
    for expected in sorted(FIXTURES.glob("*/*.expected.json")):
        if expected.parent.name == "boards":
            continue  # their own shape (author and date too): tests/test_extract_boards.py
        stem = expected.name[: -len(".expected.json")]
        sources = [
            p
            for p in expected.parent.glob(stem + ".*")
            if "." not in p.name[len(stem) + 1 :] and p.suffix not in (".json", ".md")
        ]
        for src in sources:
            cases.append(pytest.param(src, expected, id=f"{expected.parent.name}/{src.name}"))
    return cases


@pytest.mark.parametrize("source,expected", fixture_cases())
def test_fixture_segmentation(source: Path, expected: Path):
    records = list(extract_file(source))
    assert shape(records) == load_expected(expected)
    for rec in records:
        assert 0 <= rec.span[0] <= rec.span[1]


def test_shift_jis_and_utf8_copies_give_the_same_records(tmp_path, seed_text):
    for name, data in {
        "utf8": seed_text.encode("utf-8"),
        "bom": b"\xef\xbb\xbf" + seed_text.encode("utf-8"),
        "sjis": seed_text.encode("cp932", errors="strict") if _cp932_ok(seed_text) else None,
    }.items():
        if data is None:
            continue
        (tmp_path / name).mkdir()
        (tmp_path / name / "thread.txt").write_bytes(data)
    results = [
        [{k: v for k, v in r.to_dict().items() if k != "source"} for r in extract(tmp_path / d / "thread.txt")]
        for d in sorted(p.name for p in tmp_path.iterdir())
    ]
    assert all(r == results[0] for r in results[1:])
    assert len(results) >= 2


def _cp932_ok(text: str) -> bool:
    try:
        text.encode("cp932")
        return True
    except UnicodeEncodeError:
        return False


def test_dat_in_shift_jis_and_utf8(tmp_path):
    dat = (
        "名無しさん<>sage<>2025/08/01(金) 12:34:56.78 ID:AbCd1234<> テスト &amp; 本文 <br> 二行目 <>テストスレ\n"
        '名無しさん<><>2025/08/01(金) 12:35:00.00 ID:Zz<> <a href="../test/read.cgi/x/1/1">&gt;&gt;1</a> 返信です <>\n'
        "あぼーん<>あぼーん<>あぼーん<>あぼーん<>\n"
    )
    (tmp_path / "u").mkdir()
    (tmp_path / "s").mkdir()
    (tmp_path / "u" / "t.dat").write_text(dat, encoding="utf-8")
    (tmp_path / "s" / "t.dat").write_bytes(dat.encode("cp932"))
    u = [r.to_dict() | {"source": ""} for r in extract(tmp_path / "u")]
    s = [r.to_dict() | {"source": ""} for r in extract(tmp_path / "s")]
    assert u == s
    assert [(r["kind"], r["no"], r["reply_to"], r["deleted"], r["text"]) for r in u] == [
        ("title", None, [], False, "テストスレ"),
        ("comment", 1, [], False, "テスト & 本文\n二行目"),
        ("comment", 2, [1], False, "返信です"),
        ("comment", 3, [], True, ""),
    ]
    assert u[1]["posted_at"] == "2025-08-01T12:34:56"


def test_tabular_inputs_pass_columns_through(tmp_path):
    csv_path = tmp_path / "c.csv"
    csv_path.write_text(
        'id,text,reply_to,thread_title,score\nA1,"こんにちは, 世界",">>3",スレ,0.5\nA2,"二行\n目",,スレ,1\n',
        encoding="utf-8",
    )
    recs = list(extract(csv_path))
    assert [(r.id, r.text, r.reply_to) for r in recs] == [("A1", "こんにちは, 世界", [3]), ("A2", "二行\n目", [])]
    assert recs[0].extra == {"score": "0.5", "thread_title": "スレ"}
    text = csv_path.read_text(encoding="utf-8")
    for rec in recs:
        assert text[rec.span[0] : rec.span[1]].startswith(rec.id)
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"id": 7, "text": "やあ", "no": 3}\nnot json\n{"no": 4}\n', encoding="utf-8")
    warnings: list[str] = []
    recs = list(extract(jsonl, warn=warnings.append))
    assert (recs[0].kind, recs[0].id, recs[0].no, recs[0].text) == ("comment", "7", 3, "やあ")
    assert [r.kind for r in recs] == ["comment", "meta", "meta"]
    assert len(warnings) == 2 and ":2:" in warnings[0] and ":3:" in warnings[1]


def test_dataframe_api(seed_text, tmp_path):
    frame = extract_frame(SEED)
    assert list(frame.columns[:12]) == [
        "thread",
        "id",
        "no",
        "kind",
        "text",
        "reply_to",
        "deleted",
        "author",
        "posted_at",
        "urls",
        "span",
        "source",
    ]
    assert (frame["kind"] == "article").sum() == 3


def test_html_without_a_known_layout_is_kept_as_meta():
    # The extractor cannot tell an unknown page's posts from its menus: meta records, never comment.
    source = "<html><body><p>スレの本文です</p><p>そうだね&gt;&gt;1 違う<b>と</b>思う</p></body></html>"
    warnings: list[str] = []
    recs = parse_html(source, warn=warnings.append)
    assert [(r.kind, r.text) for r in recs] == [("meta", "スレの本文です"), ("meta", "そうだね>>1 違うと思う")]
    assert "&gt;&gt;1 違う<b>と</b>思う" in source[recs[-1].span[0] : recs[-1].span[1]]  # spans index the page
    assert len(warnings) == 1 and "no reader recognises" in warnings[0]


# --------------------------------------------------------------------------- bad input, through the real CLI


def test_cli_extract_jsonl_and_csv(tmp_path):
    out = tmp_path / "posts.jsonl"
    res = run_cli("extract", str(SEED), "--format", "jsonl", "--out", str(out))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sum(r["kind"] == "comment" for r in rows) == 13
    res = run_cli("extract", str(SEED), "--format", "csv")
    assert res.returncode == 0 and res.stdout.splitlines()[0].startswith("thread,id,no,kind,text")


def test_cli_table_shows_posts():
    res = CliRunner().invoke(cli, ["extract", str(SEED), "--format", "table"])
    assert res.exit_code == 0
    assert "그건 너의 생각일뿐이다." in res.output and "[deleted]" in res.output


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda d: d / "missing.txt", "no such file or directory"),
        (lambda d: _mkdir(d / "empty_dir"), "directory has no files"),
        (lambda d: _write(d / "g.txt", bytes(range(256)) * 20), "binary"),
        (lambda d: _write(d / "e.txt", b"\x82\xa0\xff\xfe\x80\x85\x9f" * 50), "--encoding"),
    ],
)
def test_cli_bad_input_one_line_no_traceback(tmp_path, make, message):
    path = make(tmp_path)
    res = run_cli("extract", str(path))
    assert res.returncode != 0
    assert message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_cli_directory_with_nothing_readable(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "notes.md").write_text("# not a thread", encoding="utf-8")
    res = run_cli("extract", str(tmp_path))
    assert res.returncode == 1
    assert "nothing readable" in res.stderr and "Traceback" not in res.stderr
    assert "skipped" in res.stderr and "a.txt" in res.stderr  # the unreadable file is named


def test_cli_wrong_encoding_suggests_the_option(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("こんにちは。テストです。".encode("cp932"))
    res = run_cli("extract", str(path), "--encoding", "utf-8")
    assert res.returncode == 1 and "--encoding" in res.stderr and "Traceback" not in res.stderr


def test_empty_file_gives_zero_records(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    res = run_cli("extract", str(path), "--format", "jsonl")
    assert res.returncode == 0 and res.stdout == ""


def test_csv_without_text_column_is_a_clear_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("body,id\nhello,1\n", encoding="utf-8")
    res = run_cli("extract", str(path), "--out", str(tmp_path / "out.jsonl"))
    assert res.returncode == 1 and "no 'text' column" in res.stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert not list(tmp_path.glob(".out.jsonl*"))  # no half-written output left behind


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_parses_and_spans_lie_inside(text):
    for parser in (parse_scrape, parse_dat, parse_html):
        for rec in parser(text):
            assert 0 <= rec.span[0] <= rec.span[1] <= len(text)
            assert rec.kind in ("article", "comment", "title", "meta")


board_text = st.lists(
    st.one_of(
        st.sampled_from(
            [
                ">>1",
                ">>12\n",
                "＞＞３ ",
                "https://example.com/x",
                "\n",
                "。",
                "w",
                "名無し2025/07/27(Sun) 10:58:14(1/1)\n",
                "- 5\n",
                "このレスは削除されています\n",
                "ツイートLINEお気に入り\n",
                "29\n",
                "/AFPBB News\n",
                "米国務省は24日、協議を開始したと明らかにした。政府は対応を検討している。\n",
                "<br>",
                "<>",
                "&gt;&gt;2",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(board_text)
def test_board_like_strings_parse_and_spans_lie_inside(text):
    for parser in (parse_scrape, parse_dat, parse_html):
        for rec in parser(text):
            assert 0 <= rec.span[0] <= rec.span[1] <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_records_or_a_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "x.txt"
    path.write_bytes(data)
    try:
        for rec in extract(path):
            assert rec.span[0] <= rec.span[1]
    except ExtractError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_any_jsonl_or_csv_text(text):
    import io

    for rec in iter_jsonl(io.StringIO(text)):
        assert rec.span[1] <= len(text)
    try:
        for rec in iter_csv(io.StringIO("text\n" + text)):
            assert rec.span[1] <= len(text) + 5
    except ExtractError:
        pass


# --------------------------------------------------------------------------- regressions from review


def test_a_post_that_ends_with_a_date_is_not_a_header():
    text = "試合どうだった？\n- 2\n名無し2025/08/01(Fri) 12:00:01(1/1)\nチョンは半島に帰れ 2025/08/01 12:00\n"
    recs = parse_scrape(text)
    assert [(r.no, r.text) for r in recs] == [(None, "試合どうだった？"), (2, "チョンは半島に帰れ 2025/08/01 12:00")]


def test_a_news_name_in_a_post_is_not_a_credit_line():
    text = (
        ">>1\n政府は31日、消費税を引き上げる方針を固めた。財務省は来年度から実施する予定だという。\n"
        "毎日増税ばかりで嫌になるね\n"
    )
    recs = parse_scrape(text)
    assert [r.kind for r in recs] == ["comment"] and recs[0].text.endswith("嫌になるね")


def test_anchor_references_inside_a_post_stay_in_it():
    assert [(r.reply_to, r.text) for r in parse_scrape("詳しくは>>12参照")] == [([], "詳しくは>>12参照")]


def test_unreadable_rows_are_kept_and_bad_characters_replaced(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text('id,text\n1,hello\n2,"unclosed\n', encoding="utf-8")
    warnings: list[str] = []
    recs = list(extract(big, warn=warnings.append))
    assert recs[0].id == "1" and len(recs) == 2  # the broken row is a meta record, not lost
    sur = tmp_path / "s.jsonl"
    sur.write_text('{"text": "ok"}\n{"text": "bad \\ud800 x"}\n', encoding="utf-8")
    res = run_cli("extract", str(sur), "--format", "jsonl")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 2 and ":2:" in res.stderr


# --------------------------------------------------------------------------- the reader registry


def _read_lines_format(text: str, *, thread: str, source: str, warn=None) -> list[Comment]:
    """A toy format: one comment per ``+``-prefixed line."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        if line.startswith("+"):
            out.append(
                Comment(
                    thread,
                    f"{thread}-{len(out)}",
                    len(out) + 1,
                    "comment",
                    line[1:].strip(),
                    span=(pos, pos + len(line.rstrip())),
                    source=source,
                )
            )
        pos += len(line)
    return out


def test_a_registered_reader_is_detected_and_used(tmp_path):
    reader = registry.Reader(
        "plus", _read_lines_format, extensions=(".plus",), sniff=lambda sample: sample.startswith("+"), priority=5
    )
    registry.register(reader)
    try:
        assert "plus" in registry.input_formats() and "plus" not in registry.INPUT_FORMATS
        (tmp_path / "a.plus").write_text("+一つ目\n+二つ目\n", encoding="utf-8")
        (tmp_path / "b.txt").write_text("+本文\n", encoding="utf-8")  # claimed by content, before the extension
        recs = list(extract(tmp_path))
        assert [(r.source_format, r.no, r.text) for r in recs] == [
            ("plus", 1, "一つ目"),
            ("plus", 2, "二つ目"),
            ("plus", 1, "本文"),
        ]
        assert [r.text for r in extract_file(tmp_path / "b.txt", input_format="scrape")] == ["+本文"]
        with pytest.raises(ExtractError, match="taken"):
            registry.register(reader)
    finally:
        registry.unregister("plus")
    assert "plus" not in registry.input_formats()
    assert [r.source_format for r in extract(tmp_path / "b.txt")] == ["scrape"]
    with pytest.raises(ExtractError, match="unknown input format 'plus'"):
        list(extract_file(tmp_path / "a.plus", input_format="plus"))


PLUGIN = """
from moderation.core import Comment
from moderation.io.registry import Reader


def read(text, *, thread, source, warn=None):
    return [Comment(thread, f"{thread}-{i}", i, "comment", line.strip(), source=source)
            for i, line in enumerate(text.splitlines(), start=1) if line.strip()]


READER = Reader("linewise", read, extensions=(".lines",))
"""


@pytest.fixture
def installed_reader(tmp_path, monkeypatch):
    """A reader package installed the way pip leaves one: a module and a dist-info with an entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "linewise_reader.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "linewise_reader-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: linewise-reader\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[moderation.readers]\nlinewise = linewise_reader:READER\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    registry.reload_plugins()
    yield site
    registry.reload_plugins()
    sys.modules.pop("linewise_reader", None)


def test_a_reader_from_an_entry_point_is_used(installed_reader, tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    path = dumps / "posts.lines"
    path.write_text("一行目\n\n二行目\n", encoding="utf-8")
    assert registry.input_formats()[-1] == "linewise"
    recs = list(extract(path))
    assert [(r.source_format, r.no, r.text) for r in recs] == [("linewise", 1, "一行目"), ("linewise", 3, "二行目")]
    assert [r.text for r in extract(dumps)] == ["一行目", "二行目"]  # a directory walk picks .lines up
    # The real CLI, in a process that finds the package on its path.
    res = run_cli("extract", str(path), "--format", "jsonl", env={"PYTHONPATH": str(installed_reader)})
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["text"] for line in res.stdout.splitlines()] == ["一行目", "二行目"]


def test_a_broken_reader_plugin_is_named_in_one_line(installed_reader, tmp_path):
    (installed_reader / "linewise_reader.py").write_text("raise ImportError('no such thing')\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("本文", encoding="utf-8")
    with pytest.raises(ExtractError, match=r"reader plugin 'linewise' \(linewise_reader:READER.*cannot be loaded"):
        list(extract(tmp_path / "t.txt"))


# --------------------------------------------------------------------------- the size limit inside directories


@pytest.fixture
def small_limit():
    from moderation.io.inputs import set_max_file_size

    set_max_file_size("1K")
    yield
    set_max_file_size(None)


def test_a_dump_over_the_limit_inside_a_directory_is_left_out_by_the_walk(tmp_path, small_limit):
    """What lists a directory's dumps (the cluster's planner, training, adapt) never sees a file
    over --max-file-size: the cluster read one whole though its workers do not share the limit."""
    from moderation.io.walk import walk

    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "a.txt").write_text("本文です。\n", encoding="utf-8")
    (dumps / "big.jsonl").write_text('{"id": "1", "text": "長い"}\n' * 100, encoding="utf-8")
    told: list[str] = []
    assert [p.name for p in walk([dumps], warn=told.append)] == ["a.txt"]
    assert len(told) == 1 and told[0].startswith(f"skipped {dumps / 'big.jsonl'}: ") and "--max-file-size" in told[0]
    assert [p.name for p in walk([dumps])] == ["a.txt"]  # left out without a warn too
    # Label files (explicit suffixes) are listed: their reader refuses them with its own message.
    assert [p.name for p in walk([dumps], suffixes=[".jsonl"])] == ["big.jsonl"]
    with pytest.raises(ExtractError, match="over the 1 KiB"):
        walk([dumps / "big.jsonl"])  # a file named directly is refused, as before
    # extract: skipped with one warning; strict, the file is an error.
    warned: list[str] = []
    assert [r.text for r in extract(dumps, warn=warned.append)] == ["本文です。"]
    assert warned == told
    with pytest.raises(ExtractError, match="over the 1 KiB"):
        list(extract(dumps, skip_unreadable_in_dirs=False))
