"""A fresh process's start-up, kept out of the garbage collector's way (issue 17, goal 2).

Starting a check makes tens of thousands of objects that live as long as the process:
modules, the parser and its lexers, the data tables, the rules. With the default
thresholds the collector runs every 700 net allocations and walks all of them again
each time: a sixth of a one-sheet check. `begin()` raises the first threshold while
they are made; `settled()` moves what exists out of the collector's sight
(`gc.freeze`) and puts the thresholds back, so later collections see only what the
work itself makes. The collector is never switched off: a process that never settles
(a command that compiles nothing) still collects, only less often.

Checking a book's sheets one after another, `checking()` raises the first threshold
around each batch of sheets: a sheet's model lives until its checks are done, so a
collection in the middle of a sheet walks thousands of live objects to find little garbage.
A process that checks sheets until it exits — a pool worker, the language server — keeps
that threshold for its life (`worker()`), whenever it says so: putting the usual one back
after each batch forced a collection each time, and in the language server the young
collections in the middle of each compile promoted its model to the older generations,
whose collections then walked the analyses the server remembers (a pause of tens of
milliseconds every few edits).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

START_UP_THRESHOLD = 100_000
# while a book's sheet is checked: 1.4 % fewer instructions per sheet than 700 on issue 17's book
# (collections walk memory, so more of the time); cyclic garbage waits for at most this many objects
CHECKING_THRESHOLD = 20_000

_saved: list[tuple[int, int, int]] = []  # the thresholds to put back, while start-up lasts
_lifelong: list[int] = []  # the first threshold this process keeps until it exits (`worker()`), once said


def begin() -> None:
    """Start-up begins: collect less often until `settled()`."""
    if not _saved:
        _saved.append(_raise_first_threshold(START_UP_THRESHOLD))


def settled() -> None:
    """Start-up is over (modules, parser and tables loaded): freeze them, collect as usual."""
    try:
        saved = _saved.pop()  # one step: two threads' first compiles may settle at once (`serve`)
    except IndexError:
        return
    gc.freeze()
    first, second, third = saved
    gc.set_threshold(max([first, *_lifelong]), second, third)


def worker() -> None:
    """Say that the process checks sheets until it exits (a pool worker, the language server): the
    threshold `checking()` raises holds from now on, and after start-up if it is not over yet
    (`settled()` then puts back no lower one; `checking()`'s own restore changes nothing).
    """
    if not _lifelong:
        _lifelong.append(CHECKING_THRESHOLD)
    _raise_first_threshold(CHECKING_THRESHOLD)


@contextlib.contextmanager
def checking() -> Iterator[None]:
    """A batch of a book's sheets is checked: the collector runs less often meanwhile (then as before)."""
    if _saved:  # start-up is not over: its threshold holds, and `settled()` puts the usual one back
        yield
        return
    saved = _raise_first_threshold(CHECKING_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _raise_first_threshold(at_least: int) -> tuple[int, int, int]:
    """Collect the youngest generation after at least `at_least` net allocations; the thresholds before."""
    first, second, third = gc.get_threshold()
    gc.set_threshold(max(first, at_least), second, third)
    return first, second, third
