"""A sheet's check leaves no reference cycle behind (issue 17).

Whatever a compile makes and does not keep must be freed by its reference count when the
compile returns. A cycle (most often a nested function that calls itself through its cell)
keeps its whole closure, often the sheet's item lists, alive until the collector runs, and
the collector then runs in the middle of the next sheet, walking its live objects: the
collection, not the cycle, is what costs a book's check its time.
"""

from __future__ import annotations

import datetime
import gc
from collections import Counter
from pathlib import Path

import pytest

from compiler.pipeline import compile_source
from compiler.source import SourceFile
from tests.conftest import FIXTURES, SHIPPED

TODAY = datetime.date(2026, 11, 23)
# sheets without syntax errors (a parse error's exception and traceback are another matter): every shipped
# sheet and the passing fixtures of the families whose views walk the sheet most
SHEETS = [*SHIPPED, *sorted(p for p in FIXTURES.glob("[CDLS]*/pass_*.protocol"))]


def _cyclic_garbage(path: Path) -> Counter[str]:
    """What one compile of the sheet left for the collector, by type (functions by their name)."""
    source = SourceFile.from_text(str(path), path.read_text(encoding="utf-8"))
    compile_source(source, TODAY)  # memos and caches filled: what stays in them is kept, not garbage
    saved = gc.get_debug()
    gc.disable()
    # With the collector off, whatever the compile makes stays in the youngest generation: collecting
    # it alone, before and after, finds the compile's cyclic garbage without walking the test process.
    gc.collect(0)
    gc.set_debug(saved | gc.DEBUG_SAVEALL)
    try:
        compile_source(source, TODAY)
        gc.collect(0)
        found = Counter(getattr(o, "__qualname__", type(o).__name__) if type(o).__name__ == "function"
                        else type(o).__name__ for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(saved)
        gc.enable()
    return found


@pytest.mark.parametrize("path", SHEETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_compile_leaves_no_cyclic_garbage(path: Path) -> None:
    found = _cyclic_garbage(path)
    assert not found, f"a compile left objects in reference cycles: {found.most_common(8)}"


def test_the_test_sees_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    import compiler.pipeline as pipeline

    compile_given = pipeline.compile_source

    def leaking(source: SourceFile, today: datetime.date | None = None) -> object:
        def again() -> object:
            return again
        again()
        return compile_given(source, today)

    monkeypatch.setattr("tests.test_reference_cycles.compile_source", leaking)
    found = _cyclic_garbage(SHIPPED[0])
    assert [name for name in found if name.endswith("leaking.<locals>.again")], found
