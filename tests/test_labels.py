"""Ground truth (moderation.labels): label events, the training rows of a label file, agreement."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.context import EARLIER_POSTS, POST_CHARS, build_context
from moderation.labels.agreement import cohen_kappa
from moderation.labels.events import append_events, label_event, read_events, resolve, undo_event
from moderation.labels.training import label_file_rows


def _kappa_by_hand(a: list[int], b: list[int]) -> float | None:
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    p_e = sum((a.count(v) / n) * (b.count(v) / n) for v in set(a) | set(b))
    return None if p_e >= 1 else (p_o - p_e) / (1 - p_e)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=30))
def test_cohen_kappa_from_scikit_learn_is_the_textbook_value(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    expected = _kappa_by_hand(a, b)
    got = cohen_kappa(a, b)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert abs(got - expected) < 1e-12


def test_cohen_kappa_of_no_items_is_undefined():
    assert cohen_kappa([], []) is None


def test_a_label_files_comments_are_trained_in_the_context_scoring_gives_them():
    posts = [f"{i}" * (POST_CHARS + 50) for i in range(EARLIER_POSTS + 3)]
    events = [
        label_event(f"c{i}", text, {"slur": 0}, annotator="m1", thread="t", thread_title="題")
        for i, text in enumerate(posts)
    ]
    events.append(label_event("other", "別スレ", {"slur": 1}, annotator="m1", thread="u"))
    events.append(
        label_event("told", "本文つき", {"slur": 1}, annotator="m1", thread="t", thread_title="題", thread_text="記事")
    )
    rows = label_file_rows(events).set_index("id")
    last = f"c{len(posts) - 1}"
    assert rows.loc[last, "context"] == build_context("題", posts=posts[:-1]).text  # the latest earlier posts, cut
    assert rows.loc["c0", "context"] == "題"
    assert rows.loc["other", "context"] == ""  # another thread's posts do not count
    assert rows.loc["told", "context"] == "題\n記事"  # the thread text the tool recorded wins


def test_appending_after_a_half_line_starts_a_new_line_and_undo_takes_the_label_back(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"id": "a", "labels": {"sl', encoding="utf-8")  # a writer killed mid-line
    append_events(path, [label_event("b", "x", {"slur": 1}, annotator="m1")])
    append_events(path, [undo_event("b", annotator="m1")])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[1])["id"] == "b" and json.loads(lines[2])["undo"] is True
    warnings: list[str] = []
    events = read_events(path, warn=warnings.append)
    assert len(events) == 2 and "l.jsonl:1: corrupt line" in warnings[0]
    assert resolve(events) == []
