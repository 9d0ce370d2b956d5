"""Policy terms at scale: start-up and per-comment time of 100,000 block terms.

Prints, in the same run:

- the policy (``PolicyConfig`` validation + ``Decider``): what ``moderation serve --config``
  does at start-up, and ``term_reasons`` on a 10,000-character comment (with and without
  masks in it);
- the regular-expression matcher policy terms used before (the lexicon's, over the same terms);
- a plain reference: one ``pyahocorasick`` automaton over the raw terms, built and searched
  with no normalisation at all (the floor for any automaton).

Usage: ``python benchmarks/policy_terms_bench.py [--terms 100000] [--no-old]``
"""

from __future__ import annotations

import argparse
import os
import random
import time

import ahocorasick

from moderation.ml.lexicon import Entry, Lexicon
from moderation.policy import Decider, PolicyConfig

KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンー"
KANJI = "闇朝鮮人支那在日韓国中共売国奴犯罪詐欺募集副業高収入"
LATIN = "abcdefghijklmnopqrstuvwxyz"


def timed(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=100_000)
    parser.add_argument("--no-old", action="store_true", help="Skip the regular-expression matcher (slow).")
    args = parser.parse_args()
    rng = random.Random(13)
    half = args.terms // 2
    terms = list({"".join(rng.choices(KANA + KANJI, k=rng.randint(3, 7))) for _ in range(half)})
    terms += list({"".join(rng.choices(LATIN, k=rng.randint(4, 10))) for _ in range(args.terms - half)})
    words = [*rng.sample(terms, 20), *("".join(rng.choices(KANA + KANJI, k=4)) for _ in range(3000))]
    comment = "".join(rng.choice(words) + rng.choice(["", " ", "、"]) for _ in range(4000))[:9_000]
    comment += " " + " ".join(rng.sample(terms[half:], 20)) + " "
    comment = comment[:10_000]
    masked = "".join(c if i % 37 else "○" for i, c in enumerate(comment))
    print(
        f"{len(terms):,} terms ({half:,} kana/kanji, {len(terms) - half:,} Latin); comments of {len(comment):,} chars"
    )
    print(f"load average {os.getloadavg()[0]:.1f}")

    def build():
        policy = PolicyConfig.model_validate({"terms": {"block": terms}})
        return Decider({}, block=policy.terms.block)

    decider, startup = timed(build)
    hits, per = timed(lambda: decider.term_reasons(comment), 3)
    mhits, mper = timed(lambda: decider.term_reasons(masked), 3)
    print(
        f"policy (automata):     start-up {startup:7.2f} s   comment {per * 1000:8.1f} ms ({len(hits)} hits)"
        f"   with masks {mper * 1000:8.1f} ms ({len(mhits)} hits)"
    )

    def build_plain():
        automaton = ahocorasick.Automaton()
        for i, term in enumerate(terms):
            automaton.add_word(term, i)
        automaton.make_automaton()
        return automaton

    automaton, plain_startup = timed(build_plain)
    found, plain_per = timed(lambda: list(automaton.iter(comment)), 3)
    print(
        f"reference (raw pyahocorasick): start-up {plain_startup:5.2f} s   comment {plain_per * 1000:8.1f} ms "
        f"({len(found)} raw matches, no normalisation)"
    )
    if not args.no_old:
        old, old_startup = timed(lambda: Lexicon([Entry(t, t, "policy", "ja", "block", 1.0) for t in terms], ()))
        old_hits, old_per = timed(lambda: old.find(comment))
        print(
            f"before (regular expressions): start-up {old_startup:5.2f} s   comment {old_per * 1000:8.1f} ms "
            f"({len(old_hits)} hits)"
        )


if __name__ == "__main__":
    main()
