"""Source files: reading, encoding and size limits, spans and line lookup.

Everything that can go wrong before parsing (unreadable file, not UTF-8, binary,
too large, indentation that is inconsistent or nested too deeply) is reported here
as a diagnostic, so later stages only ever see well-formed text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from dataclasses import field
from itertools import repeat
from pathlib import Path

from compiler.records import frozen

MAX_BYTES = 1_000_000
MAX_DEPTH = 32


@frozen(slots=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def contains(self, other: Span) -> bool:
        """True when `other` lies inside this span (same file)."""
        if self.file != other.file:
            return False
        start_ok = (self.line, self.column) <= (other.line, other.column)
        end_ok = (other.end_line, other.end_column) <= (self.end_line, self.end_column)
        return start_ok and end_ok


_new = object.__new__
_set_file, _set_line, _set_column, _set_end_line, _set_end_column = (
    getattr(Span, name).__set__ for name in ("file", "line", "column", "end_line", "end_column"))


@frozen(slots=True)
class SourceFile:
    """The decoded text of one protocol file with its line index."""

    path: str
    text: str
    sha256: str
    line_starts: tuple[int, ...] = field(repr=False)

    @classmethod
    def from_text(cls, path: str, text: str, raw: bytes | None = None) -> SourceFile:
        """Build a source file from already decoded text."""
        starts = [0]
        for line in text.split("\n")[:-1]:  # one step per line, not per character
            starts.append(starts[-1] + len(line) + 1)
        digest = hashlib.sha256(raw if raw is not None else text.encode("utf-8")).hexdigest()
        return cls(path=path, text=text, sha256=digest, line_starts=tuple(starts))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column): the inverse of `position`."""
        return self.line_starts[line - 1] + column - 1

    def span(self, start: int, end: int) -> Span:
        """The span covering character offsets [start, end)."""
        # `position` twice, inlined: the builder makes a span for nearly every node
        starts = self.line_starts
        line = bisect_right(starts, start)  # 1-based: starts[line - 1] <= start < starts[line]
        if end < start:
            end = start
        try:
            same_line = line > 0 and end < starts[line]
        except IndexError:  # the last line
            same_line = True
        line_start = starts[line - 1]
        span: Span = _new(Span)  # Span(...) without its __init__ call: the slots set directly
        _set_file(span, self.path)
        _set_line(span, line)
        _set_column(span, start - line_start + 1)
        if same_line:  # most spans lie on one line: no second search
            _set_end_line(span, line)
            _set_end_column(span, end - line_start + 1)
        else:
            end_index = bisect_right(starts, end, line - 1) - 1 if line > 0 else bisect_right(starts, end) - 1
            _set_end_line(span, end_index + 1)
            _set_end_column(span, end - starts[end_index] + 1)
        return span

    def line_span(self, line: int) -> Span:
        """The span of a whole line (without the newline)."""
        text = self.line_text(line)
        indent = len(text) - len(text.lstrip(" "))
        return Span(self.path, line, indent + 1, line, max(len(text), indent) + 1)


@frozen(slots=True)
class SourceProblem:
    """A problem found before parsing: code, message, span, hint."""

    code: str
    message: str
    span: Span
    hint: str


