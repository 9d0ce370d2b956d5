"""Policy terms compiled once into automata (issue 13): the kana/CJK terms match exactly as the
lexicon's regular expressions matched them (a property test against that matcher, masks,
separators and short kana included); word terms match whole words with their punctuation and
through invisible characters; 100,000 terms build and search fast (timing is in
benchmarks/policy_terms_bench.py)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.ml.lexicon import Entry, Lexicon
from moderation.ml.terms import TermMatcher
from moderation.policy import Decider


def regex_matcher(terms: list[str]) -> Lexicon:
    """The matcher policy terms had before: the lexicon's regular expressions over the terms."""
    return Lexicon([Entry(t, t, "policy", "ja", "block", 1.0) for t in terms], ())


KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンー"
HIRA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
KANJI = "闇朝鮮人支那在日韓国中共売国奴"
CJK_CHARS = KANA[:12] + HIRA[:12] + KANJI[:8] + "ー"
NOISE = " 　・.、。*○〇●×\u200b\u0301!?ww12"

cjk_terms = st.lists(st.text(alphabet=CJK_CHARS + "○", min_size=1, max_size=5), min_size=1, max_size=12)
cjk_texts = st.text(alphabet=CJK_CHARS + NOISE, max_size=60)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(terms=cjk_terms, text=cjk_texts)
def test_kana_and_cjk_terms_match_exactly_as_the_regular_expressions_did(terms, text):
    terms = [t for t in terms if t.strip("○")]  # what a policy file accepts (a term of masks alone is refused)
    if not terms:
        return
    old = [(h.term, h.span) for h in regex_matcher(terms).find(text)]
    new = [(h.term, h.span) for h in TermMatcher(terms).find(text)]
    assert new == old


def test_a_random_policy_of_japanese_terms_agrees_with_the_regular_expressions_on_comments():
    rng = random.Random(13)
    alphabet = KANA + HIRA + KANJI
    terms = sorted({"".join(rng.choices(alphabet, k=rng.randint(2, 5))) for _ in range(400)})
    old, new = regex_matcher(terms), TermMatcher(terms)
    for _ in range(300):
        words = [rng.choice(terms) if rng.random() < 0.2 else "".join(rng.choices(alphabet, k=3)) for _ in range(8)]
        text = "".join(w if rng.random() < 0.8 else " ".join(w) for w in words)
        text = "".join(c if rng.random() > 0.05 else "○" for c in text)
        assert [(h.term, h.span) for h in new.find(text)] == [(h.term, h.span) for h in old.find(text)], text


def test_word_terms_keep_their_punctuation_and_stand_as_words():
    decider = Decider({}, block=["a.s.s", "c++", "spam link"], watch=["line id"])

    def hits(text: str) -> list[tuple[str, str]]:
        return [(r.label, r.excerpt) for r in decider.term_reasons(text)]

    assert hits("I passed the class") == []  # the regular expressions blocked it ("ass" twice)
    assert hits("rock music concert") == []  # c++ blocked every "c"
    assert hits("A.S.S and C++ here") == [("block", "A.S.S"), ("block", "C++")]
    assert hits("ｃ＋＋ と ａ．ｓ．ｓ") == [("block", "ｃ＋＋"), ("block", "ａ．ｓ．ｓ")]
    assert hits("a spam  link here, my LINE ID is x") == [("block", "spam  link"), ("watch", "LINE ID")]
    assert hits("spamlink") == [] and hits("antispam link") == []


def test_invisible_characters_and_accents_inside_a_word_do_not_hide_it():
    decider = Decider({}, block=["ass", "闇バイト"])
    for text in ("as\u200bs", "a\u00adss", "a\u0301ss", "áss", "as\u200ds", "闇\u200bバイト", "闇バ\u0301イト"):
        reasons = decider.term_reasons(f"x {text} y")
        assert [r.excerpt for r in reasons] == [text], text
    assert decider.term_reasons("class pass") == []


def test_a_hundred_thousand_terms_are_matched_in_a_comment():
    rng = random.Random(7)
    alphabet = KANA + KANJI
    terms = list({"".join(rng.choices(alphabet, k=rng.randint(3, 6))) for _ in range(50_000)})
    terms += list({"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 9))) for _ in range(50_000)})
    matcher = TermMatcher(terms)
    text = "".join(rng.choices(alphabet + " ", k=5_000)) + f" {terms[0]} {terms[-1]} " + "○" * 3 + "x" * 5_000
    found = {h.term for h in matcher.find(text)}
    assert {terms[0], terms[-1]} <= found
