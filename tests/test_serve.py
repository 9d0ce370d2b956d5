"""The pre-moderation hook over real HTTP: `moderation serve` runs as a subprocess (uvicorn on a
free loopback port) and every test talks to it with httpx, as a forum would."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.apps.serve.app import MAX_BATCH_BODY_BYTES
from moderation.core import LABELS
from moderation.labels import load_training_data, read_events
from moderation.moderator import Moderator

MODEL = ROOT / "models" / "default"
THREAD = "【グルメ】ラーメン一杯1000円の壁、もはや当たり前に？　原材料高で値上げ相次ぐ"
POLICY = """\
on_missing_model = "refuse"

[thresholds.slur]   # stricter to reject, looser to hold than the model
hold = 0.5
reject = 0.9999

[thresholds.delete]
reject = "never"

[terms]
block = ["闇バイト", "spam link"]
watch = ["ラーメン"]
"""
OVERRIDES = {"slur": {"hold": 0.5, "reject": 0.9999}, "delete": {"reject": math.inf}}
LIMIT = 64 * 1024
FUZZ_EXAMPLES = int(os.environ.get("MODERATION_FUZZ_EXAMPLES", "120"))  # raise it for a longer fuzz
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


# --------------------------------------------------------------------------- the real server


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("moderation")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "moderation"]


class Server:
    """``moderation serve --port 0 ...`` as a subprocess; the port is read from its first line."""

    def __init__(self, *args: str, port: int = 0, timeout: float = 60):
        self.proc = subprocess.Popen(
            [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.port = None
        ready = threading.Event()

        def drain():  # reads stderr for the whole life of the server, so it never blocks on a full pipe
            for line in self.proc.stderr:
                self.lines.append(line)
                m = LISTENING.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        ready.wait(timeout)
        if self.port is None:
            self.proc.kill()
            raise AssertionError("the server did not start:\n" + "".join(self.lines))
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.client.close()
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(workdir):
    config = workdir / "policy.toml"
    config.write_text(POLICY, encoding="utf-8")
    srv = Server("--model", str(MODEL), "--config", str(config), "--feedback", str(workdir / "feedback.jsonl"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    """The Python API with the same model and the same thresholds as the server's policy."""
    base = Moderator.load(MODEL)
    model_th = base.model.thresholds()
    return Moderator.load(MODEL, thresholds={label: {**model_th[label], **o} for label, o in OVERRIDES.items()})


@pytest.fixture(scope="module")
def model_only() -> Moderator:
    return Moderator.load(MODEL)


def _is_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body


COMMENTS = [
    ("近所のラーメン屋も値上げしてた", {"title": THREAD}),
    ("この値段でも食べに行くよ", {"id": "t1", "title": THREAD, "text": "原材料高で値上げが相次いでいる。"}),
    ("下朝鮮は黙ってろ", {"title": "在韓米軍の役割"}),
    ("チ ョ ンは帰れ", None),
    ("ぶっ殺すぞ", {"title": THREAD}),
    ("いい試合だった", {"title": "日本代表、W杯予選で快勝"}),
    ("", {"title": THREAD}),
    ("ｗｗｗｗｗｗ草", {"title": THREAD, "text": "1: 値上げか\n2: しゃーない"}),
]


# --------------------------------------------------------------------------- review


def test_review_answers_what_the_python_api_answers(server, moderator):
    for text, thread in COMMENTS:
        r = server.client.post("/v1/review", json={"text": text, "thread": thread, "author": "名無し"})
        assert r.status_code == 200, r.text
        expected = moderator.review(text, thread=thread).to_dict()
        if not any(reason["source"] == "policy" for reason in r.json()["reasons"]):
            assert r.json() == expected, text
        assert r.json()["scores"] == expected["scores"]
    # A reply's parent counts as context, as in the Python API.
    body = {"text": "それな", "thread": {"title": THREAD}, "reply_to_text": "ラーメン高くなったなあ", "explain": False}
    r = server.client.post("/v1/review", json=body)
    assert (
        r.json()["scores"]
        == moderator.review("それな", thread={"title": THREAD}, reply_to_text="ラーメン高くなったなあ").scores
    )
    assert r.json()["reasons"] == []


