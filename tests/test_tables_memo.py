"""TablesMemo: the answers the rules keep per data set (compiler/tables.py)."""

from __future__ import annotations

from compiler.tables import TablesMemo


def test_answers_are_kept_for_the_same_tables_and_forgotten_for_others() -> None:
    memo: TablesMemo[str, int] = TablesMemo(limit=10)
    first, second = object(), object()
    memo.answers(first)["a"] = 1
    assert memo.answers(first) == {"a": 1}
    assert memo.answers(second) == {}  # another data set: nothing carries over
    assert memo.answers(first) == {}  # and back: the first one's answers are gone, never mixed


def test_a_full_memo_is_emptied_before_it_takes_more() -> None:
    memo: TablesMemo[int, int] = TablesMemo(limit=3)
    tables = object()
    for number in range(3):
        memo.answers(tables)[number] = number
    assert len(memo.answers(tables)) == 0
    for number in range(100):
        known = memo.answers(tables)
        known[number] = number
        assert len(known) <= 3


def test_an_answer_is_worked_out_once_per_key_and_tables_none_included() -> None:
    memo: TablesMemo[str, int | None] = TablesMemo(limit=10)
    calls: list[str] = []

    def compute(key: str) -> int | None:
        calls.append(key)
        return None if key == "none" else len(key)

    first, second = object(), object()
    assert [memo.answer(first, k, compute, k) for k in ("abc", "none", "abc", "none")] == [3, None, 3, None]
    assert calls == ["abc", "none"]  # None is kept as an answer, not asked again
    assert memo.answer(second, "abc", compute, "abc") == 3
    assert calls == ["abc", "none", "abc"]  # another data set starts afresh
