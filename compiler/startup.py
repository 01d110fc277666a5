"""A fresh process's start-up, kept out of the garbage collector's way (issue 17, goal 2).

Starting a check makes tens of thousands of objects that live as long as the process:
modules, the parser and its lexers, the data tables, the rules. With the default
thresholds the collector runs every 700 net allocations and walks all of them again
each time: a sixth of a one-sheet check. `begin()` raises the first threshold while
they are made; `settled()` moves what exists out of the collector's sight
(`gc.freeze`) and puts the thresholds back, so later collections see only what the
work itself makes. The collector is never switched off: a process that never settles
(a command that compiles nothing) still collects, only less often.
"""

from __future__ import annotations

import gc

START_UP_THRESHOLD = 100_000

_saved: list[tuple[int, int, int]] = []  # the thresholds to put back, while start-up lasts


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
