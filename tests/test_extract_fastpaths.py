"""The extractor's shortcuts give what the plain way gives: class and attribute lookups from
attribute values read once per page, one pass for the ``<br>`` spellings, line spans summed in
C, one-number anchors read without a pattern, and the garbage collector paused only while a
file is read.

Each shortcut is checked against the straightforward code it replaced (libxml2's XPath, a
substitution per match, a loop over the lines, the anchor patterns), on the fixtures and on
generated input."""

from __future__ import annotations

import gc
import re

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.io import board_text, extract_file, page
from moderation.io.decode import decode
from moderation.io.readers import dat, matome

PAGES = sorted(
    p for p in FIXTURES.rglob("*") if p.suffix in (".html", ".htm") and not p.name.endswith(".expected.json")
)

# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_attribute_paths_select_what_libxml2_selects(path):
    doc = page.Page(decode(path.read_bytes()))
    paths = [matome._ARTICLE, matome.TITLE_PATHS[0], "//*[contains(@class, 'post') or contains(@id, 'res')]"]
    for xpath in paths:
        assert page._CONTAINS_ANY.fullmatch(xpath)
        assert doc.xpath(xpath) == [el for el in doc.root.xpath(xpath) if isinstance(el.tag, str)]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_elements_by_class_are_those_the_class_test_selects(path):
    doc = page.Page(decode(path.read_bytes()))
    for cls in ("post", "t_h", "t_b", "message", "threadview_response", "rtd", "cnm", "date"):
        expected = doc.root.xpath(f"//*[{page.xpath_class(cls)}]")
        assert doc.find(cls=cls) == expected
        for tags in (("div",), ("div", "article"), ("span", "li")):
            assert doc.find(*tags, cls=cls) == [el for el in expected if el.tag in tags]
    for tag in ("dt", "dd", "blockquote", "td", "span", "title", "h1", "body", "head"):
        assert doc.find(tag) == list(doc.root.iter(tag))


_BR = re.compile(r"<br(?=[\s/>])[^<>]*>", re.I)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(["<br>", "<BR />", "<br/>", "<br clear=all>", "<bR\n>", "<br", ">", "<", "本文", " "])))
def test_br_tags_become_the_mark_as_one_substitution_per_tag_makes_them(pieces):
    text = "".join(pieces)
    assert page._brs_to_newlines(text) == _BR.sub(lambda m: page.BR_MARK + " " * (len(m.group(0)) - 1), text)


# --------------------------------------------------------------------------- anchors


def _anchor_numbers_by_pattern(anchor: str) -> list[int]:
    out: list[int] = []
    for m in board_text._ANCHOR_NUMBERS.finditer(anchor):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        hi = lo if hi < lo or hi - lo > board_text._MAX_RANGE else hi
        out.extend(n for n in range(lo, hi + 1) if n not in out)
    return out


_ANCHOR_PIECES = [">>", "＞＞", "≫", "&gt;&gt;", "&gt;", ">", "1", "２", "0", "９", "-", "－", ",", "、", " ", "\t"]
_ANCHOR_PIECES += ["\n", "本文", "g", ";", "²", "٣"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_ANCHOR_PIECES), max_size=10))
def test_anchor_numbers_are_those_the_pattern_reads(pieces):
    text = "".join(pieces)
    assert board_text.anchor_numbers(text) == _anchor_numbers_by_pattern(text)
    for m in board_text.ANCHOR_GROUP.finditer(text):
        assert board_text.anchor_numbers(m.group(0)) == _anchor_numbers_by_pattern(m.group(0))
    reply_to, rest = board_text.reply_numbers(text)
    for m in board_text.ANCHOR_GROUP.finditer(rest):  # the anchors left in the text count as replies too
        assert set(_anchor_numbers_by_pattern(m.group(0))) <= set(reply_to)


# --------------------------------------------------------------------------- lines and the collector


def _spans_by_loop(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        end = pos + len(line) + 1
        out.append((pos, min(end, len(text))))
        pos = end
    if out and out[-1][0] >= len(text):
        out.pop()
    return out


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="ab\n\u2028 ", max_size=30))
def test_line_spans_are_those_of_a_loop_over_the_lines(text):
    assert dat.line_spans(text) == _spans_by_loop(text)


def test_the_collector_is_paused_only_while_a_file_is_read():
    path = FIXTURES / "boards" / "shitaraba_1319198591.html"
    assert gc.isenabled()
    records = extract_file(path)
    first = next(records)
    assert first.kind == "title" and gc.isenabled()  # back on before the first record is handed out
    gc.disable()
    try:
        assert len(list(extract_file(path))) == 6
        assert not gc.isenabled()  # a caller's own gc.disable() is left alone
    finally:
        gc.enable()
