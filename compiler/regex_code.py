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

First-character dispatch: a scanner is one alternation `(?P<A>..)|(?P<B>..)|...` that
`_sre` tries alternative by alternative at every token, most of them failing on the very
first character (more than a third of a parse went there). `dispatch_table` works out,
from each alternative's parsed pattern, the characters a match of it can start with
(anything it cannot analyse for certain: any character), and for every character of
`ALPHABET` keeps a smaller alternation: the alternatives that can start with that
character, in the same order, so the first one that matches is the same. The others stay
as empty groups behind a branch that can never match (`FILLER` then `(?!)`), so that every
group keeps its number and a match tells the same terminal (`lastindex`) as the whole
alternation's. `_Dispatch` stands in for the scanner's compiled pattern and matches with
the smaller alternation of the character at the position (the whole one for a character
outside `ALPHABET`). Each smaller alternation is kept and checked like any other pattern.
"""

from __future__ import annotations

import importlib
import re
import sys
from array import array
from collections.abc import Sequence
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
    """The `re` module as Lark's lexer uses it, with `compile` answered from kept code.

    A scanner with a dispatch table (`dispatch_table`) is answered by a `_Dispatch`.
    """

    def __init__(self, kept: dict[tuple[str, int], Entry], dispatch: dict[tuple[str, int], Dispatch] | None = None
                 ) -> None:
        self.kept = kept
        self.dispatch = dispatch or {}

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: str, flags: int = 0) -> Any:
        """The pattern (a `_Dispatch` for a scanner with a dispatch table), from its kept code when there is some."""
        table = self.dispatch.get((pattern, int(flags)))
        if table is not None:
            try:
                return _Dispatch(self, pattern, int(flags), table)
            except Exception:  # a damaged table: the whole alternation
                self.dispatch.pop((pattern, int(flags)), None)
        return self.plain(pattern, flags)

    def plain(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """The compiled pattern itself, from its kept code when there is some."""
        entry = self.kept.get((pattern, int(flags)))
        if entry is not None:
            try:
                return _build(pattern, entry)
            except Exception:  # damaged or foreign code: compile it
                self.kept.pop((pattern, int(flags)), None)
        return re.compile(pattern, flags)


class _Table(dict[str, Any]):
    """A dispatch's pattern for each character, found on first use."""

    __slots__ = ("owner",)

    def __init__(self, owner: _Dispatch) -> None:
        super().__init__()
        self.owner = owner

    def __missing__(self, char: str) -> Any:
        found = self[char] = self.owner.for_char(char)
        return found


class _Dispatch:
    """A scanner's alternation, matched with the smaller alternation of the character at the position.

    Stands in for the compiled pattern where the scanner uses it (`match`, `groupindex`);
    anything else is the whole alternation's.
    """

    __slots__ = ("_built", "_whole", "alphabet", "flags_", "groupindex", "indices", "patterns", "source", "subs",
                 "table")

    def __init__(self, patterns: KeptPatterns, pattern: str, flags: int, table: Dispatch) -> None:
        self.patterns = patterns
        self.source = pattern
        self.flags_ = flags
        self.alphabet, indices, self.subs = table
        self.indices = array("H")
        self.indices.frombytes(indices)
        if len(self.indices) != len(self.alphabet) or max(self.indices, default=0) >= len(self.subs):
            raise ValueError("a damaged dispatch table")
        entry = patterns.kept.get((pattern, flags))
        # the groups are the whole alternation's (Lark reads them once, to name the matches)
        self.groupindex = dict(entry[3]) if entry is not None else self.whole().groupindex
        self._whole: re.Pattern[str] | None = None
        self._built: dict[int, Any] = {}
        self.table = _Table(self)

    def whole(self) -> re.Pattern[str]:
        """The whole alternation."""
        if self._whole is None:
            self._whole = self.patterns.plain(self.source, self.flags_)
        return self._whole

    def for_char(self, char: str) -> Any:
        """The pattern matched at a position holding `char`."""
        index = self.alphabet.find(char) if isinstance(char, str) and len(char) == 1 else -1
        if index < 0:
            return self.whole()
        number = self.indices[index]
        found = self._built.get(number)
        if found is None:
            found = self._built[number] = self.patterns.plain(self.subs[number], self.flags_)
        return found

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """`re.Pattern.match` from `pos`, as the whole alternation would match."""
        if pos >= 0:
            try:
                return self.table[text[pos]].match(text, pos)  # type: ignore[no-any-return]
            except IndexError:  # at the end: nothing to dispatch on
                pass
        return self.whole().match(text, pos)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whole(), name)


