"""IdentityMemo: answers about particular frozen objects, found by identity (compiler/records.py)."""

from __future__ import annotations

from compiler.records import IdentityMemo


class Line:
    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:  # equal lines are still other objects
        return isinstance(other, Line) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


def test_an_answer_is_kept_for_the_same_objects_only() -> None:
    memo: IdentityMemo[str] = IdentityMemo(limit=10)
    calls: list[str] = []
    first, twin = Line("a"), Line("a")
    assert memo.answer((first,), lambda: calls.append("first") or "one") == "one"
    assert memo.answer((first,), lambda: calls.append("again") or "other") == "one"
    assert memo.answer((twin,), lambda: calls.append("twin") or "two") == "two"  # equal, not the same
    assert calls == ["first", "twin"]


def test_every_object_of_the_question_counts_and_none_is_an_answer() -> None:
    memo: IdentityMemo[int | None] = IdentityMemo(limit=10)
    line, tables, other = Line("a"), object(), object()
    assert memo.answer((line, tables), lambda: None) is None
    assert memo.answer((line, tables), lambda: 1) is None  # None was kept as the answer
    assert memo.answer((line, other), lambda: 2) == 2


def test_the_memo_is_bounded_and_can_be_emptied() -> None:
    memo: IdentityMemo[int] = IdentityMemo(limit=3)
    lines = [Line(str(n)) for n in range(50)]
    for number, line in enumerate(lines):
        memo.answer((line,), lambda number=number: number)  # type: ignore[misc]
        assert len(memo._known) <= 3
    memo.clear()
    assert memo.answer((lines[-1],), lambda: -1) == -1
