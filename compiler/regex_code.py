"""Regular expressions rebuilt from code kept in the parser cache, not compiled again.

A fresh process that checks one sheet spent about a sixth of its time compiling the
lexer's scanners: each parser state matches one large alternation of the terminals it
accepts, and Python's `re` parses and compiles such a pattern in Python on every run.
`re.compile` ends by handing the compiled code to `_sre.compile`; `record` keeps that
code (with the flags and group names that go with it) in a plain form the parser cache
can hold, and `KeptPatterns` stands in for the `re` module in Lark's lexer
configuration, building a pattern from kept code when it has it and compiling it
otherwise.

Why this is safe: an entry is only recorded after the pattern built from it compared
equal to `re.compile`'s (a `Pattern` compares equal only with the same pattern string,
flags and code) with the same groups and group names; the cache it lives in is keyed by
the Python build (`sys.version`), `_sre.MAGIC` and `CODESIZE` and checked by a hash; and
any failure (another Python's private API, damaged data) falls back to `re.compile`.
"""

from __future__ import annotations

import importlib
import re
import sys
from array import array
from typing import Any

_sre: Any
_compiler: Any
_parser: Any
try:
    _sre, _compiler, _parser = (importlib.import_module(name) for name in ("_sre", "re._compiler", "re._parser"))
except ImportError:  # another implementation of `re`: nothing is kept, everything compiled
    _sre = _compiler = _parser = None

# What a kept pattern depends on besides its text and flags (part of the cache key).
VERSION = f"{sys.version}|{getattr(_sre, 'MAGIC', None)}|{getattr(_sre, 'CODESIZE', None)}".encode()

# flags after parsing, code (as the bytes of an array of code words), groups, group names
Entry = tuple[int, bytes, int, dict[str, int], tuple[str | None, ...]]


def record(pattern: str, flags: int) -> Entry | None:
    """The code `re.compile(pattern, flags)` builds, in plain form; None when it cannot be
    rebuilt exactly on this Python.
    """
    if _sre is None:
        return None
    try:
        parsed = _parser.parse(pattern, flags)
        code = _compiler._code(parsed, flags)
        names = dict(parsed.state.groupdict)
        by_number: list[str | None] = [None] * parsed.state.groups
        for name, number in names.items():
            by_number[number] = name
        entry: Entry = (flags | parsed.state.flags, array("I", code).tobytes(), parsed.state.groups - 1, names,
                        tuple(by_number))
        built = _build(pattern, entry)
        reference = re.compile(pattern, flags)
    except Exception:  # a private API that is not what this module expects: compile as usual
        return None
    same = built == reference and built.groups == reference.groups and built.groupindex == reference.groupindex
    return entry if same else None


def _build(pattern: str, entry: Entry) -> re.Pattern[str]:
    flags, code, groups, names, by_number = entry
    words = array("I")
    words.frombytes(code)
    built: re.Pattern[str] = _sre.compile(pattern, flags, words.tolist(), groups, names, by_number)
    return built


class KeptPatterns:
    """The `re` module as Lark's lexer uses it, with `compile` answered from kept code."""

    def __init__(self, kept: dict[tuple[str, int], Entry]) -> None:
        self.kept = kept

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """The pattern, from its kept code when there is some."""
        entry = self.kept.get((pattern, int(flags)))
        if entry is not None:
            try:
                return _build(pattern, entry)
            except Exception:  # damaged or foreign code: compile it
                self.kept.pop((pattern, int(flags)), None)
        return re.compile(pattern, flags)


class Recorder:
    """The `re` module for a lexer whose scanners are being recorded: compiles and keeps the code."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, int], Entry] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """The pattern, compiled; its code is kept when it can be rebuilt exactly."""
        entry = record(pattern, int(flags))
        if entry is not None:
            self.kept[(pattern, int(flags))] = entry
        return re.compile(pattern, flags)
