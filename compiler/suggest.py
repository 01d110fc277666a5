"""Did-you-mean suggestions by edit distance."""

from __future__ import annotations

import functools
from collections.abc import Iterable


def distance(a: str, b: str, limit: int = 99) -> int:
    """Damerau–Levenshtein (optimal string alignment) distance, stopping early above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def closest(word: str, candidates: Iterable[str], max_ratio: float = 0.34) -> str | None:
    """The candidate nearest to `word`, if it is close enough (≤ a third of the length)."""
    return _closest(word.lower(), tuple(candidates), max_ratio)


@functools.lru_cache(maxsize=4096)
def _closest(word: str, candidates: tuple[str, ...], max_ratio: float) -> str | None:
    # A sheet can hold tens of thousands of unknown words (issue 12): repeated words are
    # answered from the cache, and the letters only one of the two words has (a lower
    # bound of the edit distance) rule most candidates out before the quadratic alignment.
    best: tuple[int, str] | None = None
    letters = frozenset(word)
    for candidate, lower, their_letters in _prepared(candidates):
        limit = max(1, int(max(len(word), len(candidate)) * max_ratio))
        if best is not None:
            limit = min(limit, best[0] - 1)
        if abs(len(word) - len(lower)) > limit or max(len(letters - their_letters),
                                                       len(their_letters - letters)) > limit:
            continue
        d = distance(word, lower, limit)
        if d <= limit and (best is None or d < best[0]):
            best = (d, candidate)
    return best[1] if best else None


@functools.lru_cache(maxsize=64)
def _prepared(candidates: tuple[str, ...]) -> tuple[tuple[str, str, frozenset[str]], ...]:
    return tuple((c, c.lower(), frozenset(c.lower())) for c in candidates)
