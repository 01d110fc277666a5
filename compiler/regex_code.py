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
(anything it cannot analyse for certain: any character; look-arounds and anchors consume
nothing, so the first character is what comes after them), and for every character of
the alphabet (`alphabet`) keeps a smaller alternation: the alternatives that can start with that
character, in the same order, so the first one that matches is the same. The others stay
as empty groups behind a branch that can never match (`FILLER` then `(?!)`), so that every
group keeps its number and a match tells the same terminal (`lastindex`) as the whole
alternation's. `_Dispatch` stands in for the scanner's compiled pattern and matches with
the smaller alternation of the character at the position (the whole one for a character
outside the alphabet).

The cache keeps only the tables (which alternatives for which character, and each
alternative's place and width): a smaller alternation's code is put together from the
whole one's code when a parse first meets the character (`_Layout.assemble`), and the
table is only recorded after every smaller alternation put together that way compared
equal to `re.compile`'s pattern of its text, with the same groups. Keeping the smaller
alternations' code instead made the cache, which every process reads and hashes, five
times larger.
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
_constants: Any
try:
    _sre, _compiler, _parser, _constants = (importlib.import_module(name) for name in (
        "_sre", "re._compiler", "re._parser", "re._constants"))
except ImportError:  # another implementation of `re`: nothing is kept, everything compiled
    _sre = _compiler = _parser = _constants = None

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


class _Dispatch:
    """A scanner's alternation, matched with the smaller alternation of the character at the position.

    Stands in for the compiled pattern where the scanner uses it (`match`, `groupindex`);
    anything else is the whole alternation's.
    """

    __slots__ = ("_built", "_whole", "alphabet", "entry", "flags_", "groupindex", "indices", "layout", "members",
                 "patterns", "source", "table", "tables")

    def __init__(self, patterns: KeptPatterns, pattern: str, flags: int, table: Dispatch) -> None:
        self.patterns = patterns
        self.source = pattern
        self.flags_ = flags
        self.tables = table
        self.alphabet, indices, self.members, _, _, _ = table
        self.indices = array("B" if len(self.members) < 256 else "H")
        self.indices.frombytes(indices)
        entry = patterns.kept.get((pattern, flags))
        if entry is None or len(self.indices) != len(self.alphabet) or max(self.indices, default=0) >= len(
                self.members):
            raise ValueError("a damaged dispatch table")
        self.entry = entry
        # the groups are the whole alternation's (Lark reads them once, to name the matches)
        self.groupindex = dict(entry[3])
        self._whole: re.Pattern[str] | None = None
        self._built: dict[int, Any] = {}
        self.layout: _Layout | None = None
        self.table: dict[str, Any] = {}  # the pattern for each character met so far (a plain dict: fastest)

    def whole(self) -> re.Pattern[str]:
        """The whole alternation."""
        if self._whole is None:
            self._whole = self.patterns.plain(self.source, self.flags_)
        return self._whole

    def for_char(self, char: str) -> Any:
        """The pattern matched at a position holding `char` (and kept for it in `table`)."""
        index = self.alphabet.find(char) if isinstance(char, str) and len(char) == 1 else -1
        found: Any
        if index < 0:
            found = self.whole()
        else:
            number = self.indices[index]
            found = self._built.get(number)
            if found is None:
                found = self._built[number] = self._smaller(number)
        self.table[char] = found
        return found

    def _smaller(self, number: int) -> Any:
        if self.layout is None:
            self.layout = _Layout(self.source, self.entry, self.tables)
        members = array("H")
        members.frombytes(self.members[number])
        built = self.layout.build(members.tolist())
        return self.whole() if built is None else built

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """`re.Pattern.match` from `pos`, as the whole alternation would match."""
        if pos >= 0:
            try:
                return self.table[text[pos]].match(text, pos)  # type: ignore[no-any-return]
            except KeyError:  # a character met for the first time
                return self.for_char(text[pos]).match(text, pos)  # type: ignore[no-any-return]
            except IndexError:  # at the end: nothing to dispatch on
                pass
        return self.whole().match(text, pos)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whole(), name)