def _action(scores: dict, thresholds: dict) -> str:
    action = "allow"
    for label, p in scores.items():
        if label not in thresholds or p is None:
            continue
        if p >= thresholds[label]["reject"]:
            action = "reject"
        elif p >= thresholds[label]["hold"] and action == "allow":
            action = "hold"
    return action


def test_policy_thresholds_override_the_model(server, model_only):
    model_th = model_only.model.thresholds()
    effective = {label: {**model_th[label], **OVERRIDES.get(label, {})} for label in model_th}
    differs = []
    for text, thread in [*COMMENTS, ("ｷﾓｲ在日は帰れ", None), ("死ね", {"title": THREAD})]:
        r = server.client.post("/v1/review", json={"text": text, "thread": thread}).json()
        if any(x["source"] == "policy" for x in r["reasons"]):
            continue
        assert r["action"] == _action(r["scores"], effective), (text, r)
        assert r["labels"] == [
            label for label in LABELS if label in effective and r["scores"][label] >= effective[label]["hold"]
        ]
        differs.append(r["action"] != _action(r["scores"], model_th))
    assert any(differs), "no comment where the policy's thresholds changed the model's decision"


def test_block_and_watch_terms_match_obfuscated_spellings(server):
    text = "バイト探してる人、闇 バ イ ト はこちら ｗ"
    r = server.client.post("/v1/review", json={"text": text, "thread": {"title": THREAD}}).json()
    assert r["action"] == "reject"
    block = [x for x in r["reasons"] if x["label"] == "block"]
    assert len(block) == 1 and block[0]["source"] == "policy" and r["reasons"][0] == block[0]
    a, b = block[0]["span"]
    assert text[a:b] == block[0]["excerpt"] == "闇 バ イ ト"

    text = "近所のﾗｰﾒﾝ屋も、ラ.ー.メ.ン屋も値上げしてた"
    r = server.client.post("/v1/review", json={"text": text, "thread": {"title": THREAD}}).json()
    assert r["action"] in ("hold", "reject")  # hold at least, whatever the model says
    watch = [x for x in r["reasons"] if x["label"] == "watch"]
    assert [x["excerpt"] for x in watch] == ["ﾗｰﾒﾝ", "ラ.ー.メ.ン"]
    assert all(text[x["span"][0] : x["span"][1]] == x["excerpt"] and x["source"] == "policy" for x in watch)

    # Latin terms on word boundaries, case and width folded.
    r = server.client.post("/v1/review", json={"text": "ＳＰＡＭ link はここ"}).json()
    assert r["action"] == "reject" and r["reasons"][0]["excerpt"] == "ＳＰＡＭ link"
    r = server.client.post("/v1/review", json={"text": "spam linkage"}).json()
    assert not [x for x in r["reasons"] if x["source"] == "policy"]
    # Hiragana is another spelling (list both in the policy when both matter).
    r = server.client.post("/v1/review", json={"text": "らーめん食べたい"}).json()
    assert not [x for x in r["reasons"] if x["source"] == "policy"]


