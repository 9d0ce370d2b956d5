"""One thread context for every entry point: the training table, Moderator.review,
``moderation score`` (a thread dump and a CSV with context columns) and ``POST /v1/review``
give the same context string for the same comment in the same thread."""

from __future__ import annotations

import json

from conftest import ROOT, run_cli
from test_serve import Server

from moderation.context import EARLIER_POSTS, POST_CHARS
from moderation.labels import load_training_data
from moderation.moderator import Moderator

TITLE = "在韓米軍の役割を再検討へ"
POSTS = [
    "米軍の撤退は早すぎる",
    "同盟の現代化って何をするんだろう",
    "韓国の防衛費負担が増えるだけ" + "。" * 600,  # longer than one post's share of the context
    "それな",
    "日本にも関係ある話だよな",
    "在日米軍の再編とセットだろう",
    "中国への牽制が本音",
    "北の脅威は変わってないのに",
    "結局は予算の話",
    "協議の結果は来年か",
    "ワロタ",
]


def _label_file(tmp_path):
    path = tmp_path / "thread.jsonl"
    rows = [
        {
            "id": f"c{i}",
            "thread": "t1",
            "thread_title": TITLE,
            "text": text,
            "labels": {"off_topic": 0},
            "annotator": "m1",
            "at": "2026-11-27T00:00:00Z",
            "source": "test",
        }
        for i, text in enumerate(POSTS)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _dat_file(tmp_path):
    path = tmp_path / "t1.dat"
    lines = [
        f"名無しさん<>sage<>2026/11/27(金) 10:{i:02d}:00.00 ID:abc{i}<> {text} <>{TITLE if i == 0 else ''}"
        for i, text in enumerate(POSTS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _thread_text(k: int) -> str:
    """The thread text a forum would send for post k: its earlier posts (the documented rule)."""
    return "\n".join(p[:POST_CHARS] for p in POSTS[:k][-EARLIER_POSTS:])


def test_every_entry_point_builds_the_same_context(tmp_path):
    training, _summary = load_training_data([_label_file(tmp_path)])
    from_training = training["context"].tolist()

    mod = Moderator.load()
    from_review = [
        mod.review(text, thread={"title": TITLE, "text": _thread_text(k)}).context for k, text in enumerate(POSTS)
    ]

    res = run_cli("score", str(_dat_file(tmp_path)), "--format", "jsonl", "--with-context")
    assert res.returncode == 0, res.stderr
    from_dump = [json.loads(line)["context"] for line in res.stdout.splitlines()]

    csv_path = tmp_path / "comments.jsonl"
    csv_path.write_text(
        "".join(
            json.dumps({"text": t, "thread_title": TITLE, "thread_text": _thread_text(k)}, ensure_ascii=False) + "\n"
            for k, t in enumerate(POSTS)
        ),
        encoding="utf-8",
    )
    res = run_cli("score", str(csv_path), "--format", "jsonl", "--with-context")
    assert res.returncode == 0, res.stderr
    from_columns = [json.loads(line)["context"] for line in res.stdout.splitlines()]

    server = Server("--feedback", str(tmp_path / "feedback.jsonl"))
    try:
        from_http = [
            server.client.post(
                "/v1/review",
                json={
                    "text": text,
                    "thread": {"id": "t1", "title": TITLE, "text": _thread_text(k)},
                    "return_context": True,
                },
            ).json()["context"]
            for k, text in enumerate(POSTS)
        ]
    finally:
        server.stop()

    assert len(from_training) == len(POSTS)
    assert from_training[0] == TITLE and from_training[-1].startswith(TITLE + "\n")
    assert "。" * POST_CHARS not in from_training[-1]  # long posts are cut, old ones dropped
    assert from_training == from_review == from_dump == from_columns == from_http


def test_builder_is_the_only_one():
    """No module but moderation/context.py cuts a thread to its context budget."""
    offenders = []
    for path in (ROOT / "moderation").rglob("*.py"):
        if path.name == "context.py":
            continue
        source = path.read_text(encoding="utf-8")
        for needle in ("[:500]", "[:4000]", "[-8:]", "EARLIER_POSTS]"):
            if needle in source:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders, offenders