class _Layout:
    """Where each alternative of a scanner is, in its text and in its code; builds its smaller alternations."""

    def __init__(self, pattern: str, entry: Entry, table: Dispatch) -> None:
        c = _constants
        _, _, _, widths, numbers, starts = table
        self.entry = entry
        flat, self.numbers, offsets = array("I"), array("I"), array("I")
        flat.frombytes(widths)
        self.numbers.frombytes(numbers)
        offsets.frombytes(starts)
        self.lows, self.highs = flat[0::2].tolist(), flat[1::2].tolist()
        ends = [start - 1 for start in offsets[1:]] + [len(pattern)]
        self.texts = [pattern[start:end] for start, end in zip(offsets, ends, strict=True)]
        self.words = array("I")
        self.words.frombytes(entry[1])
        self.spans = _bodies(self.words)
        self.bodies: dict[int, list[int]] = {}  # an alternative's code, as a list when first needed
        by_number = entry[4]
        if (len(self.spans) != len(self.texts) or pattern != "|".join(self.texts) or len(self.lows) != len(
                self.texts) or len(self.numbers) != len(self.texts)):
            raise ValueError("a dispatch table that does not fit its scanner")
        self.groups = len(by_number)
        # each group, empty, for the branches that hold the absent alternatives' groups
        self.skeletons = [_SKELETONS.get(name) or _skeleton(name) for name in by_number]
        self.marks = [c.MARK, 0, c.MARK, 1] * self.groups
        self.marks[1::4] = range(-2, 2 * self.groups - 2, 2)
        self.marks[3::4] = range(-1, 2 * self.groups - 1, 2)
        self.filler = [c.LITERAL, ord(FILLER), c.ASSERT_NOT, 3, 0, c.SUCCESS]

    def build(self, members: list[int]) -> re.Pattern[str] | None:
        """The smaller alternation of `members` (None when there is none)."""
        if not members or len(members) == len(self.texts):
            return None
        text, code = self.assemble(members)
        whole_flags, _, groups, names, by_number = self.entry
        built: re.Pattern[str] = _sre.compile(text, whole_flags, code, groups, names, by_number)
        return built

    def assemble(self, members: list[int]) -> tuple[str, list[int]]:
        """The text and the code of the smaller alternation of `members` (indices, ascending): the code
        `re.compile` gives that text (checked for every one when the table was made), put together from
        the whole one's.
        """
        c = _constants
        texts, numbers = self.texts, self.numbers
        parts: list[str] = []
        bodies: list[list[int]] = []
        low, high = (1 << 32) - 1, 0
        after = 0
        for index in [*members, len(texts)]:
            if index > after:  # a branch for the groups of the absent alternatives before it
                first, last = numbers[after], numbers[index] if index < len(texts) else self.groups
                parts.append(FILLER + "(?!)" + "".join(self.skeletons[first:last]))
                bodies.append(self.filler + self.marks[4 * first:4 * last])
                low, high = min(low, 1), max(high, 1)
            if index < len(texts):
                parts.append(texts[index])
                body = self.bodies.get(index)
                if body is None:
                    start, end = self.spans[index]
                    body = self.bodies[index] = self.words[start:end].tolist()
                bodies.append(body)
                low, high = min(low, self.lows[index]), max(high, self.highs[index])
            after = index + 1
        # BRANCH, then each body as `skip body JUMP offset` (to the end of the FAILURE that closes it)
        code = [c.INFO, 4, 0, low, high, c.BRANCH]
        left = sum(map(len, bodies)) + 3 * len(bodies)
        for body in bodies:
            left -= len(body) + 3
            code.append(len(body) + 3)
            code += body
            code += (c.JUMP, left + 2)
        code += (c.FAILURE, c.SUCCESS)
        return "|".join(parts), code


_SKELETONS: dict[str | None, str] = {}


def _skeleton(name: str | None) -> str:
    """A group as it stands for an absent alternative's group: empty, with its name."""
    found = _SKELETONS[name] = f"(?P<{name}>)" if name else "()"
    return found


def _bodies(code: Sequence[int]) -> list[tuple[int, int]]:
    """Where the code of each alternative of a top-level alternation is:
    `INFO .. BRANCH (skip body JUMP x)* FAILURE SUCCESS`.
    """
    c = _constants
    if not code or code[0] != c.INFO:
        raise ValueError("no info block")
    at = 1 + code[1]
    if code[at] != c.BRANCH:
        raise ValueError("not an alternation")
    at += 1
    bodies = []
    while code[at]:
        skip = code[at]
        if code[at + skip - 2] != c.JUMP:
            raise ValueError("not an alternative")
        bodies.append((at + 1, at + skip - 2))
        at += skip
    if len(code) != at + 2 or code[at + 1] != c.SUCCESS:
        raise ValueError("more after the alternation")
    return bodies