def test_batch_answers_in_order_with_the_scores_of_single_reviews(server):
    items = [{"text": text, "thread": thread} for text, thread in COMMENTS] * 6
    items.insert(5, {"text": "それな", "reply_to_text": "下朝鮮は黙ってろ"})
    r = server.client.post("/v1/review:batch", json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(items)
    for item, result in zip(items, results, strict=False):
        single = server.client.post("/v1/review", json=item).json()
        assert result == single, item
    # Without explanations: same scores, no model reasons.
    quick = server.client.post("/v1/review:batch", json={"items": items, "explain": False}).json()["results"]
    assert [q["scores"] for q in quick] == [x["scores"] for x in results]
    assert all(x["source"] == "policy" for q in quick for x in q["reasons"])
    assert server.client.post("/v1/review:batch", json={"items": []}).json() == {"results": []}
    # Up to 1,000 items; a batch may be larger than one review's 64 KiB.
    big = [{"text": "値上げしてたけど、この値段でも食べに行くよ" * 3}] * 1000
    r = server.client.post("/v1/review:batch", json={"items": big, "explain": False})
    assert r.status_code == 200 and len(r.json()["results"]) == 1000
    assert len(json.dumps({"items": big}, ensure_ascii=False).encode()) > LIMIT
    _is_error(server.client.post("/v1/review:batch", json={"items": [*big, {"text": "x"}]}), 422, "validation_error")


def test_model_and_health_and_openapi(server, model_only):
    health = server.client.get("/healthz").json()
    assert health == {"status": "ok", "model": model_only.info}
    manifest = server.client.get("/v1/model").json()
    assert manifest["version"] == model_only.info["version"] and "path" not in manifest
    # The manifest served is the one whose digest every answer carries.
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert digest == model_only.info["sha256"]
    schema = server.client.get("/openapi.json").json()
    assert {"/v1/review", "/v1/review:batch", "/v1/feedback", "/healthz", "/v1/model"} <= set(schema["paths"])
    _is_error(server.client.get("/nowhere"), 404, "not_found")
    _is_error(server.client.get("/v1/review"), 405, "method_not_allowed")


# --------------------------------------------------------------------------- limits


def test_limits_answer_json_errors(server):
    c = server.client
    ok = c.post("/v1/review", json={"text": "あ" * 10_000, "explain": False})
    assert ok.status_code == 200
    _is_error(c.post("/v1/review", json={"text": "あ" * 10_001}), 422, "validation_error")
    _is_error(c.post("/v1/review", json={"text": "a", "thread": {"text": "x" * LIMIT}}), 413, "payload_too_large")

    def chunked():  # no Content-Length: the limit is enforced while reading
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    _is_error(c.post("/v1/review", content=chunked()), 413, "payload_too_large")
    _is_error(c.post("/v1/review:batch", content=b"[" + b"1," * (MAX_BATCH_BODY_BYTES // 2) + b"1]"), 413)
    _is_error(c.post("/v1/review", content=b'{"text": "abc'), 400, "invalid_json")
    _is_error(c.post("/v1/review", content=b""), 400, "invalid_json")
    _is_error(c.post("/v1/review", content='{"text": "チョン"}'.encode("cp932")), 400, "invalid_utf8")
    _is_error(c.post("/v1/review", content=b'{"text": "\\ud800"}'), 422, "validation_error")
    _is_error(c.post("/v1/review", json=["text"]), 422)
    _is_error(c.post("/v1/review", json={"text": 5}), 422)
    _is_error(c.post("/v1/review", json={"text": "a", "thread": {"path": "/etc/passwd"}}), 422)
    _is_error(c.post("/v1/review", json={"text": "a", "model": "/tmp/evil"}), 422)
    # Any Content-Type: the bodies are JSON (curl -d sends a form type).
    r = c.post("/v1/review", content=b'{"text": "ok"}', headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert c.get("/healthz").status_code == 200


def test_token_is_required_everywhere_but_healthz(workdir):
    token_file = workdir / "token"
    token_file.write_text("s3cret-token\n", encoding="utf-8")
    srv = Server("--model", str(MODEL), "--token-file", str(token_file), "--feedback", str(workdir / "t.jsonl"))
    try:
        c = srv.client
        calls = [
            ("POST", "/v1/review", {"text": "a"}),
            ("POST", "/v1/review:batch", {"items": []}),
            ("POST", "/v1/feedback", {"text": "a", "labels": {"slur": 0}, "annotator": "m"}),
            ("GET", "/v1/model", None),
            ("GET", "/openapi.json", None),
            ("GET", "/nowhere", None),
        ]
        for method, path, body in calls:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": "s3cret-token"},
                {"Authorization": "Basic czNjcmV0LXRva2Vu"},
            ):
                r = c.request(method, path, json=body, headers=headers)
                _is_error(r, 401, "unauthorized")
                assert r.headers["www-authenticate"].startswith("Bearer")
        # Even a body over the limit is refused for the token first.
        _is_error(c.post("/v1/review", content=b"x" * (LIMIT + 1)), 401)
        assert c.get("/healthz").status_code == 200
        good = {"Authorization": "Bearer s3cret-token"}
        assert c.post("/v1/review", json={"text": "a"}, headers=good).status_code == 200
        assert c.get("/v1/model", headers={"authorization": "bearer s3cret-token"}).status_code == 200
        _is_error(c.get("/nowhere", headers=good), 404)
    finally:
        srv.stop()


# --------------------------------------------------------------------------- feedback


def test_feedback_is_a_label_event(server, workdir):
    body = {
        "id": 12345,
        "text": "下朝鮮は黙ってろ",
        "thread": {"id": 7, "title": "在韓米軍の役割", "text": "記事本文"},
        "labels": {"slur": 1, "delete": 1},
        "annotator": "mod-a",
    }
    r = server.client.post("/v1/feedback", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "12345" and r.json()["stored"] is True
    events = read_events(workdir / "feedback.jsonl")
    event = next(e for e in events if e["id"] == "12345")
    assert event["labels"] == {"slur": 1, "delete": 1} and event["source"] == "feedback"
    assert event["thread"] == "7" and event["thread_title"] == "在韓米軍の役割" and event["annotator"] == "mod-a"
    # Without an id, two moderators' decisions on one comment share an id (majority vote in training).
    ids = [
        server.client.post(
            "/v1/feedback",
            json={"text": "ぶっ殺すぞ", "thread": {"id": "t9"}, "labels": {"delete": v}, "annotator": who},
        ).json()["id"]
        for who, v in (("a", 1), ("b", 1))
    ]
    assert ids[0] == ids[1]
    frame, _summary = load_training_data([workdir / "feedback.jsonl"])
    assert frame.set_index("id").loc["12345", "slur"] == 1.0
    _is_error(server.client.post("/v1/feedback", json={**body, "labels": {"slur": 2}}), 422)
    _is_error(server.client.post("/v1/feedback", json={**body, "labels": {"spam": 1}}), 422)
    _is_error(server.client.post("/v1/feedback", json={**body, "labels": {}}), 422)
    _is_error(server.client.post("/v1/feedback", json={**body, "annotator": ""}), 422)


def test_feedback_answered_200_survives_kill_9(workdir):
    path = workdir / "killed.jsonl"
    srv = Server("--model", str(MODEL), "--feedback", str(path))
    acked: list[str] = []
    stop = threading.Event()

    def post_forever():
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = c.post(
                        "/v1/feedback",
                        json={"id": f"k{i}", "text": f"コメント{i}", "labels": {"delete": i % 2}, "annotator": "mod"},
                    )
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(r.json()["id"])

    writer = threading.Thread(target=post_forever)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acked) < 25 and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.0005)
    assert len(acked) >= 25, "".join(srv.lines)
    os.kill(srv.proc.pid, signal.SIGKILL)  # right after a 200, with the next request in flight
    at_kill = list(acked)
    stop.set()
    writer.join(10)
    srv.proc.wait(10)
    srv.client.close()
    lines = path.read_bytes().decode("utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line is whole and parses
    stored = {e["id"] for e in events}
    assert set(at_kill) <= stored and at_kill[-1] in stored
    assert all(e["source"] == "feedback" and e["annotator"] == "mod" for e in events)


# --------------------------------------------------------------------------- fuzzing the OpenAPI schema


def _strategy(schema: dict, defs: dict) -> st.SearchStrategy:
    """Values valid against a JSON schema (the subset FastAPI emits), sized for a quick fuzz."""
    if "$ref" in schema:
        return _strategy(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of([_strategy(s, defs) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        short = st.text(min_size=lo, max_size=min(hi or 40, 40))
        if "pattern" in schema:  # "\\S": not only white space
            short = short.filter(lambda v: re.search(schema["pattern"], v))
        if not hi or hi <= 1000:
            return short
        # Near the limit: a short random text repeated (Hypothesis draws no 10,000-character text).
        long = st.tuples(st.text(min_size=1, max_size=20), st.integers(hi - 3, hi)).map(
            lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
        )
        strings = st.integers(0, 9).flatmap(lambda k: long if k == 0 else short)  # one in ten near the limit
        return strings.filter(lambda v: re.search(schema["pattern"], v)) if "pattern" in schema else strings
    if kind == "integer":
        return st.integers(-(2**53), 2**53)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(
            _strategy(schema.get("items", {}), defs),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    if kind == "object":
        props = schema.get("properties")
        if props is not None:
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {k: _strategy(v, defs) for k, v in props.items() if k in required},
                optional={k: _strategy(v, defs) for k, v in props.items() if k not in required},
            )
        keys = _strategy(schema.get("propertyNames", {"type": "string"}), defs)
        return st.dictionaries(
            keys,
            _strategy(schema.get("additionalProperties", {"type": "string"}), defs),
            min_size=schema.get("minProperties", 0),
            max_size=4,
        )
    return st.none()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def bodies(server):
    """Per POST endpoint of the served OpenAPI schema, a strategy of schema-valid bodies."""
    schema = server.client.get("/openapi.json").json()
    defs = schema["components"]["schemas"]
    out = {}
    for path, ops in schema["paths"].items():
        if "post" in ops:
            body = ops["post"]["requestBody"]["content"]["application/json"]["schema"]
            out[path] = _strategy(body, defs)
    assert set(out) == {
        "/v1/review",
        "/v1/review:batch",
        "/v1/feedback",
        "/v1alpha1/comments:analyze",
        "/v1alpha1/comments:suggestscore",
    }
    return out


def _is_google_error(response: httpx.Response, status: int) -> dict:
    """Perspective's paths answer errors in Google's shape: {"error": {"code", "message", "status"}}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}, body
    assert body["error"]["code"] == status and body["error"]["message"] and body["error"]["status"].isupper()
    return body


def _check_review_result(result: dict) -> None:
    assert result["action"] in ("allow", "hold", "reject")
    assert set(result["scores"]) == set(LABELS) and all(0 <= p <= 1 for p in result["scores"].values())
    for reason in result["reasons"]:
        assert reason["span"][0] <= reason["span"][1]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_schema_valid_bodies_are_answered(server, bodies, data):
    path = data.draw(st.sampled_from(sorted(bodies)))
    body = data.draw(bodies[path])
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    r = server.client.post(path, content=raw)
    perspective = path.startswith("/v1alpha1/")
    if len(raw) > (MAX_BATCH_BODY_BYTES if path.endswith(":batch") else LIMIT):
        (_is_google_error if perspective else _is_error)(r, 413)
        return
    if perspective and r.status_code == 400:  # a valid shape naming an attribute we do not serve
        _is_google_error(r, 400)
        return
    assert r.status_code == 200, (path, body, r.text)
    answer = r.json()
    if path == "/v1/review":
        _check_review_result(answer)
    elif path == "/v1/review:batch":
        assert len(answer["results"]) == len(body["items"])
        for result in answer["results"]:
            _check_review_result(result)
    elif path.endswith(":analyze"):
        assert set(answer["attributeScores"]) <= set(body["requestedAttributes"])
        assert all(0 <= a["summaryScore"]["value"] <= 1 for a in answer["attributeScores"].values())


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_invalid_bodies_get_json_errors(server, bodies, data):
    path = data.draw(st.sampled_from([*sorted(bodies), "/v1/model", "/healthz", "/nowhere"]))
    how = data.draw(st.sampled_from(["json", "bytes", "mutated"]))
    if how == "json":
        raw = json.dumps(data.draw(_JSON)).encode()
    elif how == "bytes":
        raw = data.draw(st.binary(max_size=64))
    else:
        body = data.draw(bodies.get(path, _JSON))
        if isinstance(body, dict) and body:
            key = data.draw(st.sampled_from(sorted(body)))
            body = {**body, key: data.draw(_JSON)}
        raw = json.dumps(body).encode()
    method = data.draw(st.sampled_from(["POST", "GET", "PUT", "DELETE"]))
    r = server.client.request(method, path, content=raw)
    assert r.status_code in (200, 400, 404, 405, 413, 422), (path, raw, r.status_code, r.text)
    r.json()
    if r.status_code != 200:
        (_is_google_error if path.startswith("/v1alpha1/") else _is_error)(r, r.status_code)


def test_server_is_still_up_after_the_fuzzing(server):
    assert server.alive()
    assert server.client.get("/healthz").json()["status"] == "ok"
    assert not any("Traceback" in line or "internal error" in line for line in server.lines), "".join(server.lines)


# --------------------------------------------------------------------------- one model, three ways in


def test_cli_python_api_and_http_give_identical_scores(server, model_only, workdir):
    rows = [
        {"id": f"c{i}", "thread": f"th{i}", "text": text, "thread_title": (thread or {}).get("title", "")}
        for i, (text, thread) in enumerate(COMMENTS)
        if text and not (thread or {}).get("text")
    ]
    path = workdir / "comments.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "thread", "text", "thread_title"])
        writer.writeheader()
        writer.writerows(rows)
    out = run_cli("score", str(path), "--model", str(MODEL), "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    cli_rows = {r["text"]: r for r in map(json.loads, out.stdout.splitlines())}
    for row in rows:
        thread = {"title": row["thread_title"]} if row["thread_title"] else None
        api = model_only.review(row["text"], thread=thread)
        http = server.client.post("/v1/review", json={"text": row["text"], "thread": thread}).json()
        cli_scores = {label: cli_rows[row["text"]][label] for label in LABELS}
        assert api.scores == http["scores"] == cli_scores, row["text"]
        assert cli_rows[row["text"]]["action"] == api.action
        assert http["model"] == api.model


# --------------------------------------------------------------------------- starting up


def _one_line_error(returncode: int, err: str, expected: str) -> None:
    assert returncode != 0, (expected, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), (expected, err)
    assert expected in lines[0], (expected, lines[0])


def test_startup_errors_are_one_line(workdir):
    bad_toml = workdir / "bad.toml"
    bad_toml.write_text("[thresholds.slur\nhold = 0.3\n", encoding="utf-8")
    # The real console script, as an operator runs it (two processes at once).
    real = {"not valid TOML": ["--config", str(bad_toml)], "no model there": ["--model", str(workdir / "no-model")]}
    procs = {
        k: subprocess.Popen(
            [*_command(), "serve", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        for k, args in real.items()
    }
    for expected, proc in procs.items():
        _out, err = proc.communicate(timeout=60)
        _one_line_error(proc.returncode, err, expected)
        assert "Traceback" not in err
    # The other refusals in process: the same command, failing before it would listen.
    from click.testing import CliRunner

    from moderation.apps.cli import cli

    typo = workdir / "typo.toml"
    typo.write_text('on_missing_model = "refuse"\n[treshold.slur]\nhold = 0.3\n', encoding="utf-8")
    inverted = workdir / "inverted.toml"
    inverted.write_text("[thresholds.slur]\nhold = 0.9\nreject = 0.2\n", encoding="utf-8")
    unknown_label = workdir / "label.toml"
    unknown_label.write_text("[thresholds.spam]\nhold = 0.5\n", encoding="utf-8")
    empty_term = workdir / "term.toml"
    empty_term.write_text('[terms]\nblock = ["・ ・"]\n', encoding="utf-8")
    empty_token = workdir / "empty-token"
    empty_token.write_text("\n", encoding="utf-8")
    token_dir = workdir / "token-dir"
    token_dir.mkdir(exist_ok=True)
    cases = {
        "unknown key(s) treshold": ["--config", str(typo)],
        "hold (0.9) is above reject": ["--config", str(inverted)],
        "unknown label": ["--config", str(unknown_label)],
        "is empty once normalised": ["--config", str(empty_term)],
        "cannot read the config": ["--config", str(workdir / "missing.toml")],
        "cannot read the token file": ["--token-file", str(token_dir)],
        "must hold one token": ["--token-file", str(empty_token)],
        "not a model directory": ["--model", str(ROOT / "tests")],
        "the feedback file is a directory": ["--feedback", str(workdir)],
    }
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:
        runner = CliRunner()  # click 8.2+: stderr is always apart
    for expected, args in cases.items():
        result = runner.invoke(cli, ["serve", "--port", "0", *args])
        _one_line_error(result.exit_code, result.stderr, expected)


def test_missing_model_with_allow_serves_degraded(workdir):
    config = workdir / "allow.toml"
    config.write_text(
        'on_missing_model = "allow"\n[terms]\nblock = ["闇バイト"]\nwatch = ["ラーメン"]\n', encoding="utf-8"
    )
    srv = Server("--model", str(workdir / "no-model"), "--config", str(config), "--feedback", str(workdir / "d.jsonl"))
    try:
        assert "warning: serving without a model" in "".join(srv.lines)
        assert srv.client.get("/healthz").json() == {"status": "degraded", "model": None}
        r = srv.client.post("/v1/review", json={"text": "下朝鮮は黙ってろ"}).json()
        assert r["action"] == "allow" and r["scores"] == {label: None for label in LABELS}
        r = srv.client.post("/v1/review", json={"text": "闇バイトあります"}).json()
        assert r["action"] == "reject" and r["reasons"][0]["excerpt"] == "闇バイト"
        r = srv.client.post("/v1/review", json={"text": "ﾗｰﾒﾝ食べたい"}).json()
        assert r["action"] == "hold" and r["reasons"] == [
            {"label": "watch", "span": [0, 4], "excerpt": "ﾗｰﾒﾝ", "weight": 1.0, "source": "policy"}
        ]
        results = srv.client.post("/v1/review:batch", json={"items": [{"text": "a"}, {"text": "b"}]}).json()
        assert [x["action"] for x in results["results"]] == ["allow", "allow"]
        _is_error(srv.client.get("/v1/model"), 503, "unavailable")
    finally:
        srv.stop()


def test_workers_share_the_port(workdir):
    srv = Server("--model", str(MODEL), "--workers", "2", "--feedback", str(workdir / "w.jsonl"))
    try:
        answers = [srv.client.post("/v1/review", json={"text": "下朝鮮は黙ってろ"}).json() for _ in range(6)]
        assert all(a == answers[0] for a in answers) and answers[0]["action"] in ("hold", "reject")
        ids = {
            srv.client.post("/v1/feedback", json={"text": f"c{i}", "labels": {"slur": 0}, "annotator": "m"}).json()[
                "id"
            ]
            for i in range(6)
        }
        assert {e["id"] for e in read_events(workdir / "w.jsonl")} == ids
        workers = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) == 2
    finally:
        srv.stop()
    assert srv.proc.returncode == 0
    for pid in workers:  # stopping the parent stops its workers
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
