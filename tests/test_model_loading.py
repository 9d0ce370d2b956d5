"""Load what was hashed (issue 13): an edited manifest is refused, and ``--expect-model`` pins
the manifest's digest so that no edit, even one with recomputed hashes, is served."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import run_cli
from test_serve import MODEL, Server

from moderation.core import ModelError
from moderation.moderator import Moderator


@pytest.fixture
def model_copy(tmp_path):
    out = tmp_path / "model"
    shutil.copytree(MODEL, out)
    return out


def test_editing_thresholds_in_the_manifest_is_refused(model_copy):
    manifest = json.loads((model_copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["labels"]["slur"]["reject"] = 0.01
    (model_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="thresholds of 'slur' differ"):
        Moderator.load(model_copy)
    r = run_cli("score", "-", "--model", str(model_copy), input="テスト\n")
    assert r.returncode != 0 and "manifest.json was edited" in r.stderr and "Traceback" not in r.stderr


def test_an_artifact_that_is_not_a_regular_file_is_refused(model_copy):
    (model_copy / "spm.model").unlink()
    (model_copy / "spm.model").symlink_to("/dev/zero")
    with pytest.raises(ModelError, match="not a regular file"):
        Moderator.load(model_copy)


def test_expect_model_pins_the_manifest(tmp_path):
    digest = Moderator.load(MODEL).info["sha256"]
    wrong = "0" * 64
    r = run_cli("serve", "--port", "0", "--model", str(MODEL), "--expect-model", wrong, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and wrong in r.stderr and digest in r.stderr
    srv = Server("--model", str(MODEL), "--expect-model", digest, "--feedback", str(tmp_path / "f.jsonl"))
    try:
        assert srv.client.get("/healthz").json()["model"]["sha256"] == digest
    finally:
        srv.stop()
