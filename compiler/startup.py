"""A fresh process's start-up, kept out of the garbage collector's way (issue 17, goal 2).

Starting a check makes tens of thousands of objects that live as long as the process:
modules, the parser and its lexers, the data tables, the rules. With the default
thresholds the collector runs every 700 net allocations and walks all of them again
each time: a sixth of a one-sheet check. `begin()` raises the first threshold while
they are made; `settled()` moves what exists out of the collector's sight
(`gc.freeze`) and puts the thresholds back, so later collections see only what the
work itself makes. The collector is never switched off: a process that never settles
(a command that compiles nothing) still collects, only less often.

Checking a book's sheets one after another (`checking()`), the collector runs between
sheets, not in the middle of one: a sheet's objects mostly die by reference counting when
its check ends, but a collection in the middle of a sheet walks the thousands of objects of
its live model, and the few reference cycles a sheet leaves (recursive helper closures) keep
parts of its model from dying with it. So `sheet()`, as each sheet begins, collects once
`BETWEEN_SHEETS` objects are waiting (the older generations on the collector's own
schedule): memory stays bounded by a few sheets. The first threshold stays raised
meanwhile, a safety net for one very large sheet, which is still collected as it goes.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

START_UP_THRESHOLD = 100_000
# while a book's sheet is checked: 1.4 % fewer instructions per sheet than 700 on issue 17's book
# (collections walk memory, so more of the time); cyclic garbage waits for at most this many objects
CHECKING_THRESHOLD = 20_000
# between a book's sheets: collect once this many objects (net) were made since the last collection.
# Share of the collector in a book's check, in one process over the shipped sheets: 7.8-9.9 % collecting
# by the threshold above alone, 3.7 % before every sheet, 3.0 % at 2,000; and once no sheet leaves
# cycles: 0.3 %, 3.4 %, 1.0 % (what every sheet leaves alive until the next is walked each time)
BETWEEN_SHEETS = 2_000

_saved: list[tuple[int, int, int]] = []  # the thresholds to put back, while start-up lasts
_books: list[None] = []  # one entry per `checking()` in progress: sheets are collected between


def begin() -> None:
    """Start-up begins: collect less often until `settled()`."""
    if not _saved:
        first, second, third = gc.get_threshold()
        _saved.append((first, second, third))
        gc.set_threshold(max(first, START_UP_THRESHOLD), second, third)


def settled() -> None:
    """Start-up is over (modules, parser and tables loaded): freeze them, collect as usual."""
    try:
        saved = _saved.pop()  # one step: two threads' first compiles may settle at once (`serve`)
    except IndexError:
        return
    gc.freeze()
    gc.set_threshold(*saved)


@contextlib.contextmanager
def checking() -> Iterator[None]:
    """A batch of a book's sheets is checked: the collector runs less often meanwhile (then as before)."""
    if _saved:  # start-up is not over: its threshold holds, and `settled()` puts the usual one back
        yield
        return
    first, second, third = gc.get_threshold()
    gc.set_threshold(max(first, CHECKING_THRESHOLD), second, third)
    _books.append(None)
    try:
        yield
    finally:
        _books.pop()
        gc.set_threshold(first, second, third)


def sheet() -> None:
    """A sheet's check begins: within `checking()`, collect what the sheets before it left."""
    if not _books or not gc.isenabled() or gc.get_count()[0] <= BETWEEN_SHEETS:
        return
    counts, thresholds = gc.get_count(), gc.get_threshold()
    # the collector's own rule for its older generations: each is collected once the younger
    # one has been collected more often than its threshold since
    generation = 2 if counts[2] > thresholds[2] else 1 if counts[1] > thresholds[1] else 0
    gc.collect(generation)
