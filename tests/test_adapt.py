"""``moderation adapt``: a model fitted to a forum from its unlabeled dumps, through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, ROOT, SEED, run_cli

from moderation.io import extract
from moderation.ml.adapt import action_rates
from moderation.moderator import Moderator, score_records

KO = ROOT.parent / "shared" / "data" / "ko-hate-speech" / "train.csv"


def test_adapt_writes_a_model_that_records_what_it_saw(tmp_path):
    out = tmp_path / "adapted"
    res = run_cli(
        "adapt",
        str(FIXTURES / "scrape"),
        str(FIXTURES / "dat"),
        str(SEED),
        "--out",
        str(out),
        "--max-hold-rate",
        "0.1",
        "--max-reject-rate",
        "0.03",
    )
    assert res.returncode == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    adapted = manifest["training_data"]["adapted"]
    assert adapted["comments"] > 150 and adapted["threads_sampled"] >= 8
    assert {f["path"] for f in adapted["files"]} >= {str(SEED)}
    assert adapted["measured"]["reject"] <= 0.03 and adapted["measured"]["hold"] <= 0.1
    assert manifest["labels"]["off_topic"]["reject"] == "never"  # off-topic waits for a moderator
    mod = Moderator.load(out)
    assert mod.review("下朝鮮は黙ってろ").labels  # still a working model


@pytest.mark.skipif(not KO.exists(), reason="needs ../shared/data/ko-hate-speech")
def test_asked_rates_hold_on_other_posts_of_the_same_forum(tmp_path):
    """Adapted on half of a real forum's posts (picked at random), the rates hold on the other half.

    The reject rate asked is one the labelled data's reject threshold allows: adapt never
    lowers that threshold to reach a rate (see the next test)."""
    frame = pd.read_csv(KO).dropna(subset=["text", "news_title"])
    frame = frame.assign(thread=frame["news_title"], thread_title=frame["news_title"])
    half = pd.Series(np.random.default_rng(0).integers(0, 2, len(frame)), index=frame.index)
    seen, unseen = tmp_path / "seen.jsonl", tmp_path / "unseen.jsonl"
    for part, path in ((frame[half == 0], seen), (frame[half == 1], unseen)):
        part[["text", "thread", "thread_title"]].to_json(path, orient="records", lines=True, force_ascii=False)
    out = tmp_path / "adapted"
    res = run_cli("adapt", str(seen), "--out", str(out), "--max-hold-rate", "0.06", "--max-reject-rate", "0.005")
    assert res.returncode == 0, res.stderr
    rows = list(score_records(Moderator.load(out), extract([unseen]), with_context=True))
    scores = {label: np.array([r[label] for r in rows], dtype=float) for label in ("slur", "off_topic", "delete")}
    has_context = np.array([bool(r["context"].strip()) for r in rows])
    thresholds = Moderator.load(out).thresholds
    rates = action_rates(scores, thresholds, has_context)
    actions = pd.Series([r["action"] for r in rows]).value_counts(normalize=True)
    assert abs(actions.get("reject", 0.0) - rates["reject"]) < 1e-9  # the Decider and the solver agree
    assert abs(rates["reject"] - 0.005) <= 0.01, rates
    assert abs(rates["hold"] - 0.06) <= 0.01, rates


@pytest.mark.skipif(not KO.exists(), reason="needs ../shared/data/ko-hate-speech")
def test_reject_is_never_loosened_to_reach_a_rate(tmp_path):
    frame = pd.read_csv(KO).dropna(subset=["text", "news_title"]).head(3000)
    dump = tmp_path / "forum.jsonl"
    frame.assign(thread=frame["news_title"], thread_title=frame["news_title"])[
        ["text", "thread", "thread_title"]
    ].to_json(dump, orient="records", lines=True, force_ascii=False)
    out = tmp_path / "adapted"
    res = run_cli("adapt", str(dump), "--out", str(out), "--max-hold-rate", "0.5", "--max-reject-rate", "0.5")
    assert res.returncode == 0, res.stderr
    default, adapted = Moderator.load().thresholds, Moderator.load(out).thresholds
    for label in ("slur", "delete"):
        assert adapted[label]["reject"] >= default[label]["reject"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--max-hold-rate", "1.5"], "1.5 is not in the range"),
        (["--model", "models/default", "--out", "models/default"], "is the model being adapted"),
    ],
)
def test_bad_arguments_are_one_line_errors_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "adapted"
    res = run_cli("adapt", str(SEED), *(["--out", str(out)] if "--out" not in args else []), *args)
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_no_comments_or_unreadable_dump_leave_no_model(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    for dump, message in ((empty, "no comments found"), (tmp_path / "missing.dat", "missing.dat")):
        out = tmp_path / "adapted"
        res = run_cli("adapt", str(dump), "--out", str(out))
        assert res.returncode == 1, res.stderr
        assert message in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert not out.exists()
