"""Spans always index the text the client sent, and every entry point normalises alike
(issue 13): a property test over leading/trailing blanks, CRLF, emoji, ZWJ sequences and
combining marks, on /v1/review, /v1/review:batch, comments:analyze and the Python API."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_serve import MODEL, Server

from moderation.moderator import Moderator

EXAMPLES = int(os.environ.get("MODERATION_FUZZ_EXAMPLES", "40"))
PIECES = [
    "下朝鮮は黙ってろ",
    "チョン",
    "闇バイト",
    "ぶっ殺すぞ",
    "いい試合だった",
    "👨\u200d👩\u200d👧",
    "👍🏽",
    "e\u0301",
    "か\u3099",
    "\u200b",
    "😀",
    " ",
    "\t",
    "\r\n",
    "\n",
    "\r",
    "\u3000",
]
TEXTS = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("spans")
    (workdir / "policy.toml").write_text('[terms]\nblock = ["闇バイト"]\n', encoding="utf-8")
    server = Server("--model", str(MODEL), "--config", str(workdir / "policy.toml"), "--feedback", str(workdir / "f"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    from moderation.policy import load_policy

    return Moderator.load(MODEL, policy=load_policy(None).model_validate({"terms": {"block": ["闇バイト"]}}))


def _utf16(text: str, a: int, b: int) -> str:
    return text.encode("utf-16-le")[2 * a : 2 * b].decode("utf-16-le")


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=TEXTS)
def test_spans_index_the_text_as_sent_on_every_entry_point(srv, moderator, text):
    thread = {"title": "在韓米軍の役割"}
    single = srv.client.post("/v1/review", json={"text": text, "thread": thread}).json()
    for reason in single["reasons"]:
        a, b = reason["span"]
        assert 0 <= a <= b <= len(text) and text[a:b] == reason["excerpt"], (text, reason)
    batch = srv.client.post("/v1/review:batch", json={"items": [{"text": text, "thread": thread}]}).json()
    assert batch["results"][0] == single
    python = moderator.review(text, thread=thread)
    assert python.scores == single["scores"] and [r.to_dict() for r in python.reasons] == single["reasons"]
    analyzed = srv.client.post(
        "/v1alpha1/comments:analyze",
        json={
            "comment": {"text": text},
            "context": {"entries": [{"text": "在韓米軍の役割"}]},
            "requestedAttributes": {"TOXICITY": {}, "IDENTITY_ATTACK": {}, "SEVERE_TOXICITY": {}},
            "spanAnnotations": True,
        },
    )
    if not text.strip():
        return
    assert analyzed.status_code == 200, analyzed.text
    excerpts = {r["excerpt"] for r in single["reasons"]} | {text}
    for name, scores in analyzed.json()["attributeScores"].items():
        for span in scores["spanScores"]:
            assert _utf16(text, span["begin"], span["end"]) in excerpts, (text, name, span)
