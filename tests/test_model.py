"""The feature pipeline, the classifier, training and evaluation, and the model directory."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ROOT, SEED, SHARED_DATA, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from moderation.apps.cli import cli
from moderation.core import ModelError
from moderation.ml.artifacts import load_model, save_model
from moderation.ml.features import (
    CharNgrams,
    GroupHostilityFeatures,
    LexiconFeatures,
    SubwordUnits,
    ThreadFeatures,
    build_featurizer,
)
from moderation.ml.lexicon import Lexicon
from moderation.ml.text import fold, fold_text, normalize, normalize_text

AUTHORED = ROOT / "labels" / "authored.jsonl"


def authored_frame(n: int | None = None) -> pd.DataFrame:
    rows = [json.loads(line) for line in AUTHORED.read_text(encoding="utf-8").splitlines()]
    if n:
        rows = rows[:: max(1, len(rows) // n)][:n]
    return pd.DataFrame(
        {
            "text": [r["text"] for r in rows],
            "thread_title": [r["thread_title"] for r in rows],
            **{k: [r["labels"][k] for r in rows] for k in ("slur", "off_topic", "delete")},
        }
    )


@pytest.fixture(scope="module")
def small_model_dir(tmp_path_factory) -> Path:
    """A model trained by the real CLI on 300 authored comments."""
    tmp = tmp_path_factory.mktemp("model")
    data = tmp / "train.csv"
    authored_frame(300).to_csv(data, index=False)
    res = run_cli("train", str(data), "--out", str(tmp / "m"), "--cv", "3")
    assert res.returncode == 0, res.stderr
    return tmp / "m"


# --------------------------------------------------------------------------- normalisation


def test_obfuscations_fold_together():
    forms = ["チョン", "チ ョ ン", "ﾁｮﾝ", "ちょん", "チ.ョ.ン", "Ｃ"]
    folded = [fold_text(f) for f in forms[:5]]
    assert len(set(folded)) == 1
    assert normalize_text("ｗｗｗｗｗ草ーーーー") == "ww草ーー"


board_strings = st.lists(
    st.sampled_from(
        [
            "ﾁｮﾝ",
            "チ ョ ン",
            "ｶﾞｲｼﾞ",
            "ｗｗｗｗ",
            "ーーー",
            "支〇人",
            "ＡＢＣ",
            "下朝鮮",
            "。",
            " ",
            "\n",
            "アイゴー",
            "ﾊﾟﾁﾝｺ",
            "ㅂㅅ",
            "<ヽ`∀´>",
            "①",
            "㍻",
            "ﬁ",
        ]
    )
    | st.text(max_size=5),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(board_strings)
def test_fast_views_equal_the_mapped_views(text):
    # Features use the fast views, explanations the mapped ones: they must agree.
    assert normalize(text).text == normalize_text(text)
    assert fold(text).text == fold_text(text)
    view = fold(text)
    for i in range(len(view.text)):
        a, b = view.span(i, i + 1)
        assert 0 <= a < b <= len(text)


# --------------------------------------------------------------------------- lexicon


def test_lexicon_on_the_seed_finds_the_slurs_and_not_the_innocent_words(seed_text):
    hits = Lexicon.load().find(seed_text)
    assert sorted(h.term for h in hits) == ["アイゴー", "シェイシェイ", "下朝鮮"]
    for h in hits:
        assert seed_text[h.span[0] : h.span[1]] == h.matched


@pytest.mark.parametrize(
    "text,term",
    [
        ("支〇人は出ていけ", "支那人"),
        ("ﾁｮﾝは帰れ", "チョン"),
        ("チ ョ ン", "チョン"),
        ("you jap", "jap"),
        ("ばかちょん", "バカチョン"),
        ("ｶﾞｲｼﾞ乙", "ガイジ"),
        ("チ\u200bョン", "チョン"),
        ("you j\u200bap", "jap"),  # a zero-width space inside a Latin word
        ("you j\u00adap", "jap"),  # a soft hyphen
    ],
)
def test_lexicon_sees_through_spellings(text, term):
    lexicon = Lexicon.load()
    hits = [h for h in lexicon.find(text) if h.term == term]
    assert hits and term in [e.term for e in lexicon.match_entries(text)]
    start, end = hits[0].span  # the span covers the whole spelling in the original text
    assert text[start:end].replace("\u200b", "").replace("\u00ad", "").replace(" ", "") != ""


@pytest.mark.parametrize(
    "text",
    [
        "東シナ海の情勢",
        "japanese food",
        "キュウリを食べた",
        "鄭東泳(チョン・ドンヨン)長官",
        "北朝鮮人民軍",
        "シナリオ通り",
        "在日米軍の基地",
    ],
)
def test_lexicon_leaves_innocent_words(text):
    assert Lexicon.load().find(text) == []


# --------------------------------------------------------------------------- transformers


@pytest.mark.parametrize(
    "make",
    [
        lambda: CharNgrams("normalized", (1, 3), 1 << 16, 1),
        lambda: CharNgrams("folded", (2, 4), 1 << 16, 1),
        lambda: SubwordUnits(200, 1),
        lambda: LexiconFeatures(),
        lambda: GroupHostilityFeatures(),
        lambda: ThreadFeatures(1 << 12),
    ],
)
def test_transformers_follow_the_estimator_contract(make):
    texts = authored_frame(60).rename(columns={"thread_title": "context"})[["text", "context"]]
    est = make()
    params = est.get_params()
    fitted = est.fit(texts)
    assert fitted is est and est.get_params() == params  # fit returns self, params untouched
    a = est.transform(texts)
    b = est.transform(texts)
    assert (a != b).nnz == 0  # transform has no side effects
    assert (pickle.loads(pickle.dumps(est)).transform(texts) != a).nnz == 0
    assert clone(est).get_params() == params
    pipe = Pipeline([("features", make()), ("clf", LogisticRegression())])
    pipe.fit(texts, np.arange(len(texts)) % 2)
    assert pipe.predict_proba(texts).shape == (len(texts), 2)


def test_feature_union_runs_in_a_pipeline_on_plain_strings():
    texts = authored_frame(80)["text"].tolist()
    y = authored_frame(80)["delete"].to_numpy()
    pipe = Pipeline([("features", build_featurizer(vocab_size=300, n_features=1 << 14)), ("clf", LogisticRegression())])
    pipe.fit(texts, y)
    assert pipe.predict_proba(["テスト"]).shape == (1, 2)


# --------------------------------------------------------------------------- training and the model directory


def test_training_writes_a_complete_verified_model(small_model_dir):
    manifest = json.loads((small_model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["artifacts"]) == {"featurizer.joblib", "classifiers.joblib", "spm.model"}
    assert manifest["lexicon"]["version"] == "2"
    for label in ("slur", "off_topic", "delete"):
        info = manifest["labels"][label]
        assert info["trained"] and 0 < info["hold"] <= info["reject"] <= 1.01
        assert 0.5 < info["metrics"]["roc_auc"] <= 1
    assert manifest["training_data"]["rows"] == 300 and len(manifest["training_data"]["sha256"]) == 64
    model, _ = load_model(small_model_dir)
    assert model.predict_proba(pd.DataFrame({"text": ["下朝鮮は黙れ"]})).shape == (1, 3)


def test_tampered_or_foreign_files_are_refused(small_model_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(small_model_dir, copy)
    with open(copy / "classifiers.joblib", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="sha256 does not match"):
        load_model(copy)
    shutil.rmtree(copy)
    shutil.copytree(small_model_dir, copy)
    (copy / "extra.joblib").write_bytes(b"x")
    with pytest.raises(ModelError, match="not part of this model"):
        load_model(copy)
    res = run_cli("score", str(SEED), "--model", str(copy))
    assert res.returncode == 1 and "not part of this model" in res.stderr and "Traceback" not in res.stderr


def test_a_label_with_no_data_is_not_trained_and_scores_null(tmp_path):
    data = tmp_path / "d.csv"
    frame = authored_frame(120)[["text", "slur"]]
    frame["off_topic"] = ""
    frame.to_csv(data, index=False)
    res = run_cli("train", str(data), "--out", str(tmp_path / "m"), "--cv", "2")
    assert res.returncode == 0, res.stderr
    assert "not trained" in res.stdout
    res = run_cli("score", str(data), "--model", str(tmp_path / "m"), "--format", "jsonl")
    row = json.loads(res.stdout.splitlines()[0])
    assert row["off_topic"] is None and row["delete"] is None and row["slur"] is not None


@pytest.mark.parametrize(
    "content,message",
    [
        ("body,slur\nこんにちは,1\n", "no 'text' column"),
        ("text,slur\nこんにちは,0\nさようなら,0\nまた明日,0\n", "0 positive"),
        ("text,slur\nこんにちは,2\n", "use 0, 1 or leave it blank"),
        ("", "empty file"),
    ],
)
def test_training_bad_input_is_a_clear_error_and_leaves_no_model(tmp_path, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content, encoding="utf-8")
    res = run_cli("train", str(data), "--out", str(tmp_path / "m"))
    assert res.returncode == 1
    assert (message in res.stderr and str(data) in res.stderr) or message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "m").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.")]


def test_unreadable_model_directory(tmp_path):
    (tmp_path / "m").mkdir()
    res = run_cli("score", str(SEED), "--model", str(tmp_path / "m"))
    assert res.returncode == 1 and "no manifest.json" in res.stderr
    res = run_cli("score", str(SEED), "--model", str(tmp_path / "nope"))
    assert res.returncode == 1 and "no model there" in res.stderr


def test_save_is_atomic_when_it_fails(tmp_path, small_model_dir):
    model, _ = load_model(small_model_dir)
    out = tmp_path / "m"
    shutil.copytree(small_model_dir, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    dict(model.featurizer_.transformer_list)["subwords"].sp_model_ = object()  # cannot be written
    with pytest.raises(TypeError):
        save_model(model, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old model is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_eval_prints_metrics_and_plots(tmp_path, small_model_dir):
    data = tmp_path / "eval.csv"
    authored_frame(150).to_csv(data, index=False)
    plot = tmp_path / "pr.png"
    res = CliRunner().invoke(cli, ["eval", str(data), "--model", str(small_model_dir), "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    assert "ROC-AUC" in res.output and "slur" in res.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the shipped default model


def test_default_model_on_the_seed_thread():
    res = run_cli("score", str(SEED), "--format", "jsonl", "--explain")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    by_text = {r["text"]: r for r in rows}
    shimochosen = next(r for t, r in by_text.items() if "下朝鮮" in t)
    mockery = next(r for t, r in by_text.items() if "アイゴー" in t and "シェイシェイ" in t)
    for row in (shimochosen, mockery):
        assert row["action"] in ("hold", "reject") and "slur" in row["labels"]
        assert any(r["label"] == "slur" and r["source"] == "lexicon" for r in row["reasons"])
        for r in row["reasons"]:
            assert row["text"][r["span"][0] : r["span"][1]] == r["excerpt"]
    articles = [r for r in rows if r["kind"] == "article"]
    assert len(articles) == 3 and all(a["action"] == "allow" for a in articles)
    korean = next(r for t, r in by_text.items() if "그건 너의 생각일뿐이다" in t)
    assert korean["action"] != "reject"  # a reply on the thread's topic, in Korean: held at most
    # precision first: on the seed thread only the slurs may be refused outright
    assert all("slur" in r["labels"] for r in rows if r["action"] == "reject")


def _word_class(ch: str) -> str:
    o = ord(ch)
    if 0x30A1 <= o <= 0x30FA or ch == "ー":
        return "kata"
    if 0xAC00 <= o <= 0xD7AF:
        return "hangul"
    if ch.isascii() and ch.isalpha():
        return "latin"
    return ""


def test_explanations_are_whole_words(small_model_dir):
    from moderation.ml.explain import explain

    model, _ = load_model(small_model_dir)
    texts = [t for t in authored_frame(120)["text"] if isinstance(t, str)]
    seen = 0
    for text in texts:
        for label in ("slur", "delete"):
            for r in explain(model, text, "", label):
                a, b = r.span
                assert text[a:b] == r.excerpt and r.excerpt.strip() == r.excerpt
                if r.source != "model":
                    continue
                seen += 1
                # never a piece of a katakana, Latin or hangul word
                for i, j in ((a - 1, a), (b - 1, b)):
                    if i >= 0 and j < len(text):
                        assert not (_word_class(text[i]) and _word_class(text[i]) == _word_class(text[j])), (
                            text,
                            r.excerpt,
                        )
    assert seen > 50


def test_default_model_manifest_credits_the_dataset():
    manifest = json.loads((ROOT / "models" / "default" / "manifest.json").read_text(encoding="utf-8"))
    datasets = [f.get("dataset", "") for f in manifest["training_data"]["files"]]
    assert any("ja-toxicity-inspection" in d and "Apache" in d for d in datasets)


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data beside the checkout")
def test_training_reads_the_ja_toxicity_subset(tmp_path):
    from moderation.labels import load_training_data

    frame, _summary = load_training_data([SHARED_DATA])
    assert len(frame) == 437 and frame["off_topic"].isna().all()
    assert (frame["delete"] == 1).sum() > 20 and (frame["slur"] == 1).sum() > 5


def test_train_refuses_to_replace_a_directory_that_is_not_a_model(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    authored_frame(60).to_csv(data / "train.csv", index=False)
    (data / "notes.txt").write_text("keep me", encoding="utf-8")
    res = run_cli("train", str(data / "train.csv"), "--out", str(data), "--cv", "2")
    # Refused as a directory that holds an input (issue 13) before it is found not to be a model.
    assert res.returncode == 1 and ("not a model directory" in res.stderr or "holds the input" in res.stderr)
    assert sorted(p.name for p in data.iterdir()) == ["notes.txt", "train.csv"]