def decode(path: str, raw: bytes, max_bytes: int = MAX_BYTES) -> tuple[SourceFile | None, list[SourceProblem]]:
    """Decode raw bytes as a protocol source, refusing binary, non-UTF-8 and oversized input."""
    whole = Span(path, 1, 1, 1, 1)
    if len(raw) > max_bytes:
        return None, [
            SourceProblem(
                "P003",
                f"file is {len(raw):,} bytes, above the limit of {max_bytes:,} bytes",
                whole,
                "split the protocol into several files, or raise the limit with --max-bytes",
            )
        ]
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        return None, [
            SourceProblem(
                "P002",
                f"binary content: NUL byte at byte offset {offset}",
                whole,
                "a protocol is a UTF-8 text file; check that the right file was given",
            )
        ]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        good = raw[: error.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        return None, [
            SourceProblem(
                "P002",
                f"not valid UTF-8: byte 0x{raw[error.start]:02x} at byte offset {error.start}",
                Span(path, line, column, line, column + 1),
                "save the file as UTF-8 (in Word: Save As, Plain Text, Unicode UTF-8)",
            )
        ]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return SourceFile.from_text(path, text, raw), []


def read_source(path: Path, max_bytes: int = MAX_BYTES) -> tuple[SourceFile | None, list[SourceProblem]]:
    """Read and decode a protocol file from disk (a regular file, at most `max_bytes` read)."""
    from compiler.fsutil import NotRegularFile, TooLarge, describe, read_limited

    shown = str(path)
    whole = Span(shown, 1, 1, 1, 1)
    try:
        raw = read_limited(path, max_bytes)
    except TooLarge:
        return None, [SourceProblem("P003", f"file is larger than the limit of {max_bytes:,} bytes", whole,
                                    "split the protocol into several files, or raise the limit with --max-bytes")]
    except NotRegularFile as error:
        hint = ("a folder that cannot be listed hides its protocols; check its permissions" if error.kind == "a folder"
                else "a protocol must be an ordinary file; replace the link or special file by a copy of the text")
        return None, [SourceProblem("P010", f"cannot read: {error.kind}, not a regular file", whole, hint)]
    except OSError as error:
        what = "folder" if path.is_dir() else "file"
        return None, [SourceProblem("P010", f"cannot read {what}: {describe(error)}", whole,
                                    "check the path and the file permissions")]
    if _links_outside(path):
        return None, [SourceProblem("P010", "cannot read: a symbolic link to a file outside the book", whole,
                                    "a link may lead only to a file below its own folder or the working folder; "
                                    "copy the text into the book instead")]
    return decode(shown, raw, max_bytes)


def _links_outside(path: Path) -> bool:
    """True for a symbolic link whose target lies outside both its own folder and the working folder.

    A sheet committed as a link to /etc/passwd or ~/.ssh/id_rsa would otherwise be quoted
    line by line in diagnostics and in the published validation report.
    """
    if not path.is_symlink():
        return False
    target = path.resolve()
    bounds = (path.parent.resolve(), Path.cwd().resolve())
    return not any(target == bound or bound in target.parents for bound in bounds)


def scan_indentation(source: SourceFile, max_depth: int = MAX_DEPTH) -> list[SourceProblem]:
    """Check indentation before parsing: spaces only, consistent dedents, bounded depth.

    The Indenter post-lexer counts only spaces and tabs and reports inconsistent
    dedents without a position; doing the same bookkeeping here gives every such
    problem a line and a hint, and refuses pathological nesting before the parser
    and the recursive model builder ever see it.
    """
    if _well_indented(source.text, max_depth):
        return []  # most sheets: no line to report, found without walking the lines in Python
    problems: list[SourceProblem] = []
    stack = [0]
    for number, line in enumerate(source.text.split("\n"), start=1):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("//"):
            continue
        indent = len(line) - len(stripped)
        lead = stripped[0]
        if lead in "\t\u00a0\u202f\u2007\u3000":
            problems.append(
                SourceProblem(
                    "P009",
                    "indentation must be spaces; found a tab or a non-breaking space",
                    Span(source.path, number, indent + 1, number, indent + 2),
                    "replace tabs and non-breaking spaces at the start of the line with spaces",
                )
            )
            continue
        if indent > stack[-1]:
            stack.append(indent)
            if len(stack) - 1 > max_depth:
                problems.append(
                    SourceProblem(
                        "P004",
                        f"nesting deeper than the limit of {max_depth} levels",
                        Span(source.path, number, 1, number, indent + 1),
                        "flatten the structure: use sections and subsections instead of deep indentation",
                    )
                )
                return problems
        else:
            while indent < stack[-1]:
                stack.pop()
            if indent != stack[-1]:
                problems.append(
                    SourceProblem(
                        "P001",
                        f"indentation of {indent} spaces does not match any enclosing block",
                        Span(source.path, number, 1, number, indent + 1),
                        f"indent this line by {stack[-1]} spaces, or by the same amount as its siblings",
                    )
                )
                stack.append(indent)
        if stripped.count("(") <= max_depth:
            continue  # the depth never exceeds the number of `(`: no need to walk the line
        depth = 0
        for ch in stripped:
            if ch == "(":
                depth += 1
                if depth > max_depth:
                    problems.append(
                        SourceProblem(
                            "P004",
                            f"parentheses nested deeper than the limit of {max_depth}",
                            Span(source.path, number, indent + 1, number, len(line) + 1),
                            "simplify the condition",
                        )
                    )
                    return problems
            elif ch == ")":
                depth = max(0, depth - 1)
    return problems


# what a line of `scan_indentation` is walked for: a tab or non-breaking space (wherever it stands: its
# mere absence rules P009 out), the indentation of each line that is neither blank nor a comment (each
# line found after its newline: a pattern anchored with `^` is tried at every character)
_LEADS = ("\t", "\u00a0", "\u202f", "\u2007", "\u3000")
_INDENTS = re.compile(r"\n( *)(?!//)[^ \n]")


def _well_indented(text: str, max_depth: int) -> bool:
    """True when `scan_indentation` would find nothing: the same bookkeeping on the indentation
    widths alone (False is not a finding: the lines are walked to find and place it).
    """
    if any(lead in text for lead in _LEADS):
        return False
    if text.count("(") > max_depth and max(map(str.count, text.split("\n"), repeat("("))) > max_depth:
        return False  # a line with that many `(` may nest too deep
    stack = [0]
    top = 0
    for indent in map(len, _INDENTS.findall("\n" + text)):
        if indent == top:
            continue
        if indent > top:
            stack.append(indent)
            if len(stack) > max_depth + 1:
                return False
        else:
            while indent < stack[-1]:
                stack.pop()
            if indent != stack[-1]:
                return False
        top = indent
    return True


_SUSPECT = re.compile(r"[^\t\n\x20-\x7e]")
INVISIBLE_CATEGORIES = ("Cf", "Cc", "Zl", "Zp")
"""Format and control characters, and the line/paragraph separators U+2028/U+2029 (shown as line breaks by some viewers only)."""
"""Anything outside printable ASCII: candidates for an invisible or control character."""

_CHARACTER_NAMES = {"\u200b": "zero-width space", "\ufeff": "byte-order mark (zero-width no-break space)",
                    "\u2060": "word joiner", "\u200e": "left-to-right mark", "\u200f": "right-to-left mark",
                    "\u202e": "right-to-left override", "\u202d": "left-to-right override",
                    "\u00ad": "soft hyphen", "\x1b": "escape"}


def scan_invisible(source: SourceFile) -> list[SourceProblem]:
    """Invisible and control characters (Unicode Cf and Cc, except tab and newline), each at its column.

    Such a character can turn a checked statement into prose (a zero-width space before
    `drug`) or make the printed text differ from what was checked (a bidi override), so
    it is reported where it stands, never removed or ignored.
    """
    problems: list[SourceProblem] = []
    if source.text.replace("\n", " ").isprintable():
        # `isprintable` is False for every character of the categories reported here (Unicode's "Other" and
        # "Separator" classes, the space excepted) and \t: a text it passes holds none, found by one pass in C
        # instead of matching every accented letter of a Dutch text
        return problems
    for match in _SUSPECT.finditer(source.text):  # one pass over the text, not one per line: such characters are rare
        char = match.group(0)
        if unicodedata.category(char) not in INVISIBLE_CATEGORIES:
            continue
        number, column = source.position(match.start())
        name: str = _CHARACTER_NAMES.get(char) or unicodedata.name(char, "") or "control character"
        problems.append(SourceProblem(
            "P011", f"invisible or control character U+{ord(char):04X} ({name.lower()}) at column {column}",
            Span(source.path, number, column, number, column + 1),
            "delete the character (retype the text around it); it can hide a statement from the checks"))
    return problems
