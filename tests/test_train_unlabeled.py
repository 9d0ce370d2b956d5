"""``moderation train --unlabeled DUMPS``: the operator's own unlabeled threads teach off_topic
(self-supervised pairs) and the term weights, beside labelled data; through the real CLI."""

from __future__ import annotations

import json

from conftest import FIXTURES, SEED, run_cli
from test_model import authored_frame

from moderation.moderator import Moderator


def _labelled(tmp_path, with_off_topic: bool):
    data = tmp_path / "labelled.csv"
    frame = authored_frame(160)[["text", "slur", "delete", *(["off_topic"] if with_off_topic else [])]]
    frame.to_csv(data, index=False)
    return data


def test_unlabeled_dumps_teach_off_topic_without_any_off_topic_label(tmp_path):
    data = _labelled(tmp_path, with_off_topic=False)
    out = tmp_path / "m"
    dumps = [FIXTURES / "dat", FIXTURES / "scrape", SEED]
    args = ["train", str(data), "--out", str(out), "--cv", "2"]
    for dump in dumps:
        args += ["--unlabeled", str(dump)]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    seen = manifest["training_data"]["unlabeled"]
    assert seen["comments"] > 100 and seen["threads"] >= 5 and seen["off_topic_pairs"] > 100
    assert str(SEED) in {f["path"] for f in seen["files"]}
    assert all(len(f["sha256"]) == 64 for f in seen["files"])
    # No labelled row says anything about off_topic: the label exists only through the dumps.
    assert manifest["labels"]["off_topic"]["metrics"]["n"] == seen["off_topic_pairs"]
    mod = Moderator.load(out)
    title = "米韓同盟の行方 在韓米軍の撤退と北朝鮮"
    on = mod.review("在韓米軍が撤退したら北朝鮮はどう出るかな", thread=title)
    off = mod.review("今日のラーメンは味噌にした。替え玉うまい", thread=title)
    assert off.scores["off_topic"] > on.scores["off_topic"]


def test_without_unlabeled_there_is_no_off_topic_and_bad_dumps_write_nothing(tmp_path):
    data = _labelled(tmp_path, with_off_topic=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    for bad, message in ((tmp_path / "missing.dat", "missing.dat"), (empty, "no comments found")):
        res = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--cv", "2", "--unlabeled", str(bad))
        assert res.returncode == 1 and message in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "m").exists()
    res = run_cli("train", str(data), "--out", str(tmp_path / "plain"), "--cv", "2")
    assert res.returncode == 0, res.stderr
    manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text(encoding="utf-8"))
    assert "unlabeled" not in manifest["training_data"]
    assert manifest["labels"]["off_topic"]["trained"] is False and "not trained" in res.stdout