class Recorder:
    """The `re` module for a lexer whose scanners are being recorded: compiles and keeps the code."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, int], Entry] = {}
        self.dispatch: dict[tuple[str, int], Dispatch] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """The pattern, compiled; its code is kept when it can be rebuilt exactly."""
        entry = record(pattern, int(flags))
        if entry is not None:
            self.kept[(pattern, int(flags))] = entry
        return re.compile(pattern, flags)

    def record_dispatch(self, alternatives: Sequence[tuple[str, str]], flags: int) -> bool:
        """Keeps the dispatch table of the scanner of `alternatives` (already compiled here) and the
        code of its smaller alternations; False (nothing kept) when any of them cannot be kept.
        """
        pattern = "|".join(f"(?P<{name}>{regexp})" for name, regexp in alternatives)
        whole = self.kept.get((pattern, int(flags)))
        table = dispatch_table(alternatives, int(flags)) if whole is not None else None
        if whole is None or table is None:
            return False
        entries = {}
        for sub in table[2]:
            entry = whole if sub == pattern else record(sub, int(flags))
            # the same groups, numbered the same, as the whole alternation
            if entry is None or (entry[2], entry[3], entry[4]) != (whole[2], whole[3], whole[4]):
                return False
            entries[(sub, int(flags))] = (entry[0], entry[1], whole[2], whole[3], whole[4])  # shared when written
        self.kept.update(entries)
        self.dispatch[(pattern, int(flags))] = table
        return True

# The characters a scanner dispatches on: Latin script, punctuation, and every character a
# terminal names (with its case variants); any other character is matched by the whole alternation.
FILLER = "\uffff"  # starts the branches that hold the groups of absent alternatives; never in ALPHABET

# alphabet, the index of each of its characters' alternation in `subs`, the smaller alternations
Dispatch = tuple[str, bytes, tuple[str, ...]]


class _AnyFirst(Exception):
    """A pattern whose first character cannot be told for certain."""


def _firsts(items: Any, flags: int, out: list[tuple[int, Any]]) -> bool:
    """Adds to `out` the (flags, item) that can match the first character a match of `items`
    consumes; True when `items` can also match without consuming any character.
    """
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY):
            out.append((flags, (op, av)))
            return False
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):  # zero width: they test, they consume nothing
            continue
        if op is c.SUBPATTERN:
            _, add_flags, del_flags, sub = av
            if not _firsts(sub, _compiler._combine_flags(flags, add_flags, del_flags), out):
                return False
        elif op is c.ATOMIC_GROUP:
            if not _firsts(av, flags, out):
                return False
        elif op is c.BRANCH:
            empty = False
            for alternative in av[1]:
                empty = _firsts(alternative, flags, out) or empty
            if not empty:
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _, sub = av
            if not _firsts(sub, flags, out) and low > 0:
                return False
        else:  # back references, conditionals, anything else
            raise _AnyFirst
    return True


def _first_tests(alternative: Any, flags: int) -> list[re.Pattern[str]] | None:
    """One-character patterns, one of which matches the first character of every match of
    `alternative` (a parsed pattern); None when it may start with any character.
    """
    items: list[tuple[int, Any]] = []
    try:
        if _firsts(alternative, flags, items):
            return None  # it can match the empty string: anything goes
    except _AnyFirst:
        return None
    tests = []
    for item_flags, item in items:
        single = _parser.SubPattern(_parser.State(), [item])
        single.state.flags = item_flags
        tests.append(_compiler.compile(single, item_flags))
    return tests


def _alphabet(patterns: Sequence[str]) -> str:
    chars = {chr(code) for code in range(0x250)}
    for char in {char for pattern in patterns for char in pattern}:
        chars.update((char, char.lower(), char.upper(), char.casefold()))
    return "".join(sorted(char for char in chars if len(char) == 1 and char != FILLER))


def dispatch_table(alternatives: Sequence[tuple[str, str]], flags: int) -> Dispatch | None:
    """The smaller alternations of the scanner `|`.join of `(?P<name>regexp)` per alternative
    (see the module's docstring); None when it cannot be analysed.
    """
    if _sre is None or len(alternatives) < 2 or any(FILLER in regexp for _, regexp in alternatives):
        return None
    texts = [f"(?P<{name}>{regexp})" for name, regexp in alternatives]
    try:
        parsed = _parser.parse("|".join(texts), flags)
        op, (_, branches) = parsed.data[0]
        numbers = [branch[0][1][0] for branch in branches]
        if len(parsed.data) != 1 or op.name != "BRANCH" or len(branches) != len(texts) or numbers != [
                parsed.state.groupdict[name] for name, _ in alternatives]:
            return None
        tests = [_first_tests(branch, flags | parsed.state.flags) for branch in branches]
    except Exception:  # a private API that is not what this module expects: no dispatch
        return None
    by_number: list[str | None] = [None] * parsed.state.groups
    for name, number in parsed.state.groupdict.items():
        by_number[number] = name
    # the groups of each alternative (its own and those inside it): numbered one after the other
    ends = [*numbers[1:], parsed.state.groups]
    skeletons = ["".join(f"(?P<{by_number[n]}>)" if by_number[n] else "()" for n in range(start, end))
                 for start, end in zip(numbers, ends, strict=True)]
    alphabet = _alphabet([regexp for _, regexp in alternatives])
    subs: dict[tuple[int, ...], int] = {}
    indices = array("H")
    for char in alphabet:
        members = tuple(i for i, found in enumerate(tests) if found is None or any(t.match(char) for t in found))
        indices.append(subs.setdefault(members, len(subs)))
    order = sorted(subs, key=subs.__getitem__)
    return alphabet, indices.tobytes(), tuple(_smaller(texts, skeletons, set(members)) for members in order)


def _smaller(texts: Sequence[str], skeletons: Sequence[str], members: set[int]) -> str:
    """The alternatives in `members`, the groups of the others in never-matching branches between them."""
    parts: list[str] = []
    absent: list[str] = []
    for index, text in enumerate(texts):
        if index in members:
            if absent:
                parts.append(FILLER + "(?!)" + "".join(absent))
                absent = []
            parts.append(text)
        else:
            absent.append(skeletons[index])
    if absent:
        parts.append(FILLER + "(?!)" + "".join(absent))
    return "|".join(parts)
