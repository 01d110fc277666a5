"""Regular expressions compiled on first use.

A module that compiles dozens of patterns at import makes every process pay for the ones
only a rare sheet, another language or another command uses (`protocolc check` of one
sheet paid ~10 ms). `lazy(pattern, flags)` stands for `re.compile(pattern, flags)` where
the pattern is rarely needed: the same methods with the same results, the pattern
compiled by the first call. After that call the compiled pattern's own bound methods
sit on the object, so later calls cost what they cost on a compiled pattern.

A lazy pattern is not an `re.Pattern`: call its methods, do not pass it to `re.sub` and
friends (mypy says so).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """`re.compile(pattern, flags)`, compiled when a method (or `flags`, `groups`, …) is first asked for."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self._flags = flags

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (compiled once)."""
        found: re.Pattern[str] | None = self.__dict__.get("_compiled")
        if found is None:
            found = re.compile(self.pattern, self._flags)
            # the compiled pattern's bound methods on the instance: later calls skip `__getattr__`
            self.__dict__.update({name: getattr(found, name) for name in _METHODS}, _compiled=found)
        return found

    if TYPE_CHECKING:
        flags: int
        groups: int
        groupindex: dict[str, int]

        def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
            """`re.Pattern.search`."""

        def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
            """`re.Pattern.match`."""

        def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
            """`re.Pattern.fullmatch`."""

        def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
            """`re.Pattern.finditer`."""

        def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
            """`re.Pattern.findall`."""

        def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
            """`re.Pattern.sub`."""

        def subn(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> tuple[str, int]:
            """`re.Pattern.subn`."""

        def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
            """`re.Pattern.split`."""

    else:

        def __getattr__(self, name: str) -> Any:
            # only asked for what the instance lacks: a method before the first call, or flags, groups, …
            if name.startswith("__") or name == "_compiled":
                raise AttributeError(name)
            return getattr(self.compiled(), name)

    def __repr__(self) -> str:
        return f"lazy({self.pattern!r}, {self._flags})"


def lazy(pattern: str, flags: int = 0) -> LazyPattern:
    """`re.compile(pattern, flags)`, compiled on first use."""
    return LazyPattern(pattern, flags)
