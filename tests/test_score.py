"""Batch scoring through the real CLI and the Python API, on the shipped default model."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, SEED, run_cli

from moderation import Moderator
from moderation.apps.cli import cli
from moderation.context import thread_context


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.load()


def test_score_jsonl_rows_per_comment_and_article():
    res = run_cli("score", str(SEED), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 15  # 12 comments with text (one is deleted) and 3 articles
    for row in rows:
        assert {"id", "thread", "no", "text", "slur", "off_topic", "delete", "action", "labels"} <= set(row)
        assert row["action"] in ("allow", "hold", "reject")
        assert all(0.0 <= row[k] <= 1.0 for k in ("slur", "off_topic", "delete"))
    assert "scored 15 comments" in res.stderr and "comments/s" in res.stderr


def test_only_flagged_explain_and_fail_on(tmp_path):
    out = tmp_path / "flagged.csv"
    res = run_cli(
        "score", str(SEED), "--only-flagged", "--explain", "--format", "csv", "--out", str(out), "--fail-on", "reject"
    )
    assert res.returncode == 1  # the seed has posts the model rejects
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and all(r["action"] in ("hold", "reject") for r in rows)
    assert all(json.loads(r["reasons"]) for r in rows)
    clean = tmp_path / "clean.csv"
    clean.write_text("text\n今日はいい天気ですね\n", encoding="utf-8")
    assert run_cli("score", str(clean), "--fail-on", "hold", "--format", "jsonl").returncode == 0


def test_table_shows_summary_and_flagged_posts():
    res = CliRunner().invoke(cli, ["score", str(SEED), "--format", "table"])
    assert res.exit_code == 0
    assert "000_4f4399744ce36bb6" in res.output and "flagged comments" in res.output
    assert "下朝鮮" in res.output


def test_input_columns_pass_through(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(
        "id,text,thread_title,forum_user\nA7,ﾁｮﾝは帰れ,日韓関係,u1\nA8,楽しい試合でした,野球,u2\n", encoding="utf-8"
    )
    res = run_cli("score", str(src), "--format", "jsonl")
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["A7", "A8"] and [r["forum_user"] for r in rows] == ["u1", "u2"]
    assert rows[0]["thread_title"] == "日韓関係"


def test_bad_rows_are_reported_with_their_line_and_skipped(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text(
        '{"id": "1", "text": "普通のコメント"}\n{oops\n{"id": "3", "text": ""}\n{"id": "4", "text": 42}\n'
        '{"id": "5", "text": "最後のコメント"}\n',
        encoding="utf-8",
    )
    res = run_cli("score", str(src), "--format", "jsonl")
    assert res.returncode == 0
    assert [json.loads(line)["id"] for line in res.stdout.splitlines()] == ["1", "5"]
    assert ":2:" in res.stderr and ":4:" in res.stderr and "3 has no text" in res.stderr
    assert "Traceback" not in res.stderr


def test_csv_without_text_column(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("comment\nhello\n", encoding="utf-8")
    res = run_cli("score", str(src))
    assert res.returncode == 1 and "no 'text' column" in res.stderr and "Traceback" not in res.stderr


def test_every_fixture_thread_scores():
    res = run_cli("score", str(FIXTURES / "scrape"), str(FIXTURES / "dat"), str(FIXTURES / "html"), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    threads = {json.loads(line)["thread"] for line in res.stdout.splitlines()}
    assert len(threads) >= 10


def test_api_frame_and_cli_give_the_same_scores(moderator, tmp_path):
    comments = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["下朝鮮は黙ってろ", "그건 아니다", "円安はまだ続くのか"],
            "thread_title": ["在韓米軍の役割", "在韓米軍の役割", "円相場"],
            "thread_text": ["在韓米軍の役割を再検討する協議が始まった。", "", ""],
        }
    )
    src = tmp_path / "c.csv"
    comments.to_csv(src, index=False)
    res = run_cli("score", str(src), "--format", "jsonl")
    cli_rows = {json.loads(line)["id"]: json.loads(line) for line in res.stdout.splitlines()}
    frame = moderator.score(comments)
    for i, row in comments.iterrows():
        decision = moderator.review(row["text"], thread={"title": row["thread_title"], "text": row["thread_text"]})
        for label in ("slur", "off_topic", "delete"):
            assert decision.scores[label] == cli_rows[row["id"]][label]
            assert round(float(frame[label].iloc[i]), 6) == decision.scores[label]
        assert decision.action == cli_rows[row["id"]]["action"] == frame["action"].iloc[i]


def test_review_explains_with_spans(moderator):
    text = "お前らチ ョ ンは半島に帰れよ"
    decision = moderator.review(text, thread="日韓関係スレ")
    assert decision.action in ("hold", "reject") and "slur" in decision.labels
    assert decision.model["version"] == moderator.manifest["version"] and len(decision.model["sha256"]) == 64
    lexicon_reasons = [r for r in decision.reasons if r.source == "lexicon"]
    assert lexicon_reasons and lexicon_reasons[0].excerpt == "チ ョ ン"
    for r in decision.reasons:
        assert text[r.span[0] : r.span[1]] == r.excerpt


def test_thread_context_is_title_then_text():
    assert thread_context("タイトル", "本文") == "タイトル\n本文"
    assert thread_context(None, None) == ""


def test_csv_output_round_trips(tmp_path):
    res = run_cli("score", str(SEED), "--format", "csv", "--explain")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 15 and {"reasons", "kind"} <= set(rows[0])


def test_parallel_scoring_gives_the_same_rows_in_the_same_order(moderator):
    from moderation.io import extract
    from moderation.moderator import score_records

    records = list(extract([FIXTURES / "scrape", SEED]))
    serial = list(score_records(moderator, records, chunk_size=16, jobs=1))
    parallel = list(score_records(moderator, records, chunk_size=16, jobs=2))
    assert len(serial) > 100 and serial == parallel
