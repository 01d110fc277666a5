"""`report.indented_json` writes exactly what `json.dumps(indent=2, ensure_ascii=False)` writes, indented."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from compiler.report import _indented, indented_json

SHAPES: list[Any] = [
    {}, [], (), "", 0, -7, None, True, False, "é\n\"\\\x00\x1f\u2028\U0001f600",
    {"a": [], "b": {}, "c": [[]], "d": [{}]},
    {"code": "D001", "line": 3, "fix": None, "related": [{"file": "a b.protocol", "line": 1}], "acknowledged": "ok"},
    {"nested": {"deeper": {"deepest": [1, "two", None, False, {"x": (3, 4)}]}}},
    {"float": 1.5}, {"nan": float("nan")}, {"inf": [float("inf")]}, {1: "int key"}, {"bool key": {True: 1}},
]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "none", "bool"] + (["dict", "list"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice("ab \"\\\n\té€\x01\u200b") for _ in range(rng.randrange(6)))
    if kind == "int":
        return rng.randrange(-10**6, 10**6)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "dict":
        return {f"k{i}\"é": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("prefix", ["", "  ", "    ", "        "])
def test_same_text_as_json_dumps(prefix: str) -> None:
    rng = random.Random(17)
    for value in [*SHAPES, *(_random_value(rng) for _ in range(300))]:
        expected = _indented(json.dumps(value, indent=2, ensure_ascii=False), prefix)
        assert indented_json(value, prefix) == expected, value
