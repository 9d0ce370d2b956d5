"""The self-hosted Perspective API of `moderation serve`, driven over real HTTP.

A real public Perspective client library from PyPI (``perspective``, pointed at our URL by
setting its client object's endpoint, nothing else changed) talks to the real server on a
loopback port; the same comments go through ``/v1/review`` and :meth:`Moderator.review` too.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error

import httpx
import pytest
from conftest import ROOT
from perspective import PerspectiveAPI
from test_serve import LISTENING, MODEL, THREAD, Server, _command

from moderation.apps.serve.perspective import GOOGLE_STATUS
from moderation.labels import read_events
from moderation.moderator import Moderator

TOKEN = "perspective-key-1"

COMMENTS = [
    ("近所のラーメン屋も値上げしてた", [THREAD]),
    ("この値段でも食べに行くよ", [THREAD, "原材料高で値上げが相次いでいる。"]),
    ("下朝鮮は黙ってろ", ["在韓米軍の役割"]),
    ("  😀 下朝鮮は黙ってろ\r\nまじで👨‍👩‍👧", ["在韓米軍の役割"]),
    ("チ ョ ンは帰れ", ["日本代表、W杯予選で快勝"]),
    ("ぶっ殺すぞ", [THREAD]),
    ("ｗｗｗｗｗｗ草", [THREAD, "1: 値上げか\n2: しゃーない"]),
    ("今日の晩ごはんはカレー", ["在韓米軍の役割"]),
]
ATTRS = {"TOXICITY": "delete", "IDENTITY_ATTACK": "slur", "OFF_TOPIC": "off_topic"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("perspective")
    (workdir / "token").write_text(TOKEN + "\n", encoding="utf-8")
    server = Server(
        "--model",
        str(MODEL),
        "--token-file",
        str(workdir / "token"),
        "--feedback",
        str(workdir / "feedback.jsonl"),
    )
    server.feedback = workdir / "feedback.jsonl"
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(srv) -> PerspectiveAPI:
    """The PyPI client, pointed at our server: its one documented setting, the endpoint URL."""
    api = PerspectiveAPI(TOKEN)
    api.api_client.url = f"{srv.url}/v1alpha1/{{endpoint}}"
    return api


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.load(MODEL)


def _utf16(text: str, begin: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * begin : 2 * end].decode("utf-16-le")


def _google_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}, body
    assert body["error"]["code"] == status and body["error"]["status"] == GOOGLE_STATUS[status], body
    assert body["error"]["message"] and "\n" not in body["error"]["message"]
    return body


# --------------------------------------------------------------------------- the client library


def test_pypi_client_analyzes_and_suggests_against_the_real_server(srv, client, moderator):
    text, context = "下朝鮮は黙ってろ", ["在韓米軍の役割"]
    result = client.analyze_comment(
        text,
        context=[{"text": c, "type": "PLAIN_TEXT"} for c in context],
        requested_attributes={"TOXICITY": {}, "IDENTITY_ATTACK": {}, "OFF_TOPIC": {}, "SEVERE_TOXICITY": {}},
        span_annotations=True,
        languages=["ja"],
        do_not_store=True,
        client_token="forum-comment-42",
        session_id="s1",
        community_id="forum",
    )
    expected = moderator.review(text, thread={"text": "\n".join(context)})
    assert result["clientToken"] == "forum-comment-42"
    assert result["detectedLanguages"] == ["ja"] and result["languages"] == ["ja"]
    for name, label in ATTRS.items():
        summary = result["attributeScores"][name]["summaryScore"]
        assert summary == {"value": expected.scores[label], "type": "PROBABILITY"}
        spans = result["attributeScores"][name]["spanScores"]
        assert spans and all(s["score"]["value"] == expected.scores[label] for s in spans)
    # The slur is the span behind IDENTITY_ATTACK and TOXICITY, as /v1/review's reasons say.
    for name in ("IDENTITY_ATTACK", "TOXICITY"):
        excerpts = [_utf16(text, s["begin"], s["end"]) for s in result["attributeScores"][name]["spanScores"]]
        assert "下朝鮮" in excerpts
    assert result["attributeScores"]["SEVERE_TOXICITY"]["summaryScore"]["value"] >= expected.scores["slur"]
    assert client.score("ぶっ殺すぞ", tests=["TOXICITY"]) == {
        "TOXICITY": moderator.review("ぶっ殺すぞ").scores["delete"]
    }

    # suggestscore: a label event on disk before the answer.
    before = read_events(srv.feedback) if srv.feedback.exists() else []
    answer = client.suggest_score(
        "ぶっ殺すぞ",
        attribute_scores={
            "TOXICITY": {"summaryScore": {"value": 1.0}},
            "IDENTITY_ATTACK": {"summaryScore": {"value": 0.0}},
        },
        context=[{"text": THREAD}],
        languages=["ja"],
        client_token="comment:7",
        community_id="forum",
    )
    assert answer["clientToken"] == "comment:7"
    events = read_events(srv.feedback)[len(before) :]
    assert len(events) == 1
    event = events[0]
    assert event["text"] == "ぶっ殺すぞ" and event["labels"] == {"slur": 0, "delete": 1}
    assert event["source"] == "suggestscore" and event["annotator"] == "forum" and event["thread_text"] == THREAD

    # The library's own error path: urllib's HTTPError carrying Google's error body.
    wrong = PerspectiveAPI("not-the-key")
    wrong.api_client.url = client.api_client.url
    with pytest.raises(urllib.error.HTTPError) as info:
        wrong.analyze_comment("テスト")
    assert info.value.code == 400
    assert json.loads(info.value.read())["error"]["status"] == "INVALID_ARGUMENT"
    with pytest.raises(urllib.error.HTTPError) as info:
        client.analyze_comment("テスト", requested_attributes={"INSULT": {}})
    assert info.value.code == 400 and "TOXICITY" in json.loads(info.value.read())["error"]["message"]


# --------------------------------------------------------------------------- the same answers


def test_same_probabilities_through_analyze_review_and_the_python_api(srv, moderator):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for text, context in COMMENTS:
        body = {
            "comment": {"text": text},
            "context": {"entries": [{"text": c} for c in context]},
            "requestedAttributes": {name: {} for name in ATTRS},
            "spanAnnotations": True,
        }
        analyzed = srv.client.post(f"/v1alpha1/comments:analyze?key={TOKEN}", json=body)
        assert analyzed.status_code == 200, analyzed.text
        scores = analyzed.json()["attributeScores"]
        review = srv.client.post(
            "/v1/review", json={"text": text, "thread": {"text": "\n".join(context)}}, headers=headers
        )
        python = moderator.review(text, thread={"text": "\n".join(context)})
        assert review.json()["scores"] == python.scores
        for name, label in ATTRS.items():
            assert scores[name]["summaryScore"]["value"] == python.scores[label], (text, name)
        # Span scores are into the text as sent, in UTF-16 code units, on the reasons' characters.
        reasons = {(r.label, r.excerpt) for r in python.reasons}
        for name, label in ATTRS.items():
            for span in scores[name]["spanScores"]:
                excerpt = _utf16(text, span["begin"], span["end"])
                assert excerpt == text or (label, excerpt) in reasons, (text, name, span, excerpt)
        for reason in review.json()["reasons"]:
            a, b = reason["span"]
            assert text[a:b] == reason["excerpt"]


def test_score_threshold_leaves_out_low_attributes(srv):
    body = {
        "comment": {"text": "いい試合だった"},
        "requestedAttributes": {
            "TOXICITY": {"scoreThreshold": 0.99, "scoreType": "PROBABILITY"},
            "IDENTITY_ATTACK": {},
        },
    }
    result = srv.client.post(f"/v1alpha1/comments:analyze?key={TOKEN}", json=body).json()
    assert (
        list(result["attributeScores"]) == ["IDENTITY_ATTACK"]
        and "spanScores" not in result["attributeScores"]["IDENTITY_ATTACK"]
    )
    assert "clientToken" not in result


# --------------------------------------------------------------------------- errors


def test_every_error_path_answers_in_googles_shape(srv):
    c = srv.client
    url = f"/v1alpha1/comments:analyze?key={TOKEN}"
    ok = {"comment": {"text": "テスト"}, "requestedAttributes": {"TOXICITY": {}}}
    assert c.post(url, json=ok).status_code == 200
    # Keys: missing, wrong, a wrong bearer token; the bearer token alone is fine.
    _google_error(c.post("/v1alpha1/comments:analyze", json=ok), 403)
    _google_error(c.post("/v1alpha1/comments:analyze?key=wrong", json=ok), 400)
    _google_error(c.post("/v1alpha1/comments:analyze", json=ok, headers={"Authorization": "Bearer wrong"}), 401)
    assert (
        c.post("/v1alpha1/comments:analyze", json=ok, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    )
    _google_error(c.post("/v1alpha1/comments:suggestscore?key=wrong", json={}), 400)
    # Attributes we do not serve, named with the ones we do.
    for attrs in ({"INSULT": {}}, {"TOXICITY": {}, "THREAT": {}, "PROFANITY": {}}):
        body = _google_error(c.post(url, json={**ok, "requestedAttributes": attrs}), 400)
        assert (
            "IDENTITY_ATTACK" in body["error"]["message"]
            and next(iter(attrs.keys() - {"TOXICITY"})) in body["error"]["message"]
        )
    _google_error(c.post(url, json={**ok, "requestedAttributes": {}}), 400)
    _google_error(c.post(url, json={**ok, "requestedAttributes": {"OFF_TOPIC": {}}}), 400)  # no context
    _google_error(c.post(url, json={**ok, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV"}}}), 400)
    _google_error(c.post(url, json={**ok, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}), 400)
    # The comment: missing, empty, oversize, HTML, not a string, an unknown key.
    for comment in ({}, {"text": ""}, {"text": "あ" * 10_001}, {"text": "a", "type": "HTML"}, {"text": 5}):
        _google_error(c.post(url, json={**ok, "comment": comment}), 400)
    _google_error(c.post(url, json={**ok, "comments": {"text": "a"}}), 400)
    # The body: invalid JSON, empty, not UTF-8, over the native 64 KiB limit (declared or streamed).
    _google_error(c.post(url, content=b'{"comment": {"text": "abc'), 400)
    _google_error(c.post(url, content=b""), 400)
    _google_error(c.post(url, content='{"comment": {"text": "チョン"}}'.encode("cp932")), 400)
    _google_error(c.post(url, json={**ok, "context": {"entries": [{"text": "x" * 70_000}]}}), 413)

    def chunked():
        yield b'{"comment": {"text": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}}'

    _google_error(c.post(url, content=chunked()), 413)
    # Paths and methods.
    _google_error(c.get(url), 405)
    _google_error(c.post(f"/v1alpha1/comments:translate?key={TOKEN}", json=ok), 404)
    # suggestscore: attributes that are not one label, a missing summary score, a value out of range.
    s_url = f"/v1alpha1/comments:suggestscore?key={TOKEN}"
    for scores in (
        {"SEVERE_TOXICITY": {"summaryScore": {"value": 1}}},
        {"INSULT": {"summaryScore": {"value": 1}}},
        {"TOXICITY": {}},
        {"TOXICITY": {"summaryScore": {"value": 1.5}}},
        {},
    ):
        _google_error(c.post(s_url, json={"comment": {"text": "x"}, "attributeScores": scores}), 400)
    # The native endpoints keep their own error shape.
    native = c.post("/v1/review", json={"text": 5}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert native.status_code == 422 and set(native.json()["error"]) == {"code", "message"}
    assert c.get("/healthz").status_code == 200


def test_suggestscore_as_coral_sends_it(srv):
    """Coral's body: an int score, English as the language, its ids as a JSON context entry."""
    coral = {
        "comment": {"text": "チ ョ ンは帰れ"},
        "context": {
            "entries": [{"text": json.dumps({"url": "https://f.example/s?commentID=c9", "Coral_comment_id": "c9"})}]
        },
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
        "languages": ["en"],
        "communityId": "Coral:https://f.example",
        "clientToken": "comment:c9",
    }
    r = srv.client.post(f"/v1alpha1/comments:suggestscore?key={TOKEN}", json=coral)
    assert r.status_code == 200, r.text
    assert r.json() == {"detectedLanguages": ["ja"], "requestedLanguages": ["en"], "clientToken": "comment:c9"}
    event = read_events(srv.feedback)[-1]
    assert event["labels"] == {"delete": 0} and "thread_text" not in event
    assert event["context_metadata"][0]["Coral_comment_id"] == "c9" and event["client_token"] == "comment:c9"
    # Coral's analyze: languages ["en"], one attribute, doNotStore.
    analyze = {
        "comment": {"text": "チ ョ ンは帰れ"},
        "doNotStore": True,
        "requestedAttributes": {"TOXICITY": {}},
        "languages": ["en"],
    }
    r = srv.client.post(f"/v1alpha1/comments:analyze?key={TOKEN}", json=analyze)
    assert r.status_code == 200 and r.json()["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5


def test_the_key_never_reaches_the_access_log(tmp_path):
    """uvicorn writes the access log to standard output: the ``key=`` of each line is redacted."""
    (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
    log = tmp_path / "access.log"
    args = ["--feedback", str(tmp_path / "f.jsonl"), "--access-log"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                *_command(),
                "serve",
                "--port",
                "0",
                "--model",
                str(MODEL),
                "--token-file",
                str(tmp_path / "token"),
                *args,
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            port = None
            for line in proc.stderr:
                m = LISTENING.search(line)
                if m:
                    port = int(m.group(1))
                    break
            assert port, "the server did not start"
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                body = {"comment": {"text": "テスト"}, "requestedAttributes": {"TOXICITY": {}}}
                assert c.post(f"/v1alpha1/comments:analyze?key={TOKEN}", json=body).status_code == 200
                assert c.post("/v1alpha1/comments:analyze?x=1&key=not-the-key", json=body).status_code == 400
        finally:
            proc.terminate()
            proc.wait(10)
    text = log.read_text()
    assert text.count("comments%3Aanalyze?") == 2 and text.count("key=[redacted]") == 2, text
    assert TOKEN not in text and "not-the-key" not in text


def test_without_a_model_analyze_is_unavailable(tmp_path):
    """on_missing_model = "allow": /v1/review allows, analyze has no scores to give (503)."""
    from fastapi.testclient import TestClient

    from moderation.apps.serve.app import create_app

    client = TestClient(create_app(None, None, tmp_path / "f.jsonl", None))
    r = client.post(
        "/v1alpha1/comments:analyze", json={"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}}
    )
    _google_error(r, 503)
    assert client.post("/v1/review", json={"text": "x"}).json()["action"] == "allow"
