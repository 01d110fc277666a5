"""Conversion between compiler spans and LSP positions.

Compiler spans are 1-based lines and columns counted in code points (Python `str`
indices, i.e. UTF-32 units), end exclusive. LSP positions are 0-based and count
characters in the encoding negotiated at initialisation: UTF-16 unless the client offers
UTF-32 (preferred here: then no conversion is needed) or UTF-8.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from compiler.source import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def split_lines(text: str) -> tuple[str, ...]:
    """The lines of a text as the compiler numbers them (CRLF, CR and LF all end a line)."""
    return tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == UTF8:
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    if encoding == UTF16:
        return 2 if code > 0xFFFF else 1
    return 1


class Positions:
    """Position conversion for one document's lines in one encoding."""

    def __init__(self, lines: Sequence[str], encoding: str = UTF16) -> None:
        self.lines = lines
        self.encoding = encoding if encoding in (UTF8, UTF16, UTF32) else UTF16

    def _line(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    def client_column(self, line: int, column: int) -> int:
        """Code-point column (0-based) → client units."""
        text = self._line(line)
        column = max(0, column)
        if self.encoding == UTF32:
            return column
        prefix = text[:column]
        return sum(_units(ch, self.encoding) for ch in prefix) + max(0, column - len(text))

    def server_column(self, line: int, character: int) -> int:
        """Client units → code-point column (0-based), clamped to the line."""
        text = self._line(line)
        if self.encoding == UTF32:
            return max(0, min(character, len(text)))
        units = 0
        for index, ch in enumerate(text):
            if units >= character:
                return index
            units += _units(ch, self.encoding)
        return len(text)

    def position(self, line: int, column: int) -> types.Position:
        """A 0-based code-point position as an LSP position."""
        line = max(0, line)
        return types.Position(line=line, character=self.client_column(line, column))

    def range(self, line: int, column: int, end_line: int, end_column: int) -> types.Range:
        """0-based code-point coordinates as an LSP range."""
        return types.Range(start=self.position(line, column), end=self.position(end_line, end_column))

    def span_range(self, span: Span) -> types.Range:
        """A compiler span (1-based, end exclusive) as an LSP range."""
        end_line, end_column = span.end_line, span.end_column
        if (end_line, end_column) < (span.line, span.column):
            end_line, end_column = span.line, span.column
        return self.range(span.line - 1, span.column - 1, end_line - 1, end_column - 1)

    def cursor(self, position: types.Position) -> tuple[int, int]:
        """An LSP position as a 0-based (line, code-point column), clamped to the document.

        A client may send a position past the end (or, against the protocol, a negative
        one); it is answered as the nearest position in the text, never with an error.
        """
        line = max(0, min(position.line, len(self.lines) - 1))
        return line, self.server_column(line, max(0, position.character))
