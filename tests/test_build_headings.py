"""`heading_parts` reads a heading as `HEADING_PATTERN` does."""

from __future__ import annotations

import itertools
import random

from compiler.build import HEADING_PATTERN, heading_parts

ALPHABET = " {}a1.\u00a0#-é\t"


def by_pattern(raw: str) -> tuple[str | None, str, str | None]:
    match = HEADING_PATTERN.match(raw)
    assert match is not None
    return match.group("number"), match.group("title"), match.group("id")


def test_every_short_heading() -> None:
    for length in range(7):
        for letters in itertools.product(ALPHABET, repeat=length):
            raw = "".join(letters).strip()
            assert heading_parts(raw) == by_pattern(raw), raw


def test_longer_headings() -> None:
    rng = random.Random(11)
    samples = ["Inleiding {inleiding}", "2. Dosering {dosis}", "Bijwerkingen", "A {b} c {d}", "x {y", "{only-id}",
               "Title {#hash}", "Title { spaced }", "1.2.x y", "2026 plan", "Dosis}{x}", "T {a}}"]
    samples += ["".join(rng.choice(ALPHABET + "xyz") for _ in range(rng.randint(0, 30))).strip() for _ in range(20000)]
    for raw in samples:
        assert heading_parts(raw) == by_pattern(raw), raw