class Recorder:
    """The `re` module for a lexer whose scanners are being recorded: compiles and keeps the code."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, int], Entry] = {}
        self.dispatch: dict[tuple[str, int], Dispatch] = {}
        self.starting: dict[tuple[str, int, str], frozenset[str]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: str, flags: int = 0) -> re.Pattern[str]:
        """The pattern, compiled; its code is kept when it can be rebuilt exactly."""
        entry = record(pattern, int(flags))
        if entry is not None:
            self.kept[(pattern, int(flags))] = entry
        return re.compile(pattern, flags)

    def record_dispatch(self, alternatives: Sequence[tuple[str, str]], flags: int, chars: str) -> bool:
        """Keeps the dispatch table of the scanner of `alternatives` (already compiled here) and the
        code of its smaller alternations; False (nothing kept) when any of them cannot be kept.
        """
        pattern = "|".join(f"(?P<{name}>{regexp})" for name, regexp in alternatives)
        whole = self.kept.get((pattern, int(flags)))
        table = dispatch_table(alternatives, int(flags), chars, self.starting) if whole is not None else None
        if whole is None or table is None:
            return False
        try:
            layout = _Layout(pattern, whole, table)
            for packed in table[2]:
                members = array("H")
                members.frombytes(packed)
                if not members or len(members) == len(alternatives):
                    continue  # no smaller alternation: the whole one
                text, _ = layout.assemble(members.tolist())
                built, reference = layout.build(members.tolist()), re.compile(text, int(flags))
                # the very pattern re.compile makes of the text, with the whole alternation's groups
                if built is None or built != reference or (built.groups, built.groupindex) != (
                        reference.groups, reference.groupindex) or reference.groupindex != dict(whole[3]):
                    return False
        except Exception:  # a private API that is not what this module expects: no dispatch
            return False
        # under the very key of the whole alternation's code: the cache holds its text once
        key = next(key for key in self.kept if key == (pattern, int(flags)))
        self.dispatch[key] = table
        return True

# The characters a scanner dispatches on: Latin script, punctuation, and every character a
# terminal names (with its case variants); any other character is matched by the whole alternation.
FILLER = "\uffff"  # starts the branches that hold the groups of absent alternatives; never in the alphabet

# (alphabet, for each of its characters the index of its alternatives in `members` (array "B" or, from
#  256 on, "H", as bytes), members: the alternatives that can start with a character, in order (array "H"),
#  widths: each alternative's (min, max) width, numbers: the number of its group, starts: where it
#  starts in the scanner's text (arrays "I");
#  kept small for the cache, which every process reads)
Dispatch = tuple[str, bytes, tuple[bytes, ...], bytes, bytes, bytes]


class _AnyFirst(Exception):
    """A pattern whose first character cannot be told for certain."""


def _firsts(items: Any, flags: int, out: list[tuple[int, Any]]) -> bool:
    """Adds to `out` the (flags, item) that can match the first character a match of `items`
    consumes; True when `items` can also match without consuming any character.
    """
    c = _constants
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


def alphabet(patterns: Sequence[str]) -> str:
    """The characters to dispatch on for scanners of these terminal patterns."""
    chars = {chr(code) for code in range(0x250)}
    for char in {char for pattern in patterns for char in pattern}:
        chars.update((char, char.lower(), char.upper(), char.casefold()))
    return "".join(sorted(char for char in chars if len(char) == 1 and char != FILLER))


def dispatch_table(alternatives: Sequence[tuple[str, str]], flags: int, chars: str,
                   memo: dict[tuple[str, int, str], frozenset[str]] | None = None) -> Dispatch | None:
    """The dispatch table of the scanner `|`.join of `(?P<name>regexp)` per alternative (see the
    module's docstring); None when it cannot be analysed. `memo` keeps the characters each
    alternative can start with, for the next scanners that have it too.
    """
    memo = {} if memo is None else memo
    if _sre is None or len(alternatives) < 2:
        return None
    texts = [f"(?P<{name}>{regexp})" for name, regexp in alternatives]
    try:
        parsed = _parser.parse("|".join(texts), flags)
        op, (_, branches) = parsed.data[0]
        numbers = tuple(int(branch[0][1][0]) for branch in branches)
        if len(parsed.data) != 1 or op is not _constants.BRANCH or len(branches) != len(texts) or list(numbers) != [
                parsed.state.groupdict[name] for name, _ in alternatives]:
            return None
        starting = []  # the characters of `chars` each alternative can start with
        for text, branch in zip(texts, branches, strict=True):
            key = (text, flags | parsed.state.flags, chars)
            if key not in memo:
                firsts = _first_tests(branch, flags | parsed.state.flags)
                memo[key] = frozenset(char for char in chars if firsts is None or any(t.match(char) for t in firsts))
            starting.append(memo[key])
        maxcode = (1 << (8 * _sre.CODESIZE)) - 1  # the code holds no wider width
        widths = tuple((min(int(low), maxcode), min(int(high), maxcode)) for low, high in (
            branch.getwidth() for branch in branches))
    except Exception:  # a private API that is not what this module expects: no dispatch
        return None
    if FILLER in chars:
        return None
    of_char: dict[str, list[int]] = {char: [] for char in chars}
    for index, first_chars in enumerate(starting):
        for char in first_chars:
            of_char[char].append(index)
    found: dict[tuple[int, ...], int] = {}
    indices = [found.setdefault(tuple(of_char[char]), len(found)) for char in chars]
    members_of = [array("H", members).tobytes() for members in sorted(found, key=found.__getitem__)]
    starts = [0]
    for text in texts[:-1]:
        starts.append(starts[-1] + len(text) + 1)
    return (chars, array("B" if len(found) < 256 else "H", indices).tobytes(), tuple(members_of),
            array("I", [width for pair in widths for width in pair]).tobytes(), array("I", numbers).tobytes(),
            array("I", starts).tobytes())
