"""Did-you-mean suggestions stay cheap (issue 12): a sheet of 40,000 unknown condition words
took ten minutes. The prefilters must not change any answer of the plain search.
"""

from __future__ import annotations

import random
import string

from compiler import suggest


def plain_closest(word: str, candidates: list[str], max_ratio: float = 0.34) -> str | None:
    word = word.lower()
    best: tuple[int, str] | None = None
    for candidate in candidates:
        limit = max(1, int(max(len(word), len(candidate)) * max_ratio))
        d = suggest.distance(word, candidate.lower(), limit)
        if d <= limit and (best is None or d < best[0]):
            best = (d, candidate)
    return best[1] if best else None


def test_prefiltered_search_gives_the_same_suggestions() -> None:
    rng = random.Random(3)
    alphabet = string.ascii_letters + "-+ /"
    candidates = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 25))) for _ in range(120)]
    for _ in range(1500):
        word = list(rng.choice(candidates))
        for _ in range(rng.randint(0, 5)):
            at = rng.randint(0, len(word))
            action = rng.randint(0, 2)
            if action == 0:
                word.insert(at, rng.choice("abXY+-"))
            elif word:
                word[min(at, len(word) - 1):min(at, len(word) - 1) + action - 1] = rng.choice(["", "a"])
        text = "".join(word) if rng.random() < 0.8 else "".join(rng.choice(alphabet) for _ in range(30))
        assert suggest.closest(text, candidates) == plain_closest(text, candidates)
